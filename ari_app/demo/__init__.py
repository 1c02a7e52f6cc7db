"""``ari-app demo``: the real app against the simulated PBX in its own process, with generated calls.

Everything runs on the embedded defaults (SQLite and the recordings archive in ``--data-dir``).
Calls follow seeded scenarios (``ari_app.demo.mix``): an admin answers and one side hangs up,
two phones answer at once, nobody answers, every phone is busy, the caller gives up at any
moment, the branch is closed, the number dialled belongs to no branch. Meanwhile admins pause,
phones drop off and transfers are made (``ari_app.demo.floor``); ``--faults`` adds a misbehaving
PBX. The summary counts exactly the calls this run placed (``ari_app.demo.summary``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import random
import secrets
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ari_app.app import CallCenterApp, sqlite_url
from ari_app.asterisk_config import render as render_asterisk
from ari_app.config import ConfigError, Secrets, Settings, load_settings
from ari_app.demo.api_access import ApiAccess
from ari_app.demo.console_users import demo_logins
from ari_app.demo.floor import Floor
from ari_app.demo.mix import CallMix
from ari_app.demo.people import DemoPeople, demo_people
from ari_app.demo.scheduler import Booking, Scheduler, cards_of
from ari_app.demo.summary import (
    OUTCOMES,
    PlacedCall,
    RunSummary,
    leftovers,
    linked_kinds,
    render,
    summarise,
    write_report,
)
from ari_app.fallback.cdr import FILE_NAME
from ari_app.i18n.catalogs import CatalogMissing
from ari_app.i18n.pages import Pages
from ari_app.logging import setup_logging
from ari_app.private_files import private_dir
from ari_app.simctl import SimControl, SimProcess
from ari_app.tls import CertificateFiles, self_signed

DEMO_RING_TIMEOUT = 8
DEMO_MAX_WAIT = 20
SETTLE_LIMIT = 120.0  # seconds --calls N waits, after the last call is placed, for calls to end
EXAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "examples" / "clinic.toml"
NO_PBX = "http://127.0.0.1:1/ari"  # where nothing listens: for settings read before the PBX runs


@dataclass(frozen=True)
class DemoRun:
    """What a finished run hands back: its summary, and whether it was cut short (Ctrl-C twice)."""

    summary: RunSummary
    aborted: bool
    settled: bool  # every placed call ended before SETTLE_LIMIT


def run_demo(args: argparse.Namespace) -> int:
    setup_logging(args.log_level)
    try:
        # A bad file, or a locale whose catalog is not compiled, fails before anything starts.
        Pages(demo_settings(args, NO_PBX))
    except (ConfigError, CatalogMissing) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    data_dir = Path(args.data_dir).resolve()
    private_dir(data_dir, tighten=True)  # callers' numbers and recordings: the service user's alone
    try:
        run = asyncio.run(demo(args, data_dir))
    except DemoStartError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 2
    print(render(run.summary))
    if not run.settled:
        print(f"demo: calls still in progress after {SETTLE_LIMIT:.0f} s", file=sys.stderr)
    return 0 if run.aborted or run.summary.accounted else 1


class DemoStartError(RuntimeError):
    """The demo could not start (a port taken, the simulator would not run): one clear line."""


def demo_settings(args: argparse.Namespace, ari_url: str) -> Settings:
    """The packaged example, open around the clock with short waits; or ``--config`` as it is."""
    if args.config:
        base = load_settings(args.config)
        return base.model_copy(update=_ports(base, args, ari_url))
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
    calls = base.calls.model_copy(
        update={"ring_timeout": min(base.calls.ring_timeout, DEMO_RING_TIMEOUT), "wrap_up": 2}
    )
    return base.model_copy(
        update={
            **_ports(base, args, ari_url),
            "calls": calls,
            "branches": [b.model_copy(update={"hours": None}) for b in base.branches],
            "groups": groups,
        }
    )


def _ports(base: Settings, args: argparse.Namespace, ari_url: str) -> dict[str, object]:
    # HTTPS with the certificate the demo makes at start (``with_certificate``); no proxy.
    http = {"host": "127.0.0.1", "port": args.http_port, "require_https": None, "trusted_proxies": []}
    return {
        "ari": base.ari.model_copy(update={"url": ari_url}),
        "http": base.http.model_copy(update={**http, "tls_cert": None, "tls_key": None}),
        "fastagi": base.fastagi.model_copy(update={"host": "127.0.0.1", "port": args.fastagi_port}),
    }


def with_certificate(settings: Settings, tls: CertificateFiles) -> Settings:
    """The API served over HTTPS with the demo's own certificate, so that HSTS, secure cookies and
    the HTTPS checks run as they do in production."""
    http = settings.http.model_copy(update={"tls_cert": str(tls.cert), "tls_key": str(tls.key)})
    return settings.model_copy(update={"http": http})


def with_fallback(settings: Settings, records: Path) -> Settings:
    """The simulated PBX's fallback writes its records there; the app imports them every second.
    Its phones ring no longer than the app's would."""
    fallback = settings.fallback.model_copy(
        update={"cdr_file": str(records), "import_every": 1.0, "settle": 1.0}
    )
    ring = min(settings.asterisk.fallback_ring, max(settings.calls.ring_timeout, 5))
    return settings.model_copy(
        update={
            "fallback": fallback,
            "asterisk": settings.asterisk.model_copy(update={"fallback_ring": ring}),
        }
    )


