"""The API over real sockets with a certificate made for the test: HTTPS and HSTS, trusted and
untrusted proxies, credentials in URLs, the websocket Origin check, the security headers on
every answer (errors included); and ``ari-app run`` serving TLS from its configuration."""

from __future__ import annotations

import asyncio
import os
import ssl
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from multidict import CIMultiDict
from prometheus_client import CollectorRegistry

from ari_app.api.errors import ApiRunner
from ari_app.api.hardening import check_origin, origin_checked
from ari_app.api.http import HealthState, build_api
from ari_app.api.security_headers import CONTENT_SECURITY_POLICY, HSTS
from ari_app.api.transport import CLIENT_KEY, SCHEME_KEY, TransportPolicy, networks
from ari_app.simctl import SimProcess
from ari_app.store import CallStore, Database
from ari_app.tls import CertificateFiles, client_context, self_signed, server_context
from tests.integration.conftest import CONFIG, PASSWORD, TOKEN, USER, eventually, free_port

pytestmark = pytest.mark.integration

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def tls(tmp_path: Path) -> CertificateFiles:
    folder = tmp_path / "tls"
    folder.mkdir(mode=0o700)
    return self_signed(folder)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[CallStore]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'calls.db'}")
    await db.migrate()
    yield CallStore(db)
    await db.dispose()


def healthy() -> HealthState:
    return HealthState(ari_connected=True, database_ok=True, tracked_calls=0, pending_facts=0)


async def echo(request: web.Request) -> web.Response:
    """What the transport middleware made of the request (for the session and throttle code)."""
    return web.json_response({"scheme": request[SCHEME_KEY], "client": request[CLIENT_KEY]})


async def boom(_: web.Request) -> web.Response:
    raise RuntimeError("a bug: answered 500 internal_error")


async def socket_echo(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for message in ws:
        await ws.send_str(message.data)
    return ws


async def checked_by_hand(request: web.Request) -> web.StreamResponse:
    check_origin(request, {"https://console.example"})  # a route that names its own origins
    return await socket_echo(request)


@asynccontextmanager
async def serving(
    store: CallStore, tmp_path: Path, transport: TransportPolicy, tls: CertificateFiles | None = None
) -> AsyncIterator[str]:
    """The app's API, with a few test routes, on a free port; its base URL."""
    api = build_api(
        store, healthy, CollectorRegistry(), [TOKEN], tmp_path / "recordings", transport=transport
    )
    api.router.add_get("/echo", echo)
    api.router.add_get("/boom", boom)
    api.router.add_get("/socket", origin_checked(socket_echo))
    api.router.add_get("/socket-own-list", checked_by_hand)
    runner = ApiRunner(api, access_log=None)
    await runner.setup()
    context = server_context(tls.cert, tls.key) if tls else None
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context).start()
    port = runner.addresses[0][1]
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def session(tls: CertificateFiles | None = None) -> aiohttp.ClientSession:
    """A client that trusts the test's certificate and no other (verification stays on)."""
    connector = aiohttp.TCPConnector(ssl=client_context(tls.cert) if tls else True)
    return aiohttp.ClientSession(connector=connector)


def assert_security_headers(headers: Mapping[str, str], *, https: bool) -> None:
    assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert headers.get("Strict-Transport-Security") == (HSTS if https else None)


async def get(
    client: aiohttp.ClientSession, url: str, headers: Mapping[str, str] | None = None, method: str = "GET"
) -> tuple[int, Mapping[str, str], Any]:
    async with client.request(method, url, headers=headers, allow_redirects=False) as r:
        body = await r.json() if r.content_type == "application/json" else await r.text()
        return r.status, r.headers, body


