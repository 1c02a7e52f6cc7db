"""Settings: one TOML file (schema v1), validated once at start; secrets come from the environment.

Errors name the file and the key path (``clinic.toml: branches[0].dids[1].number: ...``) so a
PBX engineer can fix the file without reading code.
"""

from __future__ import annotations

import ipaddress
import itertools
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, time
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holiday_calendars
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ari_app.bookings.scheduler import PLACEHOLDERS, template_problem
from ari_app.i18n.locales import currency_problem, locale_problem
from ari_app.numbers import Regions, is_region
from ari_app.routing.hours import Interval, Schedule
from ari_app.routing.strategies import Strategy
from ari_app.service_level import DEFAULT_SECONDS

SCHEMA_VERSION = 1
_ID = r"^[a-z0-9][a-z0-9_-]{0,62}$"
_ENDPOINT = re.compile(r"^(PJSIP|SIP|IAX2|Local)/[A-Za-z0-9_.@-]+$")
_MEDIA = re.compile(r"^(sound|recording|number|digits|characters|tone):\S+$")
_INTERVAL = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-4]):([0-5][0-9])$")
_ORIGIN = re.compile(r"https?://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Media = Annotated[str, Field(pattern=_MEDIA.pattern)]


PAUSE_REASON_MAX = 200  # characters; the API refuses a longer reason


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


class AsteriskSettings(_Section):
    """What ``ari-app asterisk-config`` renders into asterisk-config/ besides branches and admins."""

    sip_bind: Annotated[str, Field(pattern=r"^[0-9.]+:[0-9]{1,5}$")] = "0.0.0.0:5060"
    trunk_host: Annotated[str, Field(pattern=r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$")] = "carrier.invalid"
    trunk_match: list[Annotated[str, Field(pattern=r"^[0-9.]+(/[0-9]{1,2})?$")]] = Field(
        default_factory=lambda: ["127.0.0.1"]
    )  # addresses identified as the carrier
    codecs: list[Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]] = Field(
        default_factory=lambda: ["ulaw", "alaw"]
    )
    http_bind: str = "0.0.0.0"
    http_port: Annotated[int, Field(ge=1, le=65535)] = 8088
    ami_port: Annotated[int, Field(ge=1, le=65535)] = 5038
    qualify_frequency: Annotated[int, Field(ge=0, le=3600)] = 30
    # While the app is down the dialplan rings the branch's admins itself, this long.
    fallback_ring: Annotated[int, Field(ge=5, le=600)] = 30
    # How Asterisk reaches this app's FastAGI service; None: the dialplan does not use it.
    agi_host: str | None = "127.0.0.1"


class FastAgiSettings(_Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 4573
    timeout: Annotated[float, Field(gt=0, le=60)] = 5.0  # a client silent this long is dropped


class FallbackSettings(_Section):
    """Asterisk's records of the calls its dialplan's fallback took while the app was down
    (asterisk-config/cdr_custom.conf), imported at start and then every ``import_every`` s."""

    cdr_file: str = "/var/log/asterisk/cdr-custom/clinic-fallback.csv"  # "": none to import
    import_every: Annotated[float, Field(gt=0, le=3600)] = 15.0
    # A call's records are written together when it ends: its last line is taken as complete
    # once another call's follows it, or once it ended this long ago.
    settle: Annotated[float, Field(ge=0, le=600)] = 5.0


class BookingSettings(_Section):
    """The scheduler's feed: how near a call a booking event is made to be linked to it (minutes
    before the call starts, after it ends), and where the feed's signing secret is."""

    created_before_minutes: Annotated[int, Field(ge=0, le=1440)] = 30
    created_after_minutes: Annotated[int, Field(ge=0, le=1440)] = 30
    change_before_minutes: Annotated[int, Field(ge=0, le=1440)] = 15
    change_after_minutes: Annotated[int, Field(ge=0, le=1440)] = 15
    secret_env: str = "ARI_APP_BOOKINGS_SECRET"


class SchedulerSettings(_Section):
    """The console's links into the clinic's scheduler (``ari_app.bookings.scheduler``): URL
    templates with ``{patient_id}``, ``{call_id}`` and (cancel, move) ``{booking_id}``; a link
    left out is not offered."""

    book_url: str | None = None
    cancel_url: str | None = None
    move_url: str | None = None

    @field_validator("book_url")
    @classmethod
    def _book(cls, v: str | None) -> str | None:
        return _link(v, PLACEHOLDERS - {"booking_id"})

    @field_validator("cancel_url", "move_url")
    @classmethod
    def _change(cls, v: str | None) -> str | None:
        return _link(v, PLACEHOLDERS)


def _link(v: str | None, allowed: frozenset[str]) -> str | None:
    problem = template_problem(v, allowed) if v is not None else None
    if problem is not None:
        raise ValueError(problem)
    return v


class DatabaseSettings(_Section):
    url: str = "sqlite:///data/ari-app.db"
    url_env: str = "DATABASE_URL"

    @field_validator("url")
    @classmethod
    def _supported(cls, v: str) -> str:
        problem = database_url_problem(v)
        if problem:
            raise ValueError(problem)
        return v


POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+asyncpg")
SQLITE_SCHEMES = ("sqlite", "sqlite+aiosqlite")
_URL_HELP = "use postgresql://user:password@host:5432/db or sqlite:///path/to/file.db"


def database_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be the app's database, or None. The answer never quotes the URL
    (it may hold a password): at most its scheme."""
    scheme, sep, rest = url.partition("://")
    if not sep or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]{0,40}", scheme):
        return f"not a database URL; {_URL_HELP}"
    if scheme in SQLITE_SCHEMES:
        # sqlite:// alone is an in-memory database: every call would be lost at exit.
        if len(rest) < 2 or not rest.startswith("/"):
            return "an SQLite URL needs a file: sqlite:///data/ari-app.db"
        return None
    if scheme not in POSTGRES_SCHEMES:
        return f"unsupported database {scheme!r}; {_URL_HELP}"
    try:
        urlsplit(url).port  # noqa: B018 (raises for a port that is not a number from 0 to 65535)
    except ValueError:
        return f"not a valid PostgreSQL URL (its host or port); {_URL_HELP}"
    return None


class HttpSettings(_Section):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8080
    tokens_env: str = "ARI_APP_API_TOKENS"
    # /metrics on an address of its own (for a Prometheus on a private network), else on the API's.
    metrics_host: str = "127.0.0.1"
    metrics_port: Annotated[int | None, Field(ge=0, le=65535)] = None
    # "none": /metrics asks no token (only where the network is private); "bearer" otherwise.
    metrics_auth: Literal["bearer", "none"] = "bearer"
    # TLS on the API's own listener: both paths (PEM) or neither. The key must not be readable
    # by other users (checked at start).
    tls_cert: str | None = None
    tls_key: str | None = None
    # Plain HTTP answered with a redirect (GET, HEAD) or 403 ``https_required``; None: on when
    # TLS is configured. Behind a proxy that terminates TLS, set it and list the proxy below.
    require_https: bool | None = None
    # Addresses or networks of reverse proxies whose X-Forwarded-Proto and X-Forwarded-For are
    # believed; from any other peer those headers are ignored.
    trusted_proxies: list[str] = Field(default_factory=list)
    # Origins (scheme://host[:port]) a browser's websocket may come from besides the app's own.
    allowed_origins: list[str] = Field(default_factory=list)

    @field_validator("tls_cert", "tls_key")
    @classmethod
    def _absolute(cls, v: str | None) -> str | None:
        if v is not None and not Path(v).is_absolute():
            raise ValueError("must be an absolute path to a PEM file")
        return v

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        for i, text in enumerate(v):
            try:
                ipaddress.ip_network(text, strict=False)
            except ValueError:
                raise ValueError(f"[{i}] {text!r} is not an address or network (10.0.0.0/8)") from None
        return v

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, v: list[str]) -> list[str]:
        for i, text in enumerate(v):
            if not _ORIGIN.fullmatch(text):
                raise ValueError(f"[{i}] {text!r} is not an origin: scheme://host[:port], no path")
        return v

    @model_validator(mode="after")
    def _tls_pair(self) -> HttpSettings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key: set both or neither")
        if self.require_https and self.tls_cert is None and not self.trusted_proxies:
            raise ValueError(
                "require_https: no request could be HTTPS; set tls_cert and tls_key,"
                " or list the proxy that terminates TLS in trusted_proxies"
            )
        return self

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None

    @property
    def https_required(self) -> bool:
        return self.tls if self.require_https is None else self.require_https


class AuthSettings(_Section):
    """The console's sign-in: how long a session lives, where the password links point."""

    idle_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = 10  # no activity for this long: signed out
    absolute_hours: Annotated[int, Field(ge=1, le=7 * 24)] = 12  # signed out this long after signing in
    link_hours: Annotated[int, Field(ge=1, le=7 * 24)] = 24  # a password link is good this long, once
    min_password_length: Annotated[int, Field(ge=12, le=128)] = 12
    # What the printed password links start with (the address people open the console at);
    # None: https://<http.host>:<http.port>.
    public_url: str | None = None


class I18nSettings(_Section):
    """The language, formats and money of every page, where a branch names none of its own."""

    locale: str = "en_US"  # a CLDR locale (en_US, ru_RU, uk_UA, es_ES, zh_Hans_CN; en_XA: pseudo)
    currency: str = "USD"  # ISO 4217
    # The zone of pages tied to no branch (a manager's); None: the branches' zone where they all
    # share one, else UTC.
    timezone: str | None = None

    @field_validator("locale")
    @classmethod
    def _locale(cls, v: str) -> str:
        return _checked(locale_problem(v), v)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str | None) -> str | None:
        return v if v is None else _zone_name(v)

    @field_validator("currency")
    @classmethod
    def _currency(cls, v: str) -> str:
        return _checked(currency_problem(v), v)


def _zone_name(v: str) -> str:
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {v!r}; an IANA name such as Europe/Berlin") from None
    return v


def _checked(problem: str | None, value: str) -> str:
    if problem is not None:
        raise ValueError(problem)
    return value


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
    # Seconds an admin stays in wrap-up after a call before the next one is offered.
    wrap_up: Annotated[int, Field(ge=0, le=3600)] = 10
    # One callback task per number: a missed call within this many minutes of an open task
    # from the same number is added to that task.
    callback_merge_minutes: Annotated[int, Field(ge=0, le=1440)] = 60
    # When a callback task is due after a missed call in opening hours (minutes).
    callback_due_minutes: Annotated[int, Field(ge=0, le=1440)] = 15
    # Seconds a call's first wave waits for the directories to say who calls (the name on the
    # admins' phones); slower, and the phones ring without it.
    caller_lookup_timeout: Annotated[float, Field(gt=0, le=5)] = 0.5
    # Staff and contractors' calls in the outcome, wait and talk figures too (default: apart).
    count_staff_calls: bool = False
    # The reasons an admin may pause for (the console offers them); empty: any short text.
    pause_reasons: list[Annotated[str, Field(min_length=1, max_length=PAUSE_REASON_MAX)]] = Field(
        default_factory=list
    )
    # The service level's threshold: answered within this many seconds over answered
    # (ari_app.service_level), on the wallboard and in the reports.
    service_level_seconds: Annotated[int, Field(gt=0, le=3600)] = DEFAULT_SECONDS

    @field_validator("missed_media", "failed_media")
    @classmethod
    def _media_uri(cls, v: str) -> str:
        return _media(v)


def _media(v: str) -> str:
    if not _MEDIA.match(v):
        raise ValueError("must be an ARI media URI such as sound:vm-nobodyavail")
    return v


def _intervals(values: list[str]) -> tuple[Interval, ...]:
    out = []
    for text in values:
        match = _INTERVAL.match(text)
        if not match:
            raise ValueError(f"{text!r} is not an interval such as 08:00-20:00")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        closes = time(23, 59, 59) if (h2, m2) == (24, 0) else time(h2, m2)
        if (h2, m2) > (24, 0) or closes <= time(h1, m1):
            raise ValueError(f"{text!r}: closes must be after opens, the same day")
        out.append(Interval(time(h1, m1), closes))
    ordered = sorted(out, key=lambda iv: iv.opens)
    for a, b in itertools.pairwise(ordered):
        if b.opens < a.closes:
            raise ValueError(f"intervals overlap: {values}")
    return tuple(ordered)


class Menu(_Section):
    """A topic menu on a DID: the caller hears ``prompt`` and presses a topic's digit."""

    prompt: Media
    topics: list[str]  # topic ids, each reached by its own digit
    timeout: Annotated[float, Field(gt=0, le=30)] = 5.0  # seconds to wait for a digit after the prompt


class Did(_Section):
    number: Annotated[str, Field(pattern=r"^\+?[0-9]{3,20}$")]
    ad_channel: str | None = None
    groups: list[str] | None = None  # the groups offered its calls first; default: the branch's
    menu: Menu | None = None


class Hours(_Section):
    """Opening intervals per weekday, local time of the branch ("08:00-13:00"); a day left out is closed."""

    mon: list[str] = Field(default_factory=list)
    tue: list[str] = Field(default_factory=list)
    wed: list[str] = Field(default_factory=list)
    thu: list[str] = Field(default_factory=list)
    fri: list[str] = Field(default_factory=list)
    sat: list[str] = Field(default_factory=list)
    sun: list[str] = Field(default_factory=list)

    @field_validator(*WEEKDAYS)
    @classmethod
    def _valid(cls, v: list[str]) -> list[str]:
        _intervals(v)
        return v


class Holidays(_Section):
    country: Annotated[str, Field(pattern=r"^[A-Z]{2,3}$")] | None = None  # `holidays` calendar
    subdivision: str | None = None  # a state or region of that country, e.g. "NY"
    closed: list[date] = Field(default_factory=list)  # the clinic's own closed days
    special: dict[str, list[str]] = Field(default_factory=dict)  # "2026-12-31" = ["09:00-14:00"]

    @field_validator("country")
    @classmethod
    def _country(cls, v: str | None) -> str | None:
        if v is not None and v not in holiday_calendars.list_supported_countries():
            raise ValueError(f"no holiday calendar for {v!r}")
        return v

    @field_validator("subdivision")
    @classmethod
    def _subdivision(cls, v: str | None, info: ValidationInfo) -> str | None:
        country = info.data.get("country")
        if v is not None:
            if country is None:
                raise ValueError("needs a country")
            if v not in holiday_calendars.list_supported_countries()[country]:
                raise ValueError(f"{country} has no subdivision {v!r}")
        return v

    @field_validator("special")
    @classmethod
    def _special(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for key, values in v.items():
            try:
                date.fromisoformat(key)
            except ValueError:
                raise ValueError(f"{key!r} is not a date such as 2026-12-31") from None
            _intervals(values)
        return v


class Branch(_Section):
    id: Annotated[str, Field(pattern=_ID)]
    name: str
    timezone: str = "UTC"
    # Where its callers' national numbers are read (ISO 3166 code); default: calls.default_region.
    region: str | None = None
    # The language and money of pages about this branch; default: [i18n] locale and currency.
    locale: str | None = None
    currency: str | None = None
    record: bool = True
    # Played to the caller (after answering) before the call is offered, where the branch records.
    # false: recorded without a notice, where the carrier or an earlier IVR already announces it.
    recording_notice: Media | Literal[False] = "sound:clinic/recording-notice"
    # Outside hours and on holidays: played, then a callback task is made.
    closed_message: Media = "sound:clinic/closed"
    # Nobody could take the call in time: "we will call you back", then a callback task.
    callback_message: Media = "sound:clinic/callback"
    hours: Hours | None = None  # None: always open
    holidays: Holidays = Field(default_factory=Holidays)
    groups: list[str] | None = None  # the groups offered its calls first; default: its own groups
    dids: list[Did] = Field(default_factory=list)

    @field_validator("region")
    @classmethod
    def _region(cls, v: str | None) -> str | None:
        if v is not None and not is_region(v):
            raise ValueError(f"unknown phone region {v!r}; a two-letter country code such as UA or DE")
        return v

    @field_validator("locale")
    @classmethod
    def _locale(cls, v: str | None) -> str | None:
        return v if v is None else _checked(locale_problem(v), v)

    @field_validator("currency")
    @classmethod
    def _currency(cls, v: str | None) -> str | None:
        return v if v is None else _checked(currency_problem(v), v)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        return _zone_name(v)

    @cached_property
    def schedule(self) -> Schedule | None:
        if self.hours is None:
            return None
        week = {i: _intervals(getattr(self.hours, day)) for i, day in enumerate(WEEKDAYS)}
        return Schedule(
            timezone=self.timezone,
            week={i: ivs for i, ivs in week.items() if ivs},
            holiday_country=self.holidays.country,
            holiday_subdivision=self.holidays.subdivision,
            closed_days=frozenset(self.holidays.closed),
            special_days={date.fromisoformat(k): _intervals(v) for k, v in self.holidays.special.items()},
        )


class Group(_Section):
    """Admins who take calls together: a branch's front desk, or a call center for every branch."""

    id: Annotated[str, Field(pattern=_ID)]
    name: str = ""
    branch: str | None = None  # None: a call center, not tied to one branch
    strategy: Strategy = "ring_all"
    ring_timeout: Annotated[int, Field(ge=5, le=600)] | None = None  # per wave; default calls.ring_timeout
    priority: Annotated[int, Field(ge=0, le=100)] = 0  # a free admin takes waiting calls of higher first
    overflow_to: list[str] = Field(default_factory=list)  # groups added after overflow_after seconds
    overflow_after: Annotated[int, Field(ge=0, le=3600)] = 30
    max_wait: Annotated[int, Field(ge=10, le=7200)] = 180  # then: callback message and task
    announce: Literal["position", "wait", "none"] = "position"
    announce_every: Annotated[int, Field(ge=10, le=600)] = 30
    moh_class: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,40}$")] = "default"
    prefer_last_admin: bool = True  # a known caller rings the admin who last talked with them first


class Topic(_Section):
    id: Annotated[str, Field(pattern=_ID)]
    name: str
    digit: Annotated[str, Field(pattern=r"^[0-9*#]$")]
    skill: str | None = None  # admins with this skill are offered the call first; default: the id

    @property
    def needs(self) -> str:
        return self.skill or self.id


class Admin(_Section):
    login: Annotated[str, Field(pattern=_ID)]
    name: str
    endpoint: str
    branch: str
    groups: list[str] | None = None  # default: every group of its branch
    skills: list[str] = Field(default_factory=list)
    order: int = 0  # place in its groups for linear and round-robin

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, v: str) -> str:
        if not _ENDPOINT.match(v):
            raise ValueError("must be an Asterisk endpoint such as PJSIP/admin101")
        return v


class Settings(_Section):
    version: Literal[1] = 1
    ari: AriSettings = Field(default_factory=AriSettings)
    asterisk: AsteriskSettings = Field(default_factory=AsteriskSettings)
    fastagi: FastAgiSettings = Field(default_factory=FastAgiSettings)
    fallback: FallbackSettings = Field(default_factory=FallbackSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    calls: CallSettings = Field(default_factory=CallSettings)
    bookings: BookingSettings = Field(default_factory=BookingSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    i18n: I18nSettings = Field(default_factory=I18nSettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    branches: list[Branch] = Field(default_factory=list)
    groups: list[Group] = Field(default_factory=list)
    topics: list[Topic] = Field(default_factory=list)
    admins: list[Admin] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _group_per_branch(cls, data: Any) -> Any:
        """Without a [[groups]] section each branch is one ring-all group of its own admins."""
        if isinstance(data, Mapping) and "groups" not in data and isinstance(data.get("branches"), list):
            groups = [
                {"id": b["id"], "name": b.get("name", ""), "branch": b["id"]}
                for b in data["branches"]
                if isinstance(b, Mapping) and isinstance(b.get("id"), str)
            ]
            return {**data, "groups": groups}
        return data

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
        group_ids = [g.id for g in self.groups]
        topic_ids = [t.id for t in self.topics]
        problems += _duplicates("groups", "id", group_ids)
        problems += _duplicates("topics", "id", topic_ids)
        problems += _duplicates("topics", "digit", [t.digit for t in self.topics])

        def unknown(where: str, ids: list[str] | None, known: list[str], what: str) -> None:
            for k, ref in enumerate(ids or []):
                if ref not in known:
                    problems.append(f"{where}[{k}]: no {what} with id {ref!r}")

        for i, admin in enumerate(self.admins):
            if admin.branch not in branch_ids:
                problems.append(f"admins[{i}].branch: no branch with id {admin.branch!r}")
            unknown(f"admins[{i}].groups", admin.groups, group_ids, "group")
        for i, group in enumerate(self.groups):
            if group.branch is not None and group.branch not in branch_ids:
                problems.append(f"groups[{i}].branch: no branch with id {group.branch!r}")
            unknown(f"groups[{i}].overflow_to", group.overflow_to, group_ids, "group")
            if group.id in group.overflow_to:
                problems.append(f"groups[{i}].overflow_to: a group cannot overflow to itself")
        for i, branch in enumerate(self.branches):
            unknown(f"branches[{i}].groups", branch.groups, group_ids, "group")
            if branch.groups is None and not any(g.branch == branch.id for g in self.groups):
                problems.append(f"branches[{i}].groups: no group serves branch {branch.id!r}; add one")
            for j, did in enumerate(branch.dids):
                unknown(f"branches[{i}].dids[{j}].groups", did.groups, group_ids, "group")
                if did.menu is not None:
                    unknown(f"branches[{i}].dids[{j}].menu.topics", did.menu.topics, topic_ids, "topic")
        problems += self._routing_problems()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _routing_problems(self) -> list[str]:
        """A file that could not route a single call is an error, not a quiet start."""
        dids = [(b, d) for b in self.branches for d in b.dids]
        problems = []
        if not dids:
            problems.append("branches: at least one branch with a DID is needed")
        if not self.admins:
            problems.append("admins: at least one admin is needed")
        if dids and self.admins and not any(self.staffed(b, d) for b, d in dids):
            problems.append(
                "admins: none is in a group that a DID's calls are offered to, so no call could be answered"
            )
        return problems

    def warnings(self) -> list[str]:
        """What a valid file may still get wrong (``key: warning: ...``), for check-config."""
        found = [
            f"{where}: warning: no admin is in its groups; its calls fail" for where in self.unstaffed_dids()
        ]
        found += [
            f"branches[{i}].recording_notice: warning: calls are recorded without telling the caller;"
            " make sure the carrier or an earlier IVR announces the recording"
            for i, b in enumerate(self.branches)
            if b.record and b.recording_notice is False
        ]
        if self.http.metrics_auth == "none":
            where = "the API's address" if self.http.metrics_port is None else "its own address"
            found.append(
                f"http.metrics_auth: warning: /metrics asks no token on {where}; serve it only where"
                " nothing but Prometheus can reach it"
            )
        return found

    def unstaffed_dids(self) -> list[str]:
        """Where each DID no admin can take is (``branches[1].dids[0]``): its calls fail at once.

        A warning, not an error: a branch whose admins are not set up yet is a valid file.
        """
        return [
            f"branches[{i}].dids[{j}]"
            for i, b in enumerate(self.branches)
            for j, d in enumerate(b.dids)
            if not self.staffed(b, d)
        ]

    def staffed(self, branch: Branch, did: Did) -> bool:
        """Whether an admin is in a group a call to ``did`` is offered to, or overflows to."""
        first = self.groups_for(branch, did)
        overflow = [o for g in first if (group := self.group(g)) is not None for o in group.overflow_to]
        return any(self.members(g) for g in (*first, *overflow))

    # --- lookups used by call control -------------------------------------------------
    def branch_for_did(self, did: str) -> tuple[Branch, Did] | None:
        for branch in self.branches:
            for entry in branch.dids:
                if entry.number == did or entry.number.lstrip("+") == did.lstrip("+"):
                    return branch, entry
        return None

    def admins_of(self, branch_id: str) -> list[Admin]:
        return [a for a in self.admins if a.branch == branch_id]

    @cached_property
    def regions(self) -> Regions:
        """Each branch's phone region, the clinic's default for the rest."""
        by_branch = {b.id: b.region for b in self.branches if b.region is not None}
        return Regions(self.calls.default_region, by_branch)

    def branch(self, branch_id: str) -> Branch | None:
        return next((b for b in self.branches if b.id == branch_id), None)

    def group(self, group_id: str) -> Group | None:
        return next((g for g in self.groups if g.id == group_id), None)

    def topic(self, topic_id: str) -> Topic | None:
        return next((t for t in self.topics if t.id == topic_id), None)

    def groups_for(self, branch: Branch, did: Did | None = None) -> list[str]:
        """The groups a call to this branch (and DID) is offered to first."""
        if did is not None and did.groups is not None:
            return list(did.groups)
        if branch.groups is not None:
            return list(branch.groups)
        return [g.id for g in self.groups if g.branch == branch.id]

    def members(self, group_id: str) -> list[Admin]:
        """A group's admins: those who name it, and those of its branch who name no group."""
        group = self.group(group_id)
        if group is None:
            return []
        return [
            a
            for a in self.admins
            if (a.groups is not None and group_id in a.groups)
            or (a.groups is None and group.branch is not None and a.branch == group.branch)
        ]

    def admin(self, login: str) -> Admin | None:
        return next((a for a in self.admins if a.login == login), None)


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
    # Checked here rather than by the model, so that an empty file is told everything it lacks.
    problems = [] if "version" in data else [f"version: missing; add version = {SCHEMA_VERSION}"]
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key"
            if err["type"] == "value_error" and not err["loc"]:
                problems.extend(msg.split("; "))
                continue
            problems.append(f"{_loc(err['loc'])}: {msg}")
        raise ConfigError(source, problems) from None
    if problems:
        raise ConfigError(source, problems)
    return settings


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
    bookings_secret: str | None = None  # signs the scheduler's feed (X-Signature); None: bearer only

    def __repr__(self) -> str:
        tokens = len(self.api_tokens)
        signed = "***" if self.bookings_secret else None
        return (
            f"Secrets(ari_username={self.ari_username!r}, ari_password=***, api_tokens={tokens}, "
            f"bookings_secret={signed})"
        )


def load_secrets(settings: Settings, env: Mapping[str, str] | None = None) -> Secrets:
    env = os.environ if env is None else env
    missing = [n for n in (settings.ari.username_env, settings.ari.password_env) if not env.get(n)]
    if missing:
        raise ConfigError("environment", [f"{n}: not set (ARI credentials)" for n in missing])
    tokens = tuple(t.strip() for t in env.get(settings.http.tokens_env, "").split(",") if t.strip())
    short = [t for t in tokens if len(t) < 16]
    if short:
        raise ConfigError("environment", [f"{settings.http.tokens_env}: every token needs 16+ characters"])
    secret = env.get(settings.bookings.secret_env, "").strip() or None
    if secret is not None and len(secret) < 32:
        raise ConfigError("environment", [f"{settings.bookings.secret_env}: the secret needs 32+ characters"])
    return Secrets(
        ari_username=env[settings.ari.username_env],
        ari_password=env[settings.ari.password_env],
        database_url=database_url(settings, env),
        api_tokens=tokens,
        bookings_secret=secret,
    )


def database_url(settings: Settings, env: Mapping[str, str] | None = None) -> str:
    """The database URL: the environment's (``database.url_env``) or else the file's, checked."""
    env = os.environ if env is None else env
    url = env.get(settings.database.url_env)
    if not url:
        return settings.database.url  # checked when the file was read
    problem = database_url_problem(url)
    if problem:
        raise ConfigError("environment", [f"{settings.database.url_env}: {problem}"])
    return url