def _render_asterisk(settings: Settings, folder: Path) -> None:
    """The Asterisk side of these settings, as `ari-app asterisk-config` renders it: the
    simulated PBX runs its [fallback] and writes its records as cdr_custom.conf says."""
    for name, text in render_asterisk(settings).items():
        (folder / name).write_text(text, encoding="utf-8")


async def demo(args: argparse.Namespace, data_dir: Path) -> DemoRun:
    password = secrets.token_urlsafe(18)
    token = secrets.token_urlsafe(24)
    pbx_logs = data_dir / "pbx"  # the simulated PBX's CDRs: callers' numbers, kept private
    private_dir(pbx_logs, tighten=True)
    records = pbx_logs / "cdr-custom" / FILE_NAME
    with tempfile.TemporaryDirectory(prefix="demo-asterisk-") as rendered:
        _render_asterisk(
            with_fallback(demo_settings(args, "http://127.0.0.1:1/ari"), records), Path(rendered)
        )
        extra = [
            "--time-scale",
            str(args.time_scale),
            "--asterisk-config",
            rendered,
            "--cdr-dir",
            str(pbx_logs),
        ]
        try:
            sim = await SimProcess.start(username="demo", password=password, seed=args.seed, extra=extra)
        except (RuntimeError, OSError, TimeoutError) as exc:
            raise DemoStartError(f"the simulated PBX did not start: {exc}") from None
    ctl = SimControl(sim.control_url)
    try:
        # A new key and certificate every run (for localhost, 127.0.0.1 and ::1): nothing to renew.
        private_dir(data_dir / "tls", tighten=True)
        tls = self_signed(data_dir / "tls")
        settings = with_certificate(with_fallback(demo_settings(args, sim.ari_url), records), tls)
        secrets_ = Secrets("demo", password, sqlite_url(data_dir / "ari-app.db"), (token,))
        app = CallCenterApp(settings, secrets_, data_dir=data_dir)
        return await _with_app(args, settings, app, sim, ctl, (token, tls.cert))
    finally:
        await ctl.close()
        await sim.stop()


async def _start(app: CallCenterApp) -> None:
    try:
        await app.start()
    except OSError as exc:
        with contextlib.suppress(Exception):
            await app.stop(drain_timeout=0)
        reason = exc.strerror or str(exc)
        raise DemoStartError(
            f"cannot start the app: {reason} ({exc}); choose free ports with --http-port and --fastagi-port"
        ) from None
    if not await app.wait_ari(15):
        await app.stop(drain_timeout=0)
        raise DemoStartError("the app could not connect to the simulated PBX")


async def _with_app(
    args: argparse.Namespace,
    settings: Settings,
    app: CallCenterApp,
    sim: SimProcess,
    ctl: SimControl,
    credentials: tuple[str, Path],  # the bearer token, the certificate the API is served with
) -> DemoRun:
    for admin in settings.admins:
        name = admin.endpoint.split("/", 1)[1]
        await ctl.set_phone(name, "no_answer", caller_name=admin.name, caller_number=name[-3:])
    stop, abort = _signals()
    await _start(app)
    token, ca_file = credentials
    access = ApiAccess(f"https://127.0.0.1:{app.http_port}", token, ca_file)
    print(f"demo: simulated PBX {sim.ari_url}")
    print(f"demo: API {access.url} (bearer token {token}); FastAGI 127.0.0.1:{app.fastagi_port}")
    print(f"demo: the API's certificate (self-signed, made for this run): {access.ca_file}")
    logins = await demo_logins(app.accounts, settings, datetime.now(UTC))
    print(f"demo: console {access.url}/console (accept the self-signed certificate); sign in as")
    for who in logins:
        print(f"demo:   {who.login} / {who.password}  ({who.sees})")
    print(f"demo: data in {app.data_dir} (kept between runs); Ctrl-C stops")
    placed: list[PlacedCall] = []
    settled = False
    started = datetime.now(UTC)
    mix = CallMix(settings, random.Random(args.seed), started)
    people = demo_people(mix.regulars, random.Random(args.seed + 2))
    print(f"demo: directories: {await _load_people(app, people, started)}")
    scheduler = Scheduler(access, random.Random(args.seed + 3), cards_of(people, settings))
    booking = Booking(scheduler, app, placed)
    try:
        floor = Floor(settings, ctl, access, random.Random(args.seed + 1), faults=args.faults)
        floor_done = asyncio.Event()
        floor_task = asyncio.get_running_loop().create_task(floor.run(floor_done))
        try:
            await _generate(mix, app, ctl, settings, args, stop, placed, started)
        finally:
            floor_done.set()
            await floor_task
            await floor.restore()
        settled = await _settle(app, ctl, placed, abort, started)
        await booking.finish()
        await app.facts.drain(10)
        rows = await app.store.calls_by_channels(_channels(placed))
        summary = summarise(placed, rows, await linked_kinds(app, [r.id for r in rows]))
        summary = dataclasses.replace(summary, bookings_sent=dict(scheduler.sent))
        summary = dataclasses.replace(summary, leftovers=await leftovers(app, ctl))
        if args.report:
            write_report(Path(args.report), summary, placed, await ctl.calls(), floor.done, floor.disturbed)
    finally:
        await booking.stop()
        await app.stop()
    return DemoRun(summary, abort.is_set(), settled)


