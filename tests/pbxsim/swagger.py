"""A validator over Asterisk's Swagger 1.1 api-docs: models, operations, declared status codes."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4}$")
# Codes Asterisk gives to any request whatever its operation declares: 401 (res_ari.c checks
# credentials first), 503 (not fully booted), 500 (allocation failures), and 400 from the
# handlers' own parameter checks (e.g. /channels/create's "Invalid endpoint specified").
GENERIC_CODES = {400, 401, 500, 503}
_SIMPLE: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "long": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "double": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "Date": lambda v: isinstance(v, str) and bool(_DATE.match(v)),
}


@dataclass
class Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    response_class: str
    error_codes: set[int]


class AriSpec:
    def __init__(self, api_docs: Path) -> None:
        self.models: dict[str, dict[str, Any]] = {}
        self.parents: dict[str, str] = {}
        self.operations: list[Operation] = []
        for path in sorted(api_docs.glob("*.json")):
            doc = json.loads(path.read_text())
            for name, model in doc.get("models", {}).items():
                self.models[name] = model
                for sub in model.get("subTypes", []):
                    self.parents[sub] = name
            for api in doc.get("apis", []):
                template = api["path"]
                regex = "^/ari" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
                for op in api["operations"]:
                    codes = {int(e["code"]) for e in op.get("errorResponses", [])}
                    response = op.get("responseClass", "void")
                    self.operations.append(
                        Operation(op["httpMethod"], template, re.compile(regex), response, codes)
                    )

    def properties(self, model: str) -> dict[str, dict[str, Any]]:
        """A model's properties with those it inherits (an Event is a Message too)."""
        chain = [model]
        while chain[-1] in self.parents:
            chain.append(self.parents[chain[-1]])
        props: dict[str, dict[str, Any]] = {}
        for name in reversed(chain):
            props.update(self.models[name].get("properties", {}))
        return props

    def operation(self, method: str, path: str) -> Operation | None:
        # Literal segments win over {param} ones (e.g. /channels/create over /channels/{id}).
        found = [op for op in self.operations if op.method == method and op.pattern.match(path)]
        found.sort(key=lambda op: op.template.count("{"))
        return found[0] if found else None

    def check_value(self, value: Any, typ: str, where: str) -> list[str]:
        if typ.startswith("List[") and typ.endswith("]"):
            if not isinstance(value, list):
                return [f"{where}: expected a list, got {type(value).__name__}"]
            return [
                err
                for i, item in enumerate(value)
                for err in self.check_value(item, typ[5:-1], f"{where}[{i}]")
            ]
        if typ in _SIMPLE:
            return [] if _SIMPLE[typ](value) else [f"{where}: {value!r} is not {typ}"]
        if typ in self.models:
            return self.check_model(value, typ, where)
        return [f"{where}: unknown type {typ}"]

    def check_model(self, value: Any, model: str, where: str = "$") -> list[str]:
        if not isinstance(value, dict):
            return [f"{where}: expected a {model} object"]
        props = self.properties(model)
        errs = [f"{where}.{k}: not declared in {model}" for k in value if k not in props]
        for key, spec in props.items():
            if key in value:
                errs += self.check_value(value[key], spec["type"], f"{where}.{key}")
                allowed = spec.get("allowableValues", {}).get("values")
                if allowed and value[key] not in allowed:
                    errs.append(f"{where}.{key}: {value[key]!r} not one of {allowed}")
            elif spec.get("required"):
                errs.append(f"{where}.{key}: required by {model}, missing")
        return errs

    def check_event(self, event: dict[str, Any]) -> list[str]:
        typ = event.get("type")
        if not isinstance(typ, str) or self.parents.get(typ) != "Event":
            return [f"event type {typ!r} is not an Event in api-docs"]
        return self.check_model(event, typ, typ)

    def check_response(self, method: str, path: str, status: int, body: Any) -> list[str]:
        op = self.operation(method, path)
        if op is None:
            return [f"{method} {path}: no such operation in api-docs"]
        where = f"{method} {op.template} -> {status}"
        if status >= 400:
            if status in op.error_codes or status in GENERIC_CODES:
                return self.check_value(body, "object", where) if body is not None else []
            return [f"{where}: status not declared (declared: {sorted(op.error_codes)})"]
        if op.response_class == "void":
            return (
                []
                if status == 204 and body in (None, "")
                else [f"{where}: a void operation answered {status}"]
            )
        if status == 204:
            return [f"{where}: {op.response_class} expected, got no body"]
        if op.response_class == "binary":
            return []
        return self.check_value(body, op.response_class, where)
