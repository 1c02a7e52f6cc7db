"""The API's areas and their policies: each sub-app asks what its area needs; /metrics may ask
no token, and may be served on an address of its own; errors stay JSON whatever the area."""

from __future__ import annotations

import copy
from pathlib import Path

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from ari_app.app import CallCenterApp
from ari_app.config import Secrets, Settings, parse_settings
from tests.conftest import MINIMAL_SETTINGS

TOKEN = "areas-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _settings(**http: object) -> Settings:
    data = copy.deepcopy(MINIMAL_SETTINGS)
    data["ari"] = {**data.get("ari", {}), "url": "http://127.0.0.1:1/ari"}  # no Asterisk
    data["http"] = {"host": "127.0.0.1", "port": 0, **http}
    data["fastagi"] = {"enabled": False}
    return parse_settings(data, "test")


async def _get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{port}{path}", headers=headers) as r:
        return r.status, r.headers.get("Content-Type", ""), await r.text()


@pytest.mark.parametrize(
    ("http", "where"),
    [({}, "api"), ({"metrics_auth": "none"}, "api-open"), ({"metrics_port": 0}, "apart")],
)
async def test_each_area_asks_for_what_it_needs(tmp_path: Path, http: dict[str, object], where: str) -> None:
    settings = _settings(**http)
    data = tmp_path / "data"
    app = CallCenterApp(
        settings, Secrets("u", "p", f"sqlite:///{data / 'db'}", (TOKEN,)), data_dir=data,
        registry=CollectorRegistry(),
    )  # fmt: skip
    await app.start()
    try:
        port = app.http_port or 0
        for path in ("/api/calls", "/api/callbacks", "/api/admins", "/api/queue"):
            status, kind, body = await _get(port, path)
            assert (status, kind) == (401, "application/json; charset=utf-8") and "unauthenticated" in body
            assert (await _get(port, path, AUTH))[0] == 200
        assert (await _get(port, "/healthz"))[0] in (200, 503)  # open, whatever it says
        status, kind, _ = await _get(port, "/nowhere")
        assert (status, kind) == (404, "application/json; charset=utf-8")
        if where == "apart":
            assert app.metrics_port and app.metrics_port != port
            assert (await _get(port, "/metrics", AUTH))[0] == 404  # not on the API's address
            assert (await _get(app.metrics_port, "/metrics"))[0] == 401
            status, _, body = await _get(app.metrics_port, "/metrics", AUTH)
            assert status == 200 and "clinic_calls_started_total" in body
            assert (await _get(app.metrics_port, "/api/calls", AUTH))[0] == 404  # metrics only
        else:
            assert (await _get(port, "/metrics"))[0] == (200 if where == "api-open" else 401)
            assert (await _get(port, "/metrics", AUTH))[0] == 200
    finally:
        await app.stop(drain_timeout=1)


def test_metrics_without_a_token_is_warned_about() -> None:
    assert any(w.startswith("http.metrics_auth: warning") for w in _settings(metrics_auth="none").warnings())
    assert not any("metrics" in w for w in _settings().warnings())