async def test_https_answers_carry_hsts_and_the_headers_errors_included(
    store: CallStore, tmp_path: Path, tls: CertificateFiles
) -> None:
    async with serving(store, tmp_path, TransportPolicy(tls=True, require_https=True), tls) as base:
        async with session(tls) as client:
            status, headers, body = await get(client, f"{base}/api/calls", AUTH)
            assert (status, body) == (200, {"calls": [], "next_cursor": None})
            assert_security_headers(headers, https=True)
            assert headers["Cache-Control"] == "no-store"
            for path, auth, want, error in [
                ("/no/such/page", {}, 404, "not_found"),
                ("/api/calls", {}, 401, "unauthenticated"),
                ("/api/calls?from=yesterday", AUTH, 400, "bad_from"),
                ("/boom", {}, 500, "internal_error"),
                ("/healthz", {"X-Long": "x" * 9000}, 400, "bad_request"),  # the parser's refusal
                ("/api/calls/not-an-id", AUTH, 404, "call_not_found"),
            ]:
                status, headers, body = await get(client, base + path, auth)
                assert (status, body["error"]) == (want, error), body
                assert_security_headers(headers, https=True)
                assert headers["Cache-Control"] == "no-store"
            status, headers, _ = await get(client, f"{base}/healthz", method="DELETE")
            assert status == 405
            assert_security_headers(headers, https=True)
            # A client that does not trust the certificate is not let through quietly.
            async with aiohttp.ClientSession() as stranger:
                with pytest.raises(aiohttp.ClientConnectorCertificateError):
                    await get(stranger, f"{base}/healthz")


async def test_plain_http_has_no_hsts_and_an_untrusted_peer_cannot_claim_https(
    store: CallStore, tmp_path: Path
) -> None:
    policy = TransportPolicy(trusted_proxies=networks(["10.0.0.0/8"]))  # loopback is not a proxy here
    async with serving(store, tmp_path, policy) as base, session() as client:
        status, headers, _ = await get(client, f"{base}/api/calls", AUTH)
        assert status == 200
        assert_security_headers(headers, https=False)
        forged = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.9"}
        status, headers, body = await get(client, f"{base}/echo", forged)
        assert body == {"scheme": "http", "client": "127.0.0.1"}
        assert "Strict-Transport-Security" not in headers


async def test_a_trusted_proxy_is_believed_and_plain_http_is_redirected_or_refused(
    store: CallStore, tmp_path: Path
) -> None:
    policy = TransportPolicy(require_https=True, trusted_proxies=networks(["127.0.0.0/8"]))
    async with serving(store, tmp_path, policy) as base, session() as client:
        # TLS ended at the proxy: what it says of the scheme and the client is taken.
        via = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "6.6.6.6, 198.51.100.9"}
        status, headers, body = await get(client, f"{base}/echo", via)
        assert (status, body) == (200, {"scheme": "https", "client": "198.51.100.9"})
        assert_security_headers(headers, https=True)
        # The client's own X-Forwarded-For line, then the proxy's: the proxy's last item counts.
        twice = CIMultiDict(
            [
                ("X-Forwarded-For", "6.6.6.6"),
                ("X-Forwarded-For", "198.51.100.7"),
                ("X-Forwarded-Proto", "https"),
            ]
        )
        status, _, body = await get(client, f"{base}/echo", twice)
        assert body == {"scheme": "https", "client": "198.51.100.7"}
        status, headers, _ = await get(client, f"{base}/api/calls", {**AUTH, **via})
        assert status == 200 and headers["Strict-Transport-Security"] == HSTS
        # The proxy says the browser came over plain HTTP: sent to HTTPS (GET), refused (others).
        plain = {"X-Forwarded-Proto": "http"}
        status, headers, _ = await get(client, f"{base}/api/calls?from=2026-01-01", {**AUTH, **plain})
        host = base.removeprefix("http://").split(":")[0]
        assert (status, headers["Location"]) == (308, f"https://{host}/api/calls?from=2026-01-01")
        assert_security_headers(headers, https=False)
        status, headers, body = await get(client, f"{base}/api/callbacks/x", {**AUTH, **plain}, "POST")
        assert (status, body["error"]) == (403, "https_required")
        assert_security_headers(headers, https=False)
        # A load balancer's probe is answered over plain HTTP.
        status, headers, _ = await get(client, f"{base}/healthz", plain)
        assert status == 200 and "Strict-Transport-Security" not in headers


