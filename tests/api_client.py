"""The HTTP API as the app serves it (build_api, its areas, behind ApiRunner), for tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from ari_app.api.errors import ApiRunner
from ari_app.api.http import HealthState, build_api
from ari_app.api.people import People
from ari_app.bookings.store import BookingStore
from ari_app.calls.arrival import build_dispatcher
from ari_app.calls.desk import FrontDesk
from ari_app.config import load_settings
from ari_app.numbers import Regions
from ari_app.store import CallStore
from ari_app.store.directory import DirectoryStore

EXAMPLE = Path(__file__).resolve().parent.parent / "ari_app" / "examples" / "clinic.toml"
TOKEN = "api-test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NOW = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)

Client = TestClient[web.Request, web.Application]


class ApiTestServer(TestServer):
    """TestServer on the runner the app uses, so the parser's errors are answered as in production."""

    async def _make_runner(self, **kwargs: Any) -> web.AppRunner:
        return ApiRunner(self.app, **kwargs)


def front_desk(deliver: Callable[[str, Any], bool] = lambda _call, _msg: True) -> FrontDesk:
    """The example clinic's front desk; ``deliver`` stands for the switchboard."""
    settings = load_settings(EXAMPLE)
    return FrontDesk(settings, build_dispatcher(settings), lambda: NOW, deliver)


def on_call(desk: FrontDesk, admin: str, call_id: str) -> None:
    """``admin`` talking on ``call_id``, as the desk learns it from the call's facts."""
    desk.dispatcher.answered(admin, call_id, NOW)


@asynccontextmanager
async def api_client(
    store: CallStore,
    archive: Path,
    desk: FrontDesk | None = None,
    regions: Regions | None = None,
    bookings_secret: str | None = None,
) -> AsyncIterator[Client]:
    """``regions``: where the directories read numbers (default: the example clinic's);
    ``bookings_secret``: what signs the bookings feed (None: bearer tokens only)."""
    health = lambda: HealthState(True, True, 0, 0)  # noqa: E731
    desk = desk or front_desk()
    people = People(DirectoryStore(store.db), regions or load_settings(EXAMPLE).regions, lambda: NOW)
    app = build_api(
        store, health, CollectorRegistry(), [TOKEN], archive,
        desk=desk, clock=lambda: NOW, people=people, settings=desk.settings,
        bookings=BookingStore(store.db, clock=lambda: NOW), bookings_secret=bookings_secret,
    )  # fmt: skip
    async with TestClient(ApiTestServer(app)) as client:
        yield client


__all__ = ["AUTH", "NOW", "TOKEN", "Client", "api_client", "front_desk", "on_call"]
