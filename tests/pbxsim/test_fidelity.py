"""Everything the simulator serves and sends, held to Asterisk 22's own api-docs.

Every scenario of this suite is run again here and every event it received and every REST
response it got is validated against the models in ../shared/asterisk-ari-22/api-docs
(required fields, types including nested models, no undeclared fields, allowed values), and
every route, verb and status code the simulator serves must be declared there.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.pbxsim import test_bridges, test_faults, test_media, test_rest, test_scenarios
from tests.pbxsim.harness import SimHarness
from tests.pbxsim.swagger import AriSpec

pytestmark = pytest.mark.shared

Scenario = Callable[[SimHarness], Awaitable[None]]


def _scenarios() -> list[Scenario]:
    found = []
    for module in (test_scenarios, test_bridges, test_media, test_rest, test_faults):
        for name, fn in inspect.getmembers(module, inspect.iscoroutinefunction):
            params = list(inspect.signature(fn).parameters)
            if name.startswith("test_") and params == ["harness"]:
                found.append(fn)
    return found


@pytest.fixture(scope="module")
def spec(shared_ari: Path) -> AriSpec:
    return AriSpec(shared_ari / "api-docs")


def _strip(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if not k.startswith("_")}


@pytest.mark.parametrize("scenario", _scenarios(), ids=lambda f: f.__name__.removeprefix("test_"))
async def test_every_response_and_event_matches_api_docs(
    scenario: Scenario, spec: AriSpec, harness: SimHarness
) -> None:
    await scenario(harness)
    problems: list[str] = []
    for ev in harness.events:
        problems += spec.check_event(_strip(ev))
    for r in harness.rest_log:
        unknown_route = r["status"] in (404, 405) and r["response"] in (
            {"message": "Resource not found"},
            {"message": "Invalid method"},
        )
        if unknown_route:
            continue  # what Asterisk answers for a path or verb it does not have
        problems += spec.check_response(r["method"], r["path"], r["status"], r["response"])
        if r["status"] >= 400 and (not isinstance(r["response"], dict) or set(r["response"]) != {"message"}):
            problems.append(f"{r['method']} {r['path']}: error body {r['response']!r} is not {{'message'}}")
    assert problems == []


def test_every_route_served_is_an_ari_operation(spec: AriSpec, tmp_path: Path) -> None:
    from ari_app.pbxsim.ari_channels import ChannelRoutes
    from ari_app.pbxsim.ari_resources import ResourceRoutes
    from ari_app.pbxsim.dialing import Pbx

    pbx = Pbx(seed=1, recordings_dir=tmp_path)
    routes = [*ChannelRoutes(pbx).routes(), *ResourceRoutes(pbx).routes()]
    assert len(routes) > 40
    for route in routes:
        path = route.path.replace("{name:.+}", "{name}")
        sample = path.replace("{", "x").replace("}", "")  # a concrete path for the template
        op = spec.operation(route.method, sample)
        assert op is not None, f"{route.method} {route.path} is not in api-docs"
    assert spec.operation("GET", "/ari/events") is not None  # the websocket
