"""Start-up against a PBX that is not set up as the configuration expects: the app says what is
wrong and recovers by itself once it is fixed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ari_app.simctl import SimControl, SimProcess
from tests.integration.conftest import CONFIG, PASSWORD, USER, AppProcess, eventually, free_port, start_app

pytestmark = pytest.mark.integration


@pytest.fixture
async def sim() -> AsyncIterator[SimProcess]:
    process = await SimProcess.start(username=USER, password=PASSWORD, seed=11)
    yield process
    await process.stop()


async def _app(
    tmp_path: Path, sim: SimProcess, *, extra: str = "", env: dict[str, str] | None = None, healthy: bool
) -> AppProcess:
    data_dir = tmp_path / "data"
    data_dir.mkdir(exist_ok=True)
    port = free_port()
    config = tmp_path / "clinic.toml"
    text = CONFIG.format(
        ari_url=sim.ari_url, http_port=port, data_dir=data_dir, ring_timeout=5, calls_extra="", extra=extra
    )
    config.write_text(text)
    db_url = f"sqlite+aiosqlite:///{data_dir / 'ari-app.db'}"
    return await start_app(config, data_dir, db_url, port, env, healthy=healthy)


async def test_wrong_ari_password_is_named_in_the_log_and_in_healthz(tmp_path: Path, sim: SimProcess) -> None:
    app = await _app(tmp_path, sim, env={"ARI_PASSWORD": "not-the-password-42"}, healthy=False)
    try:
        status, body = await eventually(
            app.health, lambda h: h[1]["ari"] != "disconnected", 10, "the refusal in /healthz"
        )
        assert status == 503 and body["ari"] == "unauthorized"
        assert body["ari_error"] == (
            "Asterisk refused the ARI username/password (401): check ARI_USERNAME/ARI_PASSWORD and ari.conf"
        )
        log = app.log()
        assert '"event": "ari_credentials_rejected"' in log and "not-the-password-42" not in log
    finally:
        await app.stop()


async def test_healthz_has_no_ari_error_once_connected(tmp_path: Path, sim: SimProcess) -> None:
    app = await _app(tmp_path, sim, healthy=True)
    try:
        status, body = await app.health()
        assert (status, body["ari"], body["ari_error"]) == (200, "connected", None)
    finally:
        await app.stop()


DORA = """
[[admins]]
login = "dora"
name = "Dora"
endpoint = "PJSIP/admin104"
branch = "downtown"
"""


async def test_a_phone_added_to_asterisk_later_is_watched_and_offered_calls(
    tmp_path: Path, sim: SimProcess
) -> None:
    ctl = SimControl(sim.control_url)
    try:
        for name in ("admin101", "admin102", "admin103"):
            await ctl.set_phone(name, "no_answer")
        app = await _app(tmp_path, sim, extra=DORA, healthy=True)
        try:

            async def dora() -> dict[str, Any]:
                status, body = await app.api("/api/admins")
                assert status == 200
                return next(a for a in json.loads(body)["admins"] if a["login"] == "dora")

            # Asterisk has no PJSIP/admin104 yet (422): offline once the presence app has read
            # the endpoints (the call-control app may be connected a moment before it).
            await eventually(dora, lambda a: a["state"] == "offline", 10, "dora's phone to be offline")
            await ctl.set_phone("admin104", "answer")  # the PBX engineer adds the phone
            await eventually(dora, lambda a: a["state"] == "available", 15, "dora's phone to be watched")
            requests = await ctl.requests()
            subscribes = [
                r["status"]
                for r in requests
                if r["path"] == "/ari/applications/clinic-presence/subscription"
                and r["query"].get("eventSource") == "endpoint:PJSIP/admin104"
            ]
            assert subscribes[0] == 422 and subscribes[-1] == 200
            assert any(r["path"] == "/ari/endpoints/PJSIP/admin104" for r in requests)
        finally:
            await app.stop()
    finally:
        await ctl.close()
