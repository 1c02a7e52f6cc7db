"""Links into the clinic's scheduler, for the console's "Save and book", "Cancel" and "Move".

The configuration gives each link as a URL template (``[scheduler]``): the scheduler's own
address with ``{patient_id}``, ``{call_id}`` and ``{booking_id}`` where its page wants them.
A template is checked when the configuration is read (only those names, an https address, or
http to this machine, and the placeholders never in the address's scheme or host); a value is
URL-encoded when it is filled in, so an id cannot change where the link goes.
"""

from __future__ import annotations

import string
from urllib.parse import quote, urlsplit

PLACEHOLDERS = frozenset({"patient_id", "call_id", "booking_id"})
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def template_problem(template: str, allowed: frozenset[str] = PLACEHOLDERS) -> str | None:
    """Why ``template`` cannot be a scheduler link; None when it can."""
    try:
        fields = [(name, spec, conv) for _, name, spec, conv in string.Formatter().parse(template)]
    except ValueError as exc:
        return f"not a URL template: {exc}"
    for name, spec, conv in fields:
        if name is None:
            continue
        if name not in allowed:
            return f"unknown placeholder {{{name}}}: use {', '.join(f'{{{p}}}' for p in sorted(allowed))}"
        if spec or conv:
            return f"placeholder {{{name}}}: no format or conversion (write {{{name}}})"
    one, other = (urlsplit(fill(template, {p: v for p in allowed})) for v in ("a1", "b2"))
    if (one.scheme, one.netloc) != (other.scheme, other.netloc):
        return "placeholders belong in the path or query, not the scheme or host"
    if not one.netloc or one.scheme not in ("https", "http"):
        return "must be an https:// address (http:// only to localhost)"
    if one.scheme == "http" and (one.hostname or "") not in LOCAL_HOSTS:
        return "http:// only to localhost: the link carries a patient's id, so use https://"
    return None


def fill(template: str, values: dict[str, str]) -> str:
    """The link with each placeholder's value URL-encoded (every reserved character escaped)."""
    return template.format_map({name: quote(value, safe="") for name, value in values.items()})
