"""The control API: the world's phones and callers, faults, and what the simulator saw."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from ari_app.pbxsim.state import Phone, SimError

if TYPE_CHECKING:
    from ari_app.pbxsim.server import PbxSim

BEHAVIOURS = {"answer", "no_answer", "busy", "offline"}


async def _json_body(request: web.Request) -> dict[str, Any]:
    if not request.body_exists:
        return {}
    data = await request.json()
    if not isinstance(data, dict):
        raise SimError(400, "body must be a JSON object")
    return data


def _num(data: dict[str, Any], key: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, (int, float)) or value < 0:
        raise SimError(400, f"{key}: must be a number of seconds >= 0")
    return float(value)


def build_control(sim: PbxSim) -> list[web.RouteDef]:
    r = web.RouteTableDef()
    pbx = sim.pbx

    @r.put("/control/phones/{name}")
    async def set_phone(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        data = await _json_body(request)
        behaviour = data.get("behaviour", "no_answer")
        if behaviour not in BEHAVIOURS:
            raise SimError(400, f"behaviour: one of {sorted(BEHAVIOURS)}")
        phone = pbx.phones.get(name) or Phone(name, caller_name=name, caller_number=name)
        phone.behaviour = behaviour
        phone.answer_after = _num(data, "answer_after") or phone.answer_after
        phone.hangup_after = _num(data, "hangup_after")
        phone.caller_name = str(data.get("caller_name", phone.caller_name))
        phone.caller_number = str(data.get("caller_number", phone.caller_number))
        pbx.phones[name] = phone
        return web.json_response(phone.to_json())

    @r.get("/control/phones")
    async def phones(_: web.Request) -> web.Response:
        return web.json_response({"phones": [p.to_json() for p in pbx.phones.values()]})

    @r.post("/control/phones/{name}/hangup")
    async def phone_hangup(request: web.Request) -> web.Response:
        return web.json_response({"ended": pbx.phone_hangup(request.match_info["name"])})

    @r.post("/control/calls")
    async def place_call(request: web.Request) -> web.Response:
        data = await _json_body(request)
        caller, did = str(data["caller"]), str(data["did"])
        call = pbx.new_inbound(
            caller=caller,
            caller_name=str(data.get("caller_name", "")),
            did=did,
            app=str(data.get("app", "clinic")),
        )
        ch = pbx.channels.get(call.channel_id or "")
        if ch is not None:
            talk = _num(data, "hangup_after")
            if talk is not None:
                pbx.talk_limits[call.call_id] = talk
            pbx.schedule_caller(ch, _num(data, "abandon_after"))
        return web.json_response(
            {"call_id": call.call_id, "channel_id": call.channel_id, "result": call.caller_result}, status=201
        )

    @r.post("/control/calls/{call_id}/hangup")
    async def caller_hangup(request: web.Request) -> web.Response:
        pbx.caller_hangup(request.match_info["call_id"])
        return web.json_response({"ok": True})

    @r.get("/control/calls")
    async def calls(_: web.Request) -> web.Response:
        return web.json_response({"calls": [c.to_json() for c in pbx.calls.values()]})

    @r.get("/control/state")
    async def state(_: web.Request) -> web.Response:
        from ari_app.ari import models as m

        return web.json_response(
            {
                "channels": [m.to_builtins(c.snap()) for c in pbx.channels.values()],
                "bridges": [m.to_builtins(b.snap()) for b in pbx.bridges.values()],
                "live_recordings": sorted(pbx.live),
                "stored_recordings": sorted(pbx.stored),
                "apps_connected": sorted(pbx.sinks),
            }
        )

    @r.get("/control/requests")
    async def requests(_: web.Request) -> web.Response:
        return web.json_response({"requests": sim.requests})

    @r.delete("/control/requests")
    async def clear_requests(_: web.Request) -> web.Response:
        sim.requests.clear()
        return web.json_response({"ok": True})

    @r.get("/control/events")
    async def events(_: web.Request) -> web.Response:
        return web.json_response({"events": pbx.event_log})

    @r.post("/control/faults")
    async def faults(request: web.Request) -> web.Response:
        data = await _json_body(request)
        if data.get("drop_websocket"):
            await sim.drop_websockets()
        if data.get("restart"):
            await sim.restart(_num(data, "down_for") or 0.0)
        if "answer_delay" in data:
            sim.faults.answer_delay = _num(data, "answer_delay") or 0.0
        if "stasis_start_delay" in data:
            pbx.stasis_start_delay = _num(data, "stasis_start_delay") or 0.0
        if "malformed_frames" in data:
            pbx.garbage_frames = int(data["malformed_frames"])
        if "send_frames" in data:
            await sim.send_garbage_now([str(f).encode() for f in data["send_frames"]])
        if "reject" in data:
            rule = data["reject"]
            sim.faults.reject.append(
                {"path_regex": str(rule["path_regex"]), "status": int(rule.get("status", 500)),
                 "count": int(rule.get("count", 1))}
            )  # fmt: skip
        return web.json_response({"ok": True})

    return [route for route in r if isinstance(route, web.RouteDef)]
