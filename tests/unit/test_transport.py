"""How a request reached us (pure): the proxies believed, the scheme and client address read from
their headers, origins compared, where a plain-HTTP GET is sent."""

from __future__ import annotations

import pytest

from ari_app.api.hardening import https_redirect
from ari_app.api.transport import (
    RequestView,
    TransportPolicy,
    host_name,
    is_trusted,
    networks,
    normal_origin,
    origin_allowed,
    own_origin,
    request_view,
)
from ari_app.config import HttpSettings

PROXIES = networks(["10.0.0.0/8", "192.0.2.7", "2001:db8:1::/48"])
BEHIND = TransportPolicy(trusted_proxies=PROXIES)


# fmt: off
@pytest.mark.parametrize(("peer", "trusted"), [
    ("10.1.2.3", True),              # inside 10.0.0.0/8
    ("10.255.255.255", True),
    ("11.0.0.1", False),
    ("192.0.2.7", True),             # a single address is a /32
    ("192.0.2.8", False),
    ("::ffff:10.9.9.9", True),       # IPv4 on a dual-stack socket
    ("2001:db8:1:ff::1", True),      # inside 2001:db8:1::/48
    ("2001:db8:2::1", False),
    ("127.0.0.1", False),
    ("", False),
    (None, False),
    ("not-an-address", False),
])
def test_which_peers_are_trusted_proxies(peer: str | None, trusted: bool) -> None:
    assert is_trusted(peer, PROXIES) is trusted


