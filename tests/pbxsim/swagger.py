"""A validator over Asterisk's Swagger 1.1 api-docs: models, operations, declared status codes."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4}$")
# Codes Asterisk's HTTP layer gives to any operation: missing/invalid parameters, auth, failures.
GENERIC_CODES = {400, 401, 500, 503}


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
                    self.operations.append(
                        Operation(
                            op["httpMethod"],
                            template,
                            re.compile(regex),
                            op.get("responseClass", "void"),
                            codes,
                        )
                    )

    def properties(self, model: str) -> dict[str, dict[str, Any]]:
        props: dict[str, dict[str, Any]] = {}
        chain = [model]
        while chain[-1] in self.parents:
            chain.append(self.parents[chain[-1]])
        for name in reversed(chain):
            props.update(self.models[name].get("properties", {}))
        return props

    def operation(self, method: str, path: str) -> Operation | None:
        # Literal segments win over {param} ones (e.g. /channels/create vs /channels/{id}).
        found = [op for op in self.operations if op.method == method and op.pattern.match(path)]
        found.sort(key=lambda op: op.template.count("{"))
        return found[0] if found else None

    def check_value(self, value: Any, typ: str, where: str) -> list[str]:
        if typ.startswith("List[") and typ.endswith("]"):
            if not isinstance(value, list):
                return [f"{where}: expected list, got {type(value).__name__}"]
            errs: list[str] = []
            for i, item in enumerate(value):
                errs += self.check_value(item, typ[5:-1], f"{where}[{i}]")
            return errs
        simple = {
            "string": lambda v: isinstance(v, str),
            "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "long": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "double": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
            "boolean": lambda v: isinstance(v, bool),
            "object": lambda v: isinstance(v, dict),
            "Date": lambda v: isinstance(v, str) and bool(_DATE.match(v)),
        }
        if typ in simple:
            return [] if simple[typ](value) else [f"{where}: {value!r} is not {typ}"]
        if typ in self.models:
            return self.check_model(value, typ, where)
        return [f"{where}: unknown type {typ}"]

    def check_model(self, value: Any, model: str, where: str = "$") -> list[str]:
        if not isinstance(value, dict):
            return [f"{where}: expected {model} object"]
        props = self.properties(model)
        errs = [f"{where}.{k}: not declared in {model}" for k in value if k not in props]
        for key, spec in props.items():
            if key not in value:
                if spec.get("required"):
                    errs.append(f"{where}.{key}: required by {model}, missing")
                continue
            errs += self.check_value(value[key], spec["type"], f"{where}.{key}")
        return errs

    def check_event(self, event: dict[str, Any]) -> list[str]:
        typ = event.get("type")
        if typ not in self.models or self.parents.get(typ) != "Event":
            return [f"event type {typ!r} is not an Event in api-docs"]
        return self.check_model(event, str(typ), typ or "$")

    def check_response(self, method: str, path: str, status: int, body: Any) -> list[str]:
        op = self.operation(method, path)
        if op is None:
            return [f"{method} {path}: no such operation in api-docs"]
        where = f"{method} {op.template} -> {status}"
        if status >= 400:
            if status in op.error_codes or status in GENERIC_CODES:
                return []
            return [f"{where}: status not declared (declared: {sorted(op.error_codes)})"]
        if op.response_class == "void":
            return [] if status == 204 or body in (None, "") else [f"{where}: void operation returned a body"]
        if status == 204:
            return [f"{where}: {op.response_class} expected, got no body"]
        if op.response_class == "binary":
            return []
        return self.check_value(body, op.response_class, where)
