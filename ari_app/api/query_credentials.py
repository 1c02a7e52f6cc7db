"""Credentials have no place in a URL: URLs end up in browser history, proxy and server logs
and Referer headers. Which query parameter names say they carry one (pure; used to refuse such
requests and to keep such values out of every log line)."""

from __future__ import annotations

import re
from collections.abc import Iterable

# Matched on the name lower-cased with "-" read as "_": parts of a name (access_token, x_api_key,
# PHPSESSID, new_password) or whole words between underscores (sid, auth, jwt).
_PARTS = ("token", "passw", "secret", "session", "sessid", "apikey", "api_key", "access_key", "credential")
_WORDS = re.compile(r"(^|_)(sid|auth|authorization|jwt|bearer|csrf|xsrf)($|_)")


def is_credential_name(name: str) -> bool:
    low = name.strip().lower().replace("-", "_")
    return any(part in low for part in _PARTS) or bool(_WORDS.search(low))


def credential_params(names: Iterable[str]) -> list[str]:
    """The query parameters among ``names`` that look like credentials, each once, in order."""
    return list(dict.fromkeys(n for n in names if is_credential_name(n)))


def scrub_query(text: str) -> str:
    """``text`` (a URL, a path with its query, a request line) with the value of every
    credential-named query parameter replaced by ``***``."""
    head, sep, query = text.partition("?")
    if not sep:
        return text
    query, space, tail = query.partition(" ")  # a request line: "GET /x?a=1 HTTP/1.1"
    pairs = []
    for pair in query.split("&"):
        name, eq, _ = pair.partition("=")
        pairs.append(f"{name}=***" if eq and is_credential_name(name) else pair)
    return f"{head}?{'&'.join(pairs)}{space}{tail}"
