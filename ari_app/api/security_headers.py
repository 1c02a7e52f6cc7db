"""The headers every response of the app carries (pure: a table and the rule for the two that
depend on the request). ``ari_app.api.hardening`` puts them on every response it sends."""

from __future__ import annotations

from multidict import CIMultiDict

# No inline script or style anywhere: the console's pages load theirs from files, so an injected
# <script> or on*= attribute does not run.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
HSTS = "max-age=31536000; includeSubDomains"
ALWAYS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
NO_STORE = "no-store"
DATA_PREFIX = "/api/"  # every answer here may carry patient or call data


def security_headers(scheme: str, path: str, cache_control: str | None) -> dict[str, str]:
    """The headers a response gets. HSTS over HTTPS only (browsers ignore it over HTTP, and it
    would pin a name that has no certificate yet). ``no-store`` on every ``/api/`` answer
    whatever the handler said, and elsewhere unless the handler chose its own caching (static
    files may be cached; a page with patient data leaves Cache-Control to this default)."""
    headers = dict(ALWAYS)
    if scheme == "https":
        headers["Strict-Transport-Security"] = HSTS
    if path.startswith(DATA_PREFIX) or path.rstrip("/") == DATA_PREFIX.rstrip("/") or not cache_control:
        headers["Cache-Control"] = NO_STORE
    return headers


def add_security_headers(headers: CIMultiDict[str], scheme: str, path: str) -> None:
    for name, value in security_headers(scheme, path, headers.get("Cache-Control")).items():
        headers[name] = value
