"""The control API: the world's phones and callers, faults, and what the simulator saw."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ari_app.ari import models as m
from ari_app.pbxsim.state import Phone, PhoneScript, SimError

if TYPE_CHECKING:
    from ari_app.pbxsim.server import PbxSim

BEHAVIOURS = {"answer", "no_answer", "busy", "offline", "random"}
CALL_BEHAVIOURS = BEHAVIOURS - {"offline", "random"}  # registration is the phone's, not a call's


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.body_exists:
        return {}
    data = await request.json()
    if not isinstance(data, dict):
        raise SimError(400, "body must be a JSON object")
    return data


def _seconds(data: dict[str, Any], key: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise SimError(400, f"{key}: must be a number of seconds >= 0")
    return float(value)


def _text(data: dict[str, Any], key: str, default: str) -> str:
    value = data.get(key, default)
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise SimError(400, f"{key}: must be a string")
    return str(value)


class ControlRoutes:
    def __init__(self, sim: PbxSim) -> None:
        self.sim = sim
        self.pbx = sim.pbx

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/control/phones", self.phones),
            web.put("/control/phones/{name}", self.set_phone),
            web.delete("/control/phones/{name}", self.delete_phone),
            web.post("/control/phones/{name}/hangup", self.phone_hangup),
            web.post("/control/phones/{name}/refer", self.phone_refer),
            web.get("/control/transfers", self.transfers),
            web.get("/control/calls", self.calls),
            web.post("/control/calls", self.place_call),
            web.post("/control/calls/{call_id}/hangup", self.caller_hangup),
            web.post("/control/calls/{call_id}/dtmf", self.dtmf),
            web.get("/control/state", self.state),
            web.get("/control/requests", self.requests),
            web.delete("/control/requests", self.clear_requests),
            web.get("/control/events", self.events),
            web.delete("/control/events", self.clear_events),
            web.post("/control/faults", self.faults),
        ]

    # ------------------------------------------------------------------ phones
    async def phones(self, _: web.Request) -> web.Response:
        return web.json_response({"phones": [p.to_json() for p in self.pbx.phones.values()]})

    async def set_phone(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        data = await _body(request)
        existing = self.pbx.phones.get(name)
        phone = existing or Phone(name, caller_name=name, caller_number=name)
        was_registered = phone.registered
        behaviour = data.get("behaviour")
        if behaviour is not None and behaviour not in BEHAVIOURS:
            raise SimError(400, f"behaviour: one of {sorted(BEHAVIOURS)}")
        registered = data.get("registered")
        if registered is not None and not isinstance(registered, bool):
            raise SimError(400, "registered: must be true or false")
        if behaviour == "offline":
            if registered:
                raise SimError(400, 'registered: true contradicts behaviour "offline"')
            registered = False
        elif behaviour is not None:
            phone.online_behaviour = behaviour
            registered = True if registered is None else registered  # as before: it is back online
        if registered is None:
            registered = was_registered
        phone.behaviour = phone.online_behaviour if registered else "offline"
        if "answer_after" in data:
            phone.answer_after = _seconds(data, "answer_after") or 0.0
        if "hangup_after" in data:
            phone.hangup_after = _seconds(data, "hangup_after")
        phone.caller_name = _text(data, "caller_name", phone.caller_name)
        phone.caller_number = _text(data, "caller_number", phone.caller_number)
        phone.context = _text(data, "context", phone.context)
        allow = data.get("allow_transfer", phone.allow_transfer)
        if not isinstance(allow, bool):
            raise SimError(400, "allow_transfer: must be true or false")
        phone.allow_transfer = allow
        if "bye_after_refer" in data:
            phone.bye_after_refer = _seconds(data, "bye_after_refer") or 0.0
        self.pbx.phones[name] = phone
        self.pbx.phone_updated(phone, created=existing is None, was_registered=was_registered)
        return web.json_response(phone.to_json())

    async def delete_phone(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if self.pbx.phones.pop(name, None) is None:
            raise SimError(404, "no such phone")
        self.pbx.phone_removed(name)
        return web.json_response({"ok": True})

    async def phone_hangup(self, request: web.Request) -> web.Response:
        return web.json_response({"ended": self.pbx.phone_hangup(request.match_info["name"])})

    async def phone_refer(self, request: web.Request) -> web.Response:
        data = await _body(request)
        to = _text(data, "to", "")
        if not to:
            raise SimError(400, "to: the Refer-To user part (an extension) is required")
        transfer = self.pbx.refer(request.match_info["name"], to)
        return web.json_response(transfer.to_json())

    async def transfers(self, _: web.Request) -> web.Response:
        return web.json_response({"transfers": [t.to_json() for t in self.pbx.transfers.values()]})

    # ------------------------------------------------------------------ callers
    async def place_call(self, request: web.Request) -> web.Response:
        data = await _body(request)
        if "caller" not in data or "did" not in data:
            raise SimError(400, "caller and did are required")
        scripts, press = _phone_scripts(data.get("phones")), _press(data.get("press"))
        talk, abandon = _seconds(data, "hangup_after"), _seconds(data, "abandon_after")
        abandon_on_answer = _seconds(data, "abandon_on_answer")
        call = self.pbx.new_inbound(
            caller=_text(data, "caller", ""), caller_name=_text(data, "caller_name", ""),
            did=_text(data, "did", ""), app=_text(data, "app", "clinic"),
            context=_text(data, "context", "from-trunk"),
        )  # fmt: skip
        if call.ended_at is None:
            # Read as the call goes on: a [fallback] call's Dial() comes a moment after this.
            call.phone_scripts, call.press, call.abandon_on_answer = scripts, press, abandon_on_answer
            if talk is not None:
                self.pbx.talk_limits[call.call_id] = talk
            if abandon is not None:
                self.pbx.abandon_call(call, abandon)
        result = "fallback" if call.fallback else call.caller_result
        body = {"call_id": call.call_id, "channel_id": call.channel_id, "result": result}
        return web.json_response(body, status=201)

    async def caller_hangup(self, request: web.Request) -> web.Response:
        self.pbx.caller_hangup(request.match_info["call_id"])
        return web.json_response({"ok": True})

    async def dtmf(self, request: web.Request) -> web.Response:
        data = await _body(request)
        digits = _text(data, "digit", _text(data, "digits", ""))
        if not digits or not re.fullmatch(r"[0-9A-D*#]+", digits):
            raise SimError(400, "digit: one or more of 0-9 A-D * #")
        self.pbx.send_dtmf(request.match_info["call_id"], digits)
        return web.json_response({"ok": True})

    async def calls(self, _: web.Request) -> web.Response:
        return web.json_response({"calls": [c.to_json() for c in self.pbx.calls.values()]})

    # ------------------------------------------------------------------ what the simulator saw
    async def state(self, _: web.Request) -> web.Response:
        pbx = self.pbx
        return web.json_response(
            {
                "channels": [m.to_builtins(c.snap()) for c in pbx.channels.values()],
                "bridges": [m.to_builtins(b.snap()) for b in pbx.bridges.values()],
                "playbacks": [m.to_builtins(p.snap()) for p in pbx.playbacks.values()],
                "live_recordings": sorted(pbx.live),
                "stored_recordings": [name for name, _ in pbx.files.names()],
                "apps_connected": sorted(pbx.sinks),
                "apps": pbx.app_names(),
            }
        )

    async def requests(self, _: web.Request) -> web.Response:
        return web.json_response({"requests": self.sim.requests})

    async def clear_requests(self, _: web.Request) -> web.Response:
        self.sim.requests.clear()
        return web.json_response({"ok": True})

    async def events(self, request: web.Request) -> web.Response:
        app = request.query.get("app")
        events = [e for e in self.pbx.event_log if app is None or e["app"] == app]
        return web.json_response({"events": events})

    async def clear_events(self, _: web.Request) -> web.Response:
        self.pbx.event_log.clear()
        return web.json_response({"ok": True})

    # ------------------------------------------------------------------ faults
    async def faults(self, request: web.Request) -> web.Response:
        data = await _body(request)
        sim, pbx = self.sim, self.pbx
        drop = data.get("drop_websocket")
        if drop:
            sim.hub.refuse_until = time.monotonic() + (_seconds(data, "away_for") or 0.0)
            await sim.hub.drop(drop if isinstance(drop, str) else None)
        if "lose_events" in data:
            spec = data["lose_events"]
            if not isinstance(spec, dict):
                raise SimError(400, "lose_events: {for: seconds, types?: [event type, ...]}")
            pbx.lose_until = time.monotonic() + (_seconds(spec, "for") or 0.0)
            types = spec.get("types")
            pbx.lose_types = frozenset(str(t) for t in types) if isinstance(types, list) else None
        if data.get("restart"):
            await sim.restart(_seconds(data, "down_for") or 0.0)
        if "answer_delay" in data:
            sim.faults.answer_delay = _seconds(data, "answer_delay") or 0.0
        if "stasis_start_delay" in data:
            pbx.stasis_start_delay = _seconds(data, "stasis_start_delay") or 0.0
        if "join_delay" in data:
            pbx.join_delay = _seconds(data, "join_delay") or 0.0
        if "malformed_frames" in data:
            pbx.garbage_frames = int(data["malformed_frames"])
        if "send_frames" in data:
            sim.hub.send_raw([str(f).encode() for f in data["send_frames"]])
        if data.get("torn_cdr"):
            if pbx.cdr is None:
                raise SimError(409, "torn_cdr: no CDR file (start with --asterisk-config and --cdr-dir)")
            pbx.cdr.torn = True
        if "drop_websocket_on" in data:
            spec = data["drop_websocket_on"]
            path_regex = _reject_rule(spec, "drop_websocket_on")["path_regex"]
            method = spec.get("method")
            sim.faults.cut_on = {"path_regex": path_regex, "method": str(method).upper() if method else None,
                                 "away_for": _seconds(spec, "away_for") or 0.0}  # fmt: skip
        if "reject" in data:
            rules = data["reject"] if isinstance(data["reject"], list) else [data["reject"]]
            sim.faults.reject.extend(_reject_rule(rule) for rule in rules)
        return web.json_response({"ok": True})


def _phone_scripts(value: Any) -> dict[str, PhoneScript]:
    """``{"admin101": {"behaviour": "answer", "answer_after": 1.5, "hangup_after": 4}, ...}``."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SimError(400, "phones: {phone name: {behaviour, answer_after?, hangup_after?}}")
    scripts = {}
    for name, spec in value.items():
        if not isinstance(spec, dict) or spec.get("behaviour") not in CALL_BEHAVIOURS:
            raise SimError(400, f"phones.{name}.behaviour: one of {sorted(CALL_BEHAVIOURS)}")
        answer_after = _seconds(spec, "answer_after")
        scripts[str(name)] = PhoneScript(
            spec["behaviour"], 1.0 if answer_after is None else answer_after, _seconds(spec, "hangup_after")
        )
    return scripts


def _press(value: Any) -> tuple[str, float] | None:
    """``{"digits": "2", "after": 1.5}``: keys the caller presses that long after being answered."""
    if value is None:
        return None
    digits = value.get("digits") if isinstance(value, dict) else None
    if not isinstance(digits, str) or not re.fullmatch(r"[0-9A-D*#]+", digits):
        raise SimError(400, "press.digits: one or more of 0-9 A-D * #")
    return digits, _seconds(value, "after") or 0.0


def _reject_rule(rule: Any, what: str = "reject") -> dict[str, Any]:
    if not isinstance(rule, dict) or not isinstance(rule.get("path_regex"), str):
        raise SimError(400, f"{what}: {{path_regex, ...}}")
    try:
        re.compile(rule["path_regex"])
    except re.error as exc:
        raise SimError(400, f"{what}: path_regex: {exc}") from None
    status = int(rule.get("status", 500))
    default = {500: "Internal Server Error", 503: "Service Unavailable"}.get(status, "Injected failure")
    return {"path_regex": rule["path_regex"], "status": status, "count": int(rule.get("count", 1)),
            "message": str(rule.get("message", default))}  # fmt: skip
