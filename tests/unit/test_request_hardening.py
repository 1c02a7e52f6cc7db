"""The headers every response carries, the query parameters that name a credential, what the
logs keep of URLs and headers, the key file's permissions (pure tables)."""

from __future__ import annotations

import logging
import stat

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from structlog.testing import capture_logs

from ari_app.api.access_log import RedactedAccessLog
from ari_app.api.query_credentials import credential_params, is_credential_name, scrub_query
from ari_app.api.security_headers import CONTENT_SECURITY_POLICY, HSTS, security_headers
from ari_app.logging import redact
from ari_app.tls import key_mode_problem

COMMON = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def test_the_content_security_policy_allows_no_inline_script() -> None:
    directives = dict(d.strip().split(" ", 1) for d in CONTENT_SECURITY_POLICY.split(";"))
    assert directives["script-src"] == "'self'" and directives["default-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'" and directives["base-uri"] == "'none'"
    assert "unsafe" not in CONTENT_SECURITY_POLICY


# fmt: off
@pytest.mark.parametrize(("scheme", "path", "cache_control", "extra"), [
    # HSTS over HTTPS only.
    ("https", "/api/calls", None, {"Strict-Transport-Security": HSTS, "Cache-Control": "no-store"}),
    ("http", "/api/calls", None, {"Cache-Control": "no-store"}),
    # Call data is never cached, whatever a handler said.
    ("https", "/api/calls/abc/recording", "public, max-age=3600",
     {"Strict-Transport-Security": HSTS, "Cache-Control": "no-store"}),
    ("http", "/api", None, {"Cache-Control": "no-store"}),
    # Elsewhere no-store unless the handler chose its caching (a static file).
    ("https", "/console/app.js", "public, max-age=86400", {"Strict-Transport-Security": HSTS}),
    ("https", "/console/", None, {"Strict-Transport-Security": HSTS, "Cache-Control": "no-store"}),
    ("http", "/healthz", None, {"Cache-Control": "no-store"}),
    ("http", "/apiary", "max-age=60", {}),             # not under /api/
])
def test_security_headers(scheme: str, path: str, cache_control: str | None, extra: dict[str, str]) -> None:
    assert security_headers(scheme, path, cache_control) == {**COMMON, **extra}


@pytest.mark.parametrize(("name", "credential"), [
    ("token", True), ("TOKEN", True), ("access_token", True), ("access-token", True), ("id_token", True),
    ("api_key", True), ("apiKey", True), ("X-API-Key", True), ("aws_access_key", True),
    ("session", True), ("session_id", True), ("SessionId", True), ("PHPSESSID", True), ("jsessionid", True),
    ("sid", True), ("SID", True), ("user_sid", True),
    ("password", True), ("passwd", True), ("new_password", True),
    ("secret", True), ("client_secret", True), ("credential", True),
    ("auth", True), ("authorization", True), ("jwt", True), ("csrf", True), ("_xsrf", True),
    # The API's own parameters, and names that merely contain the letters.
    ("from", False), ("until", False), ("branch", False), ("admin", False), ("caller_type", False),
    ("topic", False), ("outcome", False), ("opportunity", False), ("limit", False), ("before", False),
    ("by", False), ("cursor", False), ("sort_key", False), ("side", False), ("inside", False),
    ("author", False), ("considered", False), ("keyword", False),
])
def test_which_query_parameters_name_a_credential(name: str, credential: bool) -> None:
    assert is_credential_name(name) is credential


def test_each_credential_parameter_named_once_in_order() -> None:
    assert credential_params(["from", "Token", "sid", "Token", "limit"]) == ["Token", "sid"]


@pytest.mark.parametrize(("text", "scrubbed"), [
    ("/api/calls?from=2026-01-01&access_token=abc", "/api/calls?from=2026-01-01&access_token=***"),
    ("https://h/x?SID=1&sid=2&branch=a", "https://h/x?SID=***&sid=***&branch=a"),
    ("GET /x?password=hunter2 HTTP/1.1", "GET /x?password=*** HTTP/1.1"),
    ("/x?token", "/x?token"),                          # no value to hide
    ("/no/query", "/no/query"),
    ("is this a question?", "is this a question?"),
])
def test_scrub_query(text: str, scrubbed: str) -> None:
    assert scrub_query(text) == scrubbed


@pytest.mark.parametrize(("mode", "problem"), [
    (0o600, None),
    (0o400, None),
    (0o640, ("mode 0640 lets its group read or change it", False)),     # shared with a group: warned
    (0o620, ("mode 0620 lets its group read or change it", False)),
    (0o644, ("mode 0644 lets every user read or change it; chmod 600 it", True)),  # refused
    (0o602, ("mode 0602 lets every user read or change it; chmod 600 it", True)),
])
def test_key_file_permissions(mode: int, problem: tuple[str, bool] | None) -> None:
    assert key_mode_problem(stat.S_IFREG | mode) == problem
# fmt: on


def test_logs_keep_no_credential_from_urls_or_headers() -> None:
    event = {
        "event": "x",
        "url": "https://h/api/calls?token=abc&from=1",
        "path_qs": "/login?next=%2F&password=hunter2",
        "cookie": "__Host-sid=abc",
        "Authorization": "Bearer abc",
        "session_id": "abc",
        "route": "/api/calls/{call_id}",
    }
    out = redact(None, "", event)
    assert out == {
        "event": "x",
        "url": "https://h/api/calls?token=***&from=1",
        "path_qs": "/login?next=%2F&password=***",
        "cookie": "***",
        "Authorization": "***",
        "session_id": "***",
        "route": "/api/calls/{call_id}",
    }


def test_the_access_log_has_no_query_string_and_no_header() -> None:
    request = make_mocked_request(
        "GET",
        "/api/calls?access_token=QUERYSECRET&from=1",
        headers={"Authorization": "Bearer HEADERSECRET", "Cookie": "sid=COOKIESECRET"},
    )
    logger = logging.getLogger("tests.access")
    logger.setLevel(logging.DEBUG)
    with capture_logs() as logs:
        RedactedAccessLog(logger, "").log(request, web.Response(status=400), 0.0123)
    assert logs == [
        {
            "event": "http_request",
            "log_level": "debug",
            "method": "GET",
            "path": "/api/calls",
            "status": 400,
            "seconds": 0.0123,
            "client": request.remote,
        }
    ]
    logger.setLevel(logging.INFO)
    assert not RedactedAccessLog(logger, "").enabled  # at info level the access log is silent
