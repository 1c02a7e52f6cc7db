"""The part of a rendered ``extensions.conf`` the simulator runs: ``[globals]`` and ``[fallback]``.

Only what ``ari-app asterisk-config`` emits there is understood, and anything else in those two
contexts refuses to load, naming its line: a dialplan the simulator would run differently from
Asterisk must not pass for one it models. Other contexts are skipped (their calls are modelled
elsewhere: ``[from-trunk]`` is Stasis() and its failure, ``[admins]`` the transfers).

As Asterisk reads it (main/config.c, pbx/pbx_config.c): ``;`` starts a comment, ``\\;`` is a
literal ``;``; ``exten => NAME,1,App(data)`` starts an extension and `` same => n,App(data)``
adds its next priority; an exact name beats a pattern (``_X.``: a digit, then one or more of
anything; ``_+X.``: the same after a ``+``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

# The pattern extensions the renderer emits for unknown numbers.
PATTERNS = {"_X.": re.compile(r"[0-9].+"), "_+X.": re.compile(r"\+[0-9].+")}
EXACT = re.compile(r"\+?[0-9]+")
_LINE = re.compile(r"(?P<kw>exten|same)\s*=>\s*(?P<rest>.*)")
_APP = re.compile(r"(?P<app>[A-Za-z]+)\((?P<data>.*)\)")
_VAR = re.compile(r"\$\{([^${}]*)\}")
_PJSIP = re.compile(r"PJSIP/(?P<name>[A-Za-z0-9_.+-]+)")
# Variables the fallback's steps may read, besides [globals] (in Dial's targets only).
RUNTIME_VARS = frozenset({"EXTEN", "DIALSTATUS", "CDR(userfield)"})


class DialplanError(ValueError):
    """The dialplan holds something the simulator does not run; the message names the line."""


@dataclass(frozen=True)
class Step:
    """One priority: the application, its data as written (``\\;`` already ``;``) and what the
    simulator made of it."""

    app: str  # Set | Dial | Answer | Playback | Hangup
    data: str
    line: int
    var: str = ""  # Set: CDR_PROP(disable) or CDR(userfield)
    value: str = ""  # Set: the right-hand side, ${...} not yet substituted
    targets: tuple[str, ...] = ()  # Dial: the PJSIP endpoints, in Dial order
    timeout: int = 0  # Dial: seconds
    media: tuple[str, ...] = ()  # Playback: the sound files, in order


@dataclass(frozen=True)
class Extension:
    name: str  # 5551234, +15551234, _X. or _+X.
    steps: tuple[Step, ...]

    @property
    def is_pattern(self) -> bool:
        return self.name.startswith("_")


@dataclass(frozen=True)
class Dialplan:
    globals: dict[str, str] = field(default_factory=dict)
    fallback: dict[str, Extension] = field(default_factory=dict)

    def match(self, exten: str) -> Extension | None:
        """The ``[fallback]`` extension a ``Goto(fallback,${EXTEN},1)`` reaches, if any."""
        exact = self.fallback.get(exten)
        if exact is not None and not exact.is_pattern:
            return exact
        for name, regex in PATTERNS.items():
            if name in self.fallback and regex.fullmatch(exten):
                return self.fallback[name]
        return None


def expand(text: str, values: Mapping[str, str]) -> str:
    """``${NAME}`` substituted as pbx_substitute_variables does; an unset name is empty."""
    return _VAR.sub(lambda found: values.get(found.group(1), ""), text)


def load_dialplan(path: Path) -> Dialplan:
    return parse_dialplan(path.read_text(encoding="utf-8"), path.name)


def parse_dialplan(text: str, source: str = "extensions.conf") -> Dialplan:
    plan = Dialplan()
    section = ""
    fallback: list[tuple[str, str]] = []  # (where, line), read once [globals] is known
    for number, raw in enumerate(text.splitlines(), start=1):
        where = f"{source}:{number}"
        line = _uncomment(raw, where, strict=section in ("globals", "fallback")).strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
        elif section == "globals":
            name, sep, value = line.partition("=")
            if not sep or not name.strip():
                raise DialplanError(f"{where}: [globals] expects NAME=value: {raw.strip()!r}")
            plan.globals[name.strip()] = value.strip()
        elif section == "fallback":
            fallback.append((where, line))
    steps: dict[str, list[Step]] = {}
    current: list[Step] | None = None
    for where, line in fallback:
        found = _LINE.fullmatch(line)
        if found is None:
            raise DialplanError(f"{where}: not an exten/same line in [fallback]: {line!r}")
        if found.group("kw") == "exten":
            name, app = _exten(found.group("rest"), where)
            if name in steps:
                raise DialplanError(f"{where}: extension {name} defined twice in [fallback]")
            current = steps[name] = []
        else:
            if current is None:
                raise DialplanError(f"{where}: 'same =>' before any 'exten =>' in [fallback]")
            prio, sep, app = found.group("rest").partition(",")
            if not sep or prio.strip() != "n":
                raise DialplanError(f"{where}: expected 'same => n,Application(...)': {line!r}")
        current.append(_step(app.strip(), where, plan.globals))
    plan.fallback.update((name, Extension(name, tuple(s))) for name, s in steps.items())
    return plan


def _uncomment(raw: str, where: str, *, strict: bool) -> str:
    r"""Cut the comment; ``\;`` stands for a ``;`` (the userfield's separators). ``strict``: any
    other backslash is refused (the contexts the simulator runs)."""
    out: list[str] = []
    chars = iter(raw)
    for ch in chars:
        if ch == ";":
            break
        if ch == "\\":
            nxt = next(chars, "")
            if nxt != ";" and strict:
                raise DialplanError(f"{where}: only '\\;' is understood after a backslash: {raw.strip()!r}")
            out.append(nxt if nxt == ";" else ch + nxt)
            continue
        out.append(ch)
    return "".join(out)


def _exten(rest: str, where: str) -> tuple[str, str]:
    """``NAME,1,App(data)``: the name and the application."""
    name, sep1, tail = rest.partition(",")
    prio, sep2, app = tail.partition(",")
    name = name.strip()
    if not sep1 or not sep2 or prio.strip() != "1":
        raise DialplanError(f"{where}: expected 'exten => NAME,1,Application(...)': {rest!r}")
    if name not in PATTERNS and not EXACT.fullmatch(name):
        raise DialplanError(f"{where}: extension {name!r}: only numbers, _X. and _+X. are understood")
    return name, app


def _step(text: str, where: str, globals_: dict[str, str]) -> Step:
    line = int(where.rsplit(":", 1)[1])
    found = _APP.fullmatch(text)
    if found is None:
        raise DialplanError(f"{where}: not an application call: {text!r}")
    app, data = found.group("app"), found.group("data")
    if app == "Set":
        return _set(data, line, where)
    if app == "Dial":
        return _dial(data, line, globals_, where)
    if app == "Playback":
        media = tuple(data.split("&"))
        if "," in data or "${" in data or not all(media):
            raise DialplanError(f"{where}: Playback() takes sound files joined by '&', no options: {data!r}")
        return Step(app, data, line, media=media)
    if app in ("Answer", "Hangup"):
        if data:
            raise DialplanError(f"{where}: {app}() takes no argument here: {data!r}")
        return Step(app, data, line)
    raise DialplanError(f"{where}: application {app}() is not one the simulator runs in [fallback]")


def _set(data: str, line: int, where: str) -> Step:
    var, sep, value = data.partition("=")
    if var == "CDR_PROP(disable)" and value == "0":
        return Step("Set", data, line, var=var, value=value)
    if var != "CDR(userfield)" or not sep:
        raise DialplanError(f"{where}: only Set(CDR_PROP(disable)=0) and Set(CDR(userfield)=...): {data!r}")
    for name in _VAR.findall(value):
        if name not in RUNTIME_VARS:
            raise DialplanError(f"{where}: ${{{name}}} is not a variable the simulator sets")
    if "${" in _VAR.sub("", value):
        raise DialplanError(f"{where}: a nested or unclosed ${{...}}: {value!r}")
    return Step("Set", data, line, var=var, value=value)


def _dial(data: str, line: int, globals_: dict[str, str], where: str) -> Step:
    parts = data.split(",")
    if len(parts) != 2 or not parts[1].strip().isdigit() or int(parts[1]) <= 0:
        raise DialplanError(f"{where}: Dial() takes targets and a timeout in seconds, no options: {data!r}")
    for name in _VAR.findall(parts[0]):
        if name not in globals_:
            raise DialplanError(f"{where}: ${{{name}}} is not in [globals]")
    targets = []
    for target in expand(parts[0], globals_).split("&"):
        found = _PJSIP.fullmatch(target.strip())
        if found is None:
            raise DialplanError(f"{where}: Dial target {target!r} is not PJSIP/<endpoint>")
        targets.append(found.group("name"))
    return Step("Dial", data, line, targets=tuple(targets), timeout=int(parts[1]))
