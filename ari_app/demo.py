"""``ari-app demo``: the real app against the simulated PBX in its own process, with generated calls.

Everything runs on the embedded defaults (SQLite and the recordings archive in ``--data-dir``).
Calls follow seeded scenarios: an admin answers, nobody answers, every phone is busy, the
caller gives up while it rings, or the number dialled belongs to no branch.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import secrets
import signal
import sys
import time
from pathlib import Path

from ari_app.app import CallCenterApp, sqlite_url
from ari_app.config import Secrets, Settings, load_settings
from ari_app.logging import setup_logging
from ari_app.simctl import SimControl, SimProcess

DEMO_RING_TIMEOUT = 8
DEMO_MAX_WAIT = 20
EXAMPLE_CONFIG = Path(__file__).resolve().parent / "examples" / "clinic.toml"
UNKNOWN_DID = "5559999"


def run_demo(args: argparse.Namespace) -> int:
    setup_logging(args.log_level)
    data_dir = Path(args.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    return asyncio.run(_demo(args, data_dir))


def _settings(args: argparse.Namespace, ari_url: str) -> Settings:
    if args.config:
        base = load_settings(args.config)
    else:
        base = load_settings(EXAMPLE_CONFIG)
    # The demo runs at any hour: its branches are open around the clock, and a caller nobody
    # takes waits DEMO_MAX_WAIT seconds at most (the queue, overflow and callbacks still show).
    groups = [
        g.model_copy(
            update={
                "max_wait": min(g.max_wait, DEMO_MAX_WAIT),
                "overflow_after": min(g.overflow_after, DEMO_RING_TIMEOUT),
                "announce_every": min(g.announce_every, 10),
                "ring_timeout": min(g.ring_timeout or DEMO_RING_TIMEOUT, DEMO_RING_TIMEOUT),
            }
        )
        for g in base.groups
    ]
    return base.model_copy(
        update={
            "ari": base.ari.model_copy(update={"url": ari_url}),
            "http": base.http.model_copy(update={"port": args.http_port}),
            "fastagi": base.fastagi.model_copy(update={"port": 0}),
            "calls": base.calls.model_copy(
                update={"ring_timeout": min(base.calls.ring_timeout, DEMO_RING_TIMEOUT)}
            ),
            "branches": [b.model_copy(update={"hours": None}) for b in base.branches],
            "groups": groups,
        }
    )


class Scenario:
    """Sets the phones for one generated call and says how the caller behaves."""

    def __init__(self, settings: Settings, rng: random.Random) -> None:
        self.settings = settings
        self.rng = rng
        self.branches = [b for b in settings.branches if b.dids and settings.admins_of(b.id)]

    async def place(self, ctl: SimControl, n: int) -> str:
        rng = self.rng
        branch = rng.choice(self.branches)
        did = rng.choice(branch.dids).number
        admins = self.settings.admins_of(branch.id)
        caller = f"20255{rng.randrange(10000, 99999)}"
        roll = rng.random()
        call: dict[str, object] = {}
        if roll < 0.55:
            kind = "answer"
            winner = rng.choice(admins)
            for a in admins:
                if a is winner:
                    hang = rng.uniform(3, 7) if rng.random() < 0.4 else None
                    await ctl.set_phone(
                        _res(a.endpoint), "answer", answer_after=rng.uniform(0.5, 3), hangup_after=hang
                    )
                else:
                    await ctl.set_phone(_res(a.endpoint), rng.choice(["no_answer", "no_answer", "busy"]))
            call["hangup_after"] = rng.uniform(3, 7)
        elif roll < 0.75:
            kind = "nobody"
            behaviour = "busy" if rng.random() < 0.3 else "no_answer"
            for a in admins:
                await ctl.set_phone(_res(a.endpoint), behaviour)
        elif roll < 0.93:
            kind = "abandon"
            for a in admins:
                await ctl.set_phone(_res(a.endpoint), "no_answer")
            call["abandon_after"] = rng.uniform(1.5, 5)
        else:
            kind = "unknown-number"
            did = UNKNOWN_DID
            call["hangup_after"] = 5
        await ctl.place_call(caller, did, **call)
        return kind


def _res(endpoint: str) -> str:
    return endpoint.split("/", 1)[1]


async def _demo(args: argparse.Namespace, data_dir: Path) -> int:
    _settings(args, "http://127.0.0.1:1/ari")  # a bad file fails before anything starts
    password = secrets.token_urlsafe(18)
    token = secrets.token_urlsafe(24)
    sim = await SimProcess.start(username="demo", password=password, seed=args.seed)
    ctl = SimControl(sim.control_url)
    try:
        return await _with_sim(args, data_dir, _settings(args, sim.ari_url), sim, ctl, password, token)
    finally:
        await ctl.close()
        await sim.stop()


async def _with_sim(
    args: argparse.Namespace, data_dir: Path, settings: Settings, sim: SimProcess, ctl: SimControl,
    password: str, token: str,
) -> int:  # fmt: skip
    for admin in settings.admins:
        name = _res(admin.endpoint)
        await ctl.set_phone(name, "no_answer", caller_name=admin.name, caller_number=name[-3:])
    secrets_ = Secrets("demo", password, sqlite_url(data_dir / "ari-app.db"), (token,))
    app = CallCenterApp(settings, secrets_, data_dir=data_dir)
    stop = asyncio.Event()  # first Ctrl-C: place no more calls, let those in progress end
    abort = asyncio.Event()  # second Ctrl-C: stop now

    def interrupted() -> None:
        if stop.is_set():
            abort.set()
        else:
            print("\ndemo: stopping: no new calls; waiting for calls in progress (Ctrl-C again to quit now)")
            stop.set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, interrupted)
    placed = 0
    await app.start()
    try:
        if not await app.wait_ari(15):
            print("demo: the app could not connect to the simulated PBX", file=sys.stderr)
            return 1
        print(f"demo: PBX simulator {sim.ari_url}  API http://127.0.0.1:{app.http_port}  token {token}")
        print(f"demo: data in {data_dir}; Ctrl-C stops")
        placed = await _generate(app, ctl, settings, args, stop)
        await _settle(app, ctl, abort)
    finally:
        await app.facts.drain(10)
        counts = await app.store.outcome_counts()
        counts["callbacks"] = len(await app.store.list_callbacks(limit=500))
        await app.stop()
    _print_summary(counts, placed)
    stored = sum(v for k, v in counts.items() if k not in ("recorded", "callbacks"))
    return 0 if abort.is_set() or stored >= placed else 1


async def _generate(
    app: CallCenterApp, ctl: SimControl, settings: Settings, args: argparse.Namespace, stop: asyncio.Event
) -> int:
    scenario = Scenario(settings, random.Random(args.seed))
    interval = 1.0 / max(args.rate, 0.01)
    placed = 0
    next_at = time.monotonic()
    last_report = 0.0
    while not stop.is_set() and (args.calls <= 0 or placed < args.calls):
        await scenario.place(ctl, placed)
        placed += 1
        next_at += interval
        now = time.monotonic()
        if now - last_report >= 2.0:
            last_report = now
            await _progress(app, placed, args.calls)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), max(0.0, next_at - time.monotonic()))
    return placed


async def _settle(app: CallCenterApp, ctl: SimControl, stop: asyncio.Event, limit: float = 120.0) -> None:
    """Wait until every placed call has ended and its facts and recording are stored."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and not stop.is_set():
        calls = await ctl.calls()
        open_calls = [c for c in calls if not c.get("ended_at")]
        busy = app.switchboard.tracked or app.facts.pending or app.recordings.pending
        if not open_calls and not busy:
            await app.facts.drain(10)
            await app.recordings.drain(30)
            return
        await _progress(app, len(calls), len(calls))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)


async def _progress(app: CallCenterApp, placed: int, total: int) -> None:
    counts = await app.store.outcome_counts()
    parts = " ".join(
        f"{k} {counts.get(k, 0)}" for k in ("answered", "missed", "abandoned", "closed", "failed")
    )
    target = f"/{total}" if total else ""
    print(f"demo: placed {placed}{target} | in progress {app.switchboard.tracked} | {parts}", flush=True)


def _print_summary(counts: dict[str, int], placed: int) -> None:
    rows = [
        (k, counts.get(k, 0)) for k in ("answered", "missed", "abandoned", "closed", "failed", "interrupted")
    ]
    stored = sum(v for _, v in rows)
    print()
    print(f"{'outcome':<12}{'calls':>7}")
    print("-" * 19)
    for name, value in rows:
        print(f"{name:<12}{value:>7}")
    print("-" * 19)
    print(f"{'total':<12}{stored:>7}")
    print(f"{'recorded':<12}{counts.get('recorded', 0):>7}")
    print(f"{'callbacks':<12}{counts.get('callbacks', 0):>7}")
    print(f"{'placed':<12}{placed:>7}")