async def test_a_credential_in_the_url_is_refused_before_any_handler(
    store: CallStore, tmp_path: Path, tls: CertificateFiles
) -> None:
    async with serving(store, tmp_path, TransportPolicy(tls=True, require_https=True), tls) as base:
        async with session(tls) as client:
            for path in [
                "/api/calls?access_token=" + TOKEN,  # the right token, in the wrong place
                "/api/calls?from=2026-01-01&Session=abc",
                "/no/such/page?sid=abc",
                "/healthz?api_key=abc",
            ]:
                status, headers, body = await get(client, base + path)  # no Authorization: not 401
                assert (status, body["error"]) == (400, "credentials_in_url"), path
                assert TOKEN not in body["detail"] and "abc" not in body["detail"]
                assert_security_headers(headers, https=True)
            status, _, body = await get(client, f"{base}/api/calls?token=x", AUTH, "POST")
            assert (status, body["error"]) == (400, "credentials_in_url")


async def test_websocket_origin_is_checked_before_the_upgrade(
    store: CallStore, tmp_path: Path, tls: CertificateFiles
) -> None:
    policy = TransportPolicy(
        tls=True, require_https=True, allowed_origins=frozenset({"https://wall.example"})
    )
    async with serving(store, tmp_path, policy, tls) as base, session(tls) as client:
        port = base.rsplit(":", 1)[1]
        for path, origin in [
            ("/socket", f"https://127.0.0.1:{port}"),  # the app's own page
            ("/socket", "https://wall.example"),  # [http] allowed_origins
            ("/socket-own-list", "https://console.example"),  # the route's own list
        ]:
            async with client.ws_connect(base + path, origin=origin) as ws:
                await ws.send_str("ping")
                assert (await ws.receive(timeout=5)).data == "ping"
        for path, origin in [
            ("/socket", "https://evil.example"),
            ("/socket", f"http://127.0.0.1:{port}"),  # another scheme
            ("/socket", f"https://localhost:{port}"),  # another host name
            ("/socket", None),  # no Origin at all
            ("/socket", "null"),
            ("/socket-own-list", "https://wall.example"),  # not on the route's list
        ]:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await client.ws_connect(base + path, origin=origin)
            assert refused.value.status == 403, (path, origin)
        # The refusal is our JSON, with the headers, and no upgrade.
        status, headers, body = await get(client, f"{base}/socket", {"Origin": "https://evil.example"})
        assert (status, body["error"]) == (403, "bad_origin")
        assert_security_headers(headers, https=True)


# ------------------------------------------------------------------------------- ari-app run
@pytest.fixture
async def sim() -> AsyncIterator[SimProcess]:
    process = await SimProcess.start(username=USER, password=PASSWORD, seed=11)
    yield process
    await process.stop()


def app_env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "ARI_USERNAME": USER,
        "ARI_PASSWORD": PASSWORD,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'data' / 'ari-app.db'}",
        "ARI_APP_API_TOKENS": TOKEN,
    }


async def run_app(
    tmp_path: Path, sim: SimProcess, tls: CertificateFiles
) -> tuple[asyncio.subprocess.Process, int]:
    """``ari-app run`` with ``[http] tls_cert``/``tls_key``, logging at debug level."""
    data_dir = tmp_path / "data"
    data_dir.mkdir(exist_ok=True)
    port = free_port()
    text = CONFIG.format(
        ari_url=sim.ari_url, http_port=port, data_dir=data_dir, ring_timeout=5, calls_extra="", extra=""
    )
    config = tmp_path / "clinic.toml"
    config.write_text(text.replace("[http]\n", f'[http]\ntls_cert = "{tls.cert}"\ntls_key = "{tls.key}"\n'))
    log = (tmp_path / "app.log").open("ab")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ari_app", "run", "--config", str(config), "--log-level", "debug",
        stdout=log, stderr=log, env=app_env(tmp_path),
    )  # fmt: skip
    log.close()
    return proc, port


async def answering(
    proc: asyncio.subprocess.Process, client: aiohttp.ClientSession, base: str, tmp_path: Path
) -> None:
    """Until the app started by ``run_app`` answers its health check over HTTPS."""

    async def health() -> int:
        assert proc.returncode is None, (tmp_path / "app.log").read_text()[-3000:]
        try:
            return (await get(client, f"{base}/healthz"))[0]
        except aiohttp.ClientConnectionError:
            return 0

    await eventually(health, lambda s: s == 200, 20, "the app to answer over HTTPS")


async def stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 15)