@pytest.mark.parametrize(("peer", "tls", "headers", "view"), [
    # Nobody's forwarded headers count unless the peer is a trusted proxy.
    ("203.0.113.5", False, {}, RequestView("http", "203.0.113.5", False)),
    ("203.0.113.5", True, {}, RequestView("https", "203.0.113.5", False)),
    ("203.0.113.5", False, {"X-Forwarded-Proto": "https", "X-Forwarded-For": "1.2.3.4"},
     RequestView("http", "203.0.113.5", False)),
    ("127.0.0.1", True, {"X-Forwarded-Proto": "http"}, RequestView("https", "127.0.0.1", False)),
    # A trusted proxy: its scheme and the client it saw.
    ("10.0.0.2", False, {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.9"},
     RequestView("https", "198.51.100.9", True)),
    ("10.0.0.2", False, {"X-Forwarded-Proto": "HTTPS"}, RequestView("https", "10.0.0.2", True)),
    ("10.0.0.2", True, {"X-Forwarded-Proto": "http"}, RequestView("http", "10.0.0.2", True)),
    ("10.0.0.2", False, {"X-Forwarded-Proto": "gopher"}, RequestView("http", "10.0.0.2", True)),
    # A proxy that appends: only the last item is the proxy's; the client wrote the rest.
    ("10.0.0.2", False, {"X-Forwarded-Proto": "https, http"}, RequestView("http", "10.0.0.2", True)),
    ("10.0.0.2", False, {"X-Forwarded-Proto": "http, https"}, RequestView("https", "10.0.0.2", True)),
    # X-Forwarded-For read from the right, through trusted hops only: a forged first item is not taken.
    ("10.0.0.2", False, {"X-Forwarded-For": "6.6.6.6, 198.51.100.9"}, RequestView("http", "198.51.100.9", True)),
    ("10.0.0.2", False, {"X-Forwarded-For": "198.51.100.9, 10.0.0.3"}, RequestView("http", "198.51.100.9", True)),
    ("10.0.0.2", False, {"X-Forwarded-For": "198.51.100.9, 10.0.0.3, 192.0.2.7"},
     RequestView("http", "198.51.100.9", True)),
    ("10.0.0.2", False, {"X-Forwarded-For": "10.0.0.4"}, RequestView("http", "10.0.0.4", True)),
    ("10.0.0.2", False, {"X-Forwarded-For": "garbage, 198.51.100.9"}, RequestView("http", "198.51.100.9", True)),
    ("10.0.0.2", False, {"X-Forwarded-For": "198.51.100.9, garbage"}, RequestView("http", "10.0.0.2", True)),
    ("10.0.0.2", False, {"X-Forwarded-For": "[2001:db8::5]:4711"}, RequestView("http", "2001:db8::5", True)),
    ("10.0.0.2", False, {"X-Forwarded-For": "198.51.100.9:5060"}, RequestView("http", "198.51.100.9", True)),
    ("::ffff:10.0.0.2", False, {"X-Forwarded-Proto": "https"}, RequestView("https", "10.0.0.2", True)),
])
def test_scheme_and_client_address_as_the_trusted_proxy_says(
    peer: str, tls: bool, headers: dict[str, str], view: RequestView
) -> None:
    assert request_view(peer, tls, headers, BEHIND) == view


@pytest.mark.parametrize(("text", "scheme", "origin"), [
    ("https://Clinic.Example", None, "https://clinic.example"),
    ("https://clinic.example:443", None, "https://clinic.example"),
    ("http://clinic.example:80", None, "http://clinic.example"),
    ("https://clinic.example:8443", None, "https://clinic.example:8443"),
    ("https://[2001:DB8::1]:443", None, "https://[2001:db8::1]"),
    ("https://clinic.example/", None, None),           # a path: not an origin
    ("https://user@clinic.example", None, None),
    ("https://clinic.example:99999", None, None),
    ("ftp://clinic.example", None, None),
    ("null", None, None),                              # sandboxed frames, file: pages
    ("", None, None),
    ("clinic.example:8443", "https", "https://clinic.example:8443"),   # a Host header
    ("127.0.0.1:443", "https", "https://127.0.0.1"),
    ("evil.example/x", "https", None),
])
def test_origins_compared_in_one_form(text: str, scheme: str | None, origin: str | None) -> None:
    assert normal_origin(text, scheme) == origin


@pytest.mark.parametrize(("origin", "allowed"), [
    ("https://clinic.example:8443", True),             # the app's own
    ("https://CLINIC.example:8443", True),
    ("http://clinic.example:8443", False),             # another scheme is another origin
    ("https://clinic.example", False),                 # another port too
    ("https://console.example", True),                 # configured
    ("https://console.example:443", True),
    ("https://evil.example", False),
    ("https://clinic.example:8443.evil.example", False),
    ("null", False),
    (None, False),                                     # no Origin: not a browser page of ours
])
def test_websocket_origin_is_ours_or_configured(origin: str | None, allowed: bool) -> None:
    own = own_origin("https", "clinic.example:8443")
    assert origin_allowed(origin, own, {"https://console.example"}) is allowed


@pytest.mark.parametrize(("method", "host", "target"), [
    ("GET", "clinic.example", "https://clinic.example/console?x=1"),
    ("HEAD", "clinic.example:8080", "https://clinic.example/console?x=1"),  # HTTPS's own port
    ("GET", "[2001:db8::1]:8080", "https://[2001:db8::1]/console?x=1"),
    ("POST", "clinic.example", None),                  # refused: its body went in the clear
    ("DELETE", "clinic.example", None),
    ("GET", "evil.example/path", None),                # not a host: refused, never redirected
    ("GET", "", None),
])
def test_plain_http_get_redirected_others_refused(method: str, host: str, target: str | None) -> None:
    assert https_redirect(method, host, "/console?x=1") == target


@pytest.mark.parametrize(("host", "name"), [
    ("clinic.example:8080", "clinic.example"), ("[::1]:8443", "[::1]"), ("a b", None), ("x:port", None),
])
def test_host_name_without_port(host: str, name: str | None) -> None:
    assert host_name(host) == name


@pytest.mark.parametrize(("http", "tls", "required"), [
    ({}, False, False),
    ({"tls_cert": "/c.pem", "tls_key": "/k.pem"}, True, True),          # TLS here: HTTPS by default
    ({"tls_cert": "/c.pem", "tls_key": "/k.pem", "require_https": False}, True, False),
    ({"trusted_proxies": ["10.0.0.0/8"]}, False, False),
    ({"trusted_proxies": ["10.0.0.0/8"], "require_https": True}, False, True),  # TLS at the proxy
])
def test_policy_from_the_http_section(http: dict[str, object], tls: bool, required: bool) -> None:
    policy = TransportPolicy.of(HttpSettings.model_validate({**http, "allowed_origins": ["https://A.example:443"]}))
    assert (policy.tls, policy.require_https) == (tls, required)
    assert policy.allowed_origins == {"https://a.example"}
# fmt: on
