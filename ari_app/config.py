"""Settings: one TOML file (schema v1), validated once at start; secrets come from the environment.

Errors name the file and the key path (``clinic.toml: branches[0].dids[1].number: ...``) so a
PBX engineer can fix the file without reading code.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

SCHEMA_VERSION = 1
_ID = r"^[a-z0-9][a-z0-9_-]{0,62}$"
_ENDPOINT = re.compile(r"^(PJSIP|SIP|IAX2|Local)/[A-Za-z0-9_.@-]+$")


class ConfigError(ValueError):
    """The configuration file is unreadable or invalid; ``problems`` lists each ``key: message``."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__("\n".join(f"{path}: {p}" for p in problems))


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AriSettings(_Section):
    url: str = "http://127.0.0.1:8088/ari"
    app: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")] = "clinic"
    username_env: str = "ARI_USERNAME"
    password_env: str = "ARI_PASSWORD"
    request_timeout: Annotated[float, Field(gt=0, le=60)] = 5.0

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        if not re.match(r"^https?://[^/@\s]+(/\S*)?$", v):
            raise ValueError("must be an http(s) URL without credentials, e.g. http://pbx:8088/ari")
        return v.rstrip("/")


class DatabaseSettings(_Section):
    url: str = "sqlite:///data/ari-app.db"
    url_env: str = "DATABASE_URL"


class HttpSettings(_Section):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8080
    tokens_env: str = "ARI_APP_API_TOKENS"


class StorageSettings(_Section):
    data_dir: str = "data"
    max_recording_mb: Annotated[int, Field(gt=0, le=2048)] = 200


class CallSettings(_Section):
    ring_timeout: Annotated[int, Field(ge=5, le=600)] = 20
    missed_media: str = "sound:vm-nobodyavail"
    failed_media: str = "sound:please-try-call-later"
    default_region: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] = "US"
    # A call with no event for sweep_idle seconds is checked against Asterisk every
    # sweep_interval seconds, so one whose last events were missed does not stay tracked.
    sweep_interval: Annotated[float, Field(gt=0, le=3600)] = 30.0
    sweep_idle: Annotated[float, Field(gt=0, le=86400)] = 300.0

    @field_validator("missed_media", "failed_media")
    @classmethod
    def _media_uri(cls, v: str) -> str:
        if not re.match(r"^(sound|recording|number|digits|characters|tone):\S+$", v):
            raise ValueError("must be an ARI media URI such as sound:vm-nobodyavail")
        return v


class Did(_Section):
    number: Annotated[str, Field(pattern=r"^\+?[0-9]{3,20}$")]
    ad_channel: str | None = None


class Branch(_Section):
    id: Annotated[str, Field(pattern=_ID)]
    name: str
    record: bool = True
    dids: list[Did] = Field(default_factory=list)


class Admin(_Section):
    login: Annotated[str, Field(pattern=_ID)]
    name: str
    endpoint: str
    branch: str

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, v: str) -> str:
        if not _ENDPOINT.match(v):
            raise ValueError("must be an Asterisk endpoint such as PJSIP/admin101")
        return v


class Settings(_Section):
    version: Literal[1] = 1
    ari: AriSettings = Field(default_factory=AriSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    calls: CallSettings = Field(default_factory=CallSettings)
    branches: list[Branch] = Field(default_factory=list)
    admins: list[Admin] = Field(default_factory=list)

    @model_validator(mode="after")
    def _cross_references(self) -> Settings:
        problems: list[str] = []
        branch_ids = [b.id for b in self.branches]
        problems += _duplicates("branches", "id", branch_ids)
        numbers = [(i, j, d.number) for i, b in enumerate(self.branches) for j, d in enumerate(b.dids)]
        seen: dict[str, str] = {}
        for i, j, number in numbers:
            where = f"branches[{i}].dids[{j}].number"
            if number in seen:
                problems.append(f"{where}: DID {number} is already used at {seen[number]}")
            seen[number] = where
        problems += _duplicates("admins", "login", [a.login for a in self.admins])
        problems += _duplicates("admins", "endpoint", [a.endpoint for a in self.admins])
        for i, admin in enumerate(self.admins):
            if admin.branch not in branch_ids:
                problems.append(f"admins[{i}].branch: no branch with id {admin.branch!r}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    # --- lookups used by call control -------------------------------------------------
    def branch_for_did(self, did: str) -> tuple[Branch, Did] | None:
        for branch in self.branches:
            for entry in branch.dids:
                if entry.number == did or entry.number.lstrip("+") == did.lstrip("+"):
                    return branch, entry
        return None

    def admins_of(self, branch_id: str) -> list[Admin]:
        return [a for a in self.admins if a.branch == branch_id]


def _duplicates(section: str, key: str, values: list[str]) -> list[str]:
    first: dict[str, int] = {}
    out = []
    for i, v in enumerate(values):
        if v in first:
            out.append(f"{section}[{i}].{key}: {v!r} duplicates {section}[{first[v]}]")
        else:
            first[v] = i
    return out


def _loc(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def parse_settings(data: Mapping[str, Any], source: str) -> Settings:
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key"
            if err["type"] == "value_error" and not err["loc"]:
                problems.extend(msg.split("; "))
                continue
            problems.append(f"{_loc(err['loc'])}: {msg}")
        raise ConfigError(source, problems) from None


def load_settings(path: str | Path) -> Settings:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read: {exc.strerror}"]) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), [f"not valid TOML: {exc}"]) from None
    return parse_settings(data, str(path))


@dataclass(frozen=True)
class Secrets:
    """Credentials read from the environment; ``repr`` never shows them."""

    ari_username: str
    ari_password: str
    database_url: str
    api_tokens: tuple[str, ...]

    def __repr__(self) -> str:
        tokens = len(self.api_tokens)
        return f"Secrets(ari_username={self.ari_username!r}, ari_password=***, api_tokens={tokens})"


def load_secrets(settings: Settings, env: Mapping[str, str] | None = None) -> Secrets:
    env = os.environ if env is None else env
    missing = [n for n in (settings.ari.username_env, settings.ari.password_env) if not env.get(n)]
    if missing:
        raise ConfigError("environment", [f"{n}: not set (ARI credentials)" for n in missing])
    tokens = tuple(t.strip() for t in env.get(settings.http.tokens_env, "").split(",") if t.strip())
    short = [t for t in tokens if len(t) < 16]
    if short:
        raise ConfigError("environment", [f"{settings.http.tokens_env}: every token needs 16+ characters"])
    return Secrets(
        ari_username=env[settings.ari.username_env],
        ari_password=env[settings.ari.password_env],
        database_url=env.get(settings.database.url_env) or settings.database.url,
        api_tokens=tokens,
    )