async def test_run_serves_https_and_logs_no_credential(
    tmp_path: Path, sim: SimProcess, tls: CertificateFiles
) -> None:
    proc, port = await run_app(tmp_path, sim, tls)
    base = f"https://127.0.0.1:{port}"
    try:
        async with session(tls) as client:
            await answering(proc, client, base, tmp_path)
            status, headers, _ = await get(
                client, f"{base}/api/calls", {**AUTH, "Cookie": "sid=COOKIE-VALUE-1"}
            )
            assert status == 200 and headers["Strict-Transport-Security"] == HSTS
            status, _, body = await get(client, f"{base}/api/calls?access_token=QUERY-VALUE-2", AUTH)
            assert (status, body["error"]) == (400, "credentials_in_url")
        # Plain HTTP on the TLS port gets no answer in the clear.
        async with aiohttp.ClientSession() as plain:
            with pytest.raises(aiohttp.ClientError):
                await get(plain, f"http://127.0.0.1:{port}/healthz")
    finally:
        await stop(proc)
    log = (tmp_path / "app.log").read_text()
    assert '"event": "http_request"' in log and '"path": "/api/calls"' in log  # the access log ran
    for secret in (TOKEN, "COOKIE-VALUE-1", "QUERY-VALUE-2"):
        assert secret not in log


async def test_a_manager_added_by_the_cli_signs_in_over_https_with_a_real_cookie_jar(
    tmp_path: Path, sim: SimProcess, tls: CertificateFiles
) -> None:
    """The whole way a person comes in: ``ari-app users add`` prints a link, the password is set
    through it, the sign-in sets the ``__Host-`` cookie, which a client's jar keeps and sends
    back only over HTTPS (Secure), and the API answers the session."""
    proc, port = await run_app(tmp_path, sim, tls)
    base = f"https://localhost:{port}"  # the certificate's name; a jar keeps no cookie for an IP
    try:
        jar = aiohttp.CookieJar()
        connector = aiohttp.TCPConnector(ssl=client_context(tls.cert))
        async with aiohttp.ClientSession(connector=connector, cookie_jar=jar) as client:
            await answering(proc, client, base, tmp_path)
            added = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "ari_app", "users", "add", "maria", "--role", "manager",
                "--config", str(tmp_path / "clinic.toml"),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=app_env(tmp_path),
            )  # fmt: skip
            out, err = await added.communicate()
            assert added.returncode == 0, err.decode()
            link = next(w for w in out.decode().split() if "/set-password#code=" in w)
            code = link.split("#code=", 1)[1]
            password = "quiet harbour lantern 7"
            status, _, _ = await get(client, f"{base}/api/calls")
            assert status == 401  # no session yet
            async with client.post(f"{base}/set-password", json={"code": code, "password": password}) as r:
                assert r.status == 200, await r.text()
            async with client.post(f"{base}/login", json={"login": "maria", "password": password}) as r:
                assert r.status == 200, await r.text()
                cookie = r.headers["Set-Cookie"]
            for flag in ("__Host-session=", "Secure", "HttpOnly", "SameSite=Strict", "Path=/"):
                assert flag in cookie
            assert "Domain" not in cookie
            status, headers, body = await get(client, f"{base}/api/calls")  # the jar sends it back
            assert (status, headers["Strict-Transport-Security"]) == (200, HSTS) and "calls" in body
    finally:
        await stop(proc)
    log = (tmp_path / "app.log").read_text()
    assert code not in log and password not in log


async def test_run_refuses_a_key_every_user_can_read(
    tmp_path: Path, sim: SimProcess, tls: CertificateFiles
) -> None:
    tls.key.chmod(0o644)
    proc, _ = await run_app(tmp_path, sim, tls)
    try:
        assert await asyncio.wait_for(proc.wait(), 30) == 3
    finally:
        await stop(proc)
    log = (tmp_path / "app.log").read_text()
    assert f"ari-app: cannot start: http.tls_key: {tls.key}: mode 0644 lets every user read" in log
    assert "Traceback" not in log and "BEGIN PRIVATE KEY" not in log


def test_client_context_checks_names_and_keeps_tls_1_2_at_least(tls: CertificateFiles) -> None:
    context = client_context(tls.cert)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    assert server_context(tls.cert, tls.key).minimum_version >= ssl.TLSVersion.TLSv1_2