def _signals() -> tuple[asyncio.Event, asyncio.Event]:
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
    return stop, abort


def _channels(placed: list[PlacedCall]) -> list[str]:
    return [p.channel_id for p in placed if p.channel_id]


async def _load_people(app: CallCenterApp, people: DemoPeople, now: datetime) -> str:
    """The demo clinic's cards and contacts, in the app's directories (idempotent: a second run
    on the same data folder updates the same cards)."""
    regions = app.settings.regions
    results = await app.directories.upsert_patients(people.patients, regions, now)
    results += await app.directories.upsert_contacts("staff", people.staff, regions, now)
    results += await app.directories.upsert_contacts("contractor", people.contractors, regions, now)
    refused = [r for r in results if r is not None]
    if refused:
        raise DemoStartError(f"the demo's directories were refused: {refused[0]}")
    counts = (len(people.patients), len(people.staff), len(people.contractors))
    return "{} patients, {} staff, {} contractors".format(*counts)


async def _generate(
    mix: CallMix,
    app: CallCenterApp,
    ctl: SimControl,
    settings: Settings,
    args: argparse.Namespace,
    stop: asyncio.Event,
    placed: list[PlacedCall],
    started: datetime,
) -> None:
    interval = 1.0 / max(args.rate, 0.01)
    next_at = time.monotonic()
    last_report = 0.0
    while not stop.is_set() and (args.calls <= 0 or len(placed) < args.calls):
        plan = mix.next_call()
        result = await ctl.place_call(**plan.control_body())
        fallback = result.get("result") == "fallback"  # the app was away: the dialplan took it
        placed.append(
            PlacedCall(len(placed) + 1, plan.kind, str(result["call_id"]), result.get("channel_id"), fallback)
        )
        next_at += interval
        now = time.monotonic()
        if now - last_report >= 2.0:
            last_report = now
            await _progress(app, len(placed), args.calls, started)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), max(0.0, next_at - time.monotonic()))


async def _settle(
    app: CallCenterApp, ctl: SimControl, placed: list[PlacedCall], abort: asyncio.Event, started: datetime
) -> bool:
    """Wait until every placed call has ended and its facts and recording are stored."""
    ours = {p.sim_call_id for p in placed}
    deadline = time.monotonic() + SETTLE_LIMIT
    while time.monotonic() < deadline and not abort.is_set():
        calls = [c for c in await ctl.calls() if c["call_id"] in ours]
        open_calls = [c for c in calls if not c.get("ended_at")]
        busy = app.switchboard.tracked or app.facts.pending or app.recordings.pending
        if not open_calls and not busy and await _all_stored(app, placed):
            await app.facts.drain(10)
            await app.recordings.drain(30)
            return True
        await _progress(app, len(placed), len(placed), started)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(abort.wait(), 2.0)
    return False


async def _all_stored(app: CallCenterApp, placed: list[PlacedCall]) -> bool:
    """Every call has its row: those the dialplan's fallback took come in with its records."""
    fallback = [p.channel_id for p in placed if p.channel_id and p.fallback]
    if not fallback:
        return True
    rows = await app.store.calls_by_channels(fallback)
    return len(rows) == len(fallback) and all(r.outcome for r in rows)


async def _progress(app: CallCenterApp, placed: int, total: int, started: datetime) -> None:
    # Rows started since this run began: cheap enough to read every few seconds for hours.
    counts = await app.store.outcome_counts(since=started)
    parts = " ".join(f"{k} {counts.get(k, 0)}" for k in OUTCOMES if k != "interrupted" or counts.get(k))
    target = f"/{total}" if total else ""
    print(f"demo: placed {placed}{target} | in progress {app.switchboard.tracked} | {parts}", flush=True)
