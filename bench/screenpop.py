"""Screen-pop push: offered → pop frame received, for N consoles on the app's websocket hub.

The app (`ari-app run`, HTTPS with a self-signed certificate) and the simulated PBX run as
processes, as in bench/latency.py (the app pinned to CPU 0, the rest to CPU 1). Admin users
are added as `ari-app users add` adds them, set their passwords through the one-time link
(`POST /set-password`) and sign in with `POST /login`, several sessions each; the consoles are
real websocket clients in other processes (bench/screenpop_consoles.py), one session cookie
each and the app's Origin. Calls are placed at a steady rate; each ``offered`` delta's time from
the hub queueing it (its ``at``) to a console receiving it is measured by the consoles that read.

    .venv/bin/python bench/screenpop.py [--consoles 500] [--paused-share 0.05] [--rate 2]
        [--seconds 30] [--database-url postgresql+asyncpg://...] [--client-processes 1]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import math
import os
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from latency import cpu_seconds, pct, rss_mb, settle  # bench/ is on the path when run as a script

from ari_app.auth.cli import users_command
from ari_app.config import load_settings
from ari_app.simctl import SimControl, SimProcess
from ari_app.store import Database
from ari_app.tls import client_context, self_signed

USER, PASSWORD, TOKEN = "bench", "bench-password-1", "bench-token-0123456789"
CONSOLE_PASSWORD = "pop-bench-Passw0rd-long"
HERE = Path(__file__).resolve().parent


def config(ari_url: str, port: int, data: Path, branches: int, per_branch: int, tls: Any, db: str) -> str:
    out = [f'version = 1\n[ari]\nurl = "{ari_url}"\n[database]\nurl = "{db}"\n'
           f'[http]\nport = {port}\ntls_cert = "{tls.cert}"\ntls_key = "{tls.key}"\n'
           f'[storage]\ndata_dir = "{data}"\n[calls]\nring_timeout = 20\nwrap_up = 0\n']  # fmt: skip
    for b in range(branches):
        out.append(f'[[branches]]\nid = "b{b}"\nname = "B{b}"\ndids = [{{ number = "557{b:04d}" }}]\n')
        for a in range(per_branch):
            login = f"a{b}x{a}"
            endpoint = f"PJSIP/q{b}x{a}"
            out.append(
                f'[[admins]]\nlogin = "{login}"\nname = "{login}"\nendpoint = "{endpoint}"\nbranch = "b{b}"\n'
            )
    return "".join(out)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def add_users(config_path: Path, url: str, admins: list[str], run: str) -> dict[str, str]:
    """`ari-app users add` for each admin (its command, in this process): login -> link code."""
    settings = load_settings(config_path)
    db = Database(url)
    codes: dict[str, str] = {}
    try:
        await db.migrate()
        for admin in admins:
            login = f"u{run}-{admin}"
            printed = io.StringIO()
            args = argparse.Namespace(action="add", login=login, role="admin", admin=admin)
            with contextlib.redirect_stdout(printed):
                await users_command(args, settings, db)
            codes[login] = printed.getvalue().split("#code=", 1)[1].split()[0]
    finally:
        await db.dispose()
    return codes


async def sign_in(base: str, ssl: Any, codes: dict[str, str], sessions: int) -> list[str]:
    """Each user sets a password through its link, then signs in ``sessions`` times (argon2
    verifies run in the app's threads: a few at a time keeps its loop answering)."""
    gate = asyncio.Semaphore(4)
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=ssl), cookie_jar=aiohttp.DummyCookieJar()
    ) as http:

        async def post(path: str, body: dict[str, str]) -> aiohttp.ClientResponse:
            async with gate, http.post(f"{base}{path}", json=body) as r:
                if r.status != 200:
                    raise RuntimeError(f"{path}: {r.status} {await r.text()}")
                return r

        await asyncio.gather(
            *(post("/set-password", {"code": c, "password": CONSOLE_PASSWORD}) for c in codes.values())
        )
        answers = await asyncio.gather(
            *(
                post("/login", {"login": login, "password": CONSOLE_PASSWORD})
                for login in codes
                for _ in range(sessions)
            )
        )
    return [r.cookies["__Host-session"].value for r in answers]


async def wait_healthy(base: str, ssl: Any, app: asyncio.subprocess.Process) -> None:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ssl)) as s:
        for _ in range(600):
            if app.returncode is not None:
                raise RuntimeError(f"the app exited ({app.returncode})")
            with contextlib.suppress(aiohttp.ClientError):
                async with s.get(f"{base}/healthz") as r:
                    if r.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise RuntimeError("the app did not answer /healthz")


class Clients:
    """The console processes: each connects its share of the sessions."""

    def __init__(self, procs: list[asyncio.subprocess.Process]) -> None:
        self.procs = procs

    @classmethod
    async def start(
        cls, spec: dict[str, Any], cookies: list[str], paused: int, n: int, pin: list[str]
    ) -> Clients:
        procs = []
        for i in range(n):
            share = cookies[i::n]
            mine = {**spec, "cookies": share, "paused": paused // n + (1 if i < paused % n else 0)}
            proc = await asyncio.create_subprocess_exec(
                *pin, sys.executable, str(HERE / "screenpop_consoles.py"),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                limit=1 << 28,  # the figures come back as one JSON line
            )  # fmt: skip
            assert proc.stdin is not None
            proc.stdin.write((json.dumps(mine) + "\n").encode())
            await proc.stdin.drain()
            procs.append(proc)
        for proc in procs:
            assert proc.stdout is not None
            line = await asyncio.wait_for(proc.stdout.readline(), 300)
            if not line.startswith(b"connected"):
                raise RuntimeError(f"a console process did not connect: {line!r}")
            print(line.decode().strip(), flush=True)
        return cls(procs)

    async def stop(self) -> dict[str, Any]:
        total: dict[str, Any] = {}
        for proc in self.procs:
            assert proc.stdin is not None
            proc.stdin.write(b"stop\n")
            await proc.stdin.drain()
        for proc in self.procs:
            assert proc.stdout is not None
            part = json.loads(await asyncio.wait_for(proc.stdout.readline(), 120))
            await proc.wait()
            for k, v in part.items():
                total[k] = total.get(k, 0 if not isinstance(v, list) else []) + v
        return total


async def profile(path: str | None, pid: int) -> asyncio.subprocess.Process | None:
    """py-spy sampling the app over the calls (collapsed stacks, for flamegraph.pl or reading)."""
    if path is None:
        return None
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    cmd = [spy, "record", "-p", str(pid), "-o", path, "--format", "raw", "--rate", "200", "--nonblocking"]
    return await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.DEVNULL)


async def place(ctl: SimControl, n: int, rate: float, branches: int, talk: float) -> None:
    start = time.monotonic()
    tasks = []
    for i in range(n):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        did = f"557{i % branches:04d}"
        tasks.append(asyncio.create_task(ctl.place_call(f"20256{i:05d}", did, hangup_after=talk)))
    await asyncio.gather(*tasks)


HEAD = ["consoles", "paused", "calls", "offered pops", "p50", "p95", "p99", "max", "frames", "dropped",
        "RSS/console idle", "after run"]  # fmt: skip


def report(args: argparse.Namespace, got: dict[str, Any], rss: tuple[float, float, float]) -> None:
    lat, n = got["latencies"], got["consoles"]
    before, idle, after = rss
    cells = [pct(lat, q) * 1000 for q in (0.5, 0.95, 0.99)] + [max(lat, default=math.nan) * 1000]
    per_idle, per_after = (idle - before) * 1024 / n, (after - before) * 1024 / n
    print(f"consoles {n} ({got['paused']} paused), {args.calls} calls at {args.rate:g}/s: "
          f"offered->received p50 {cells[0]:.2f} ms p95 {cells[1]:.2f} ms p99 {cells[2]:.2f} ms "
          f"max {cells[3]:.2f} ms (n={len(lat)})", flush=True)  # fmt: skip
    print(f"frames received by reading consoles {got['frames']}; reading consoles dropped "
          f"{got['dropped']}; paused consoles dropped {got['paused_dropped']} of {got['paused']} "
          f"(close codes {got['close_codes']}); lost by the client library {got['lost']} "
          "(not counted)")  # fmt: skip
    for why in got["closed_why"][:10]:
        print(f"  closed: {why}")
    print(f"app RSS: {before:.1f} MB before connecting, {idle:.1f} MB with {n} consoles idle "
          f"({per_idle:.1f} kB per console), {after:.1f} MB after the run "
          f"({per_after:.1f} kB per console)")  # fmt: skip
    print("\n| " + " | ".join(HEAD) + " |")
    print("|" + "---|" * len(HEAD))
    row = [str(n), str(got["paused"]), str(args.calls), str(len(lat)), *(f"{c:.2f} ms" for c in cells),
           str(got["frames"]), f"{got['dropped']} (paused: {got['paused_dropped']})",
           f"{per_idle:.1f} kB", f"{per_after:.1f} kB"]  # fmt: skip
    print("| " + " | ".join(row) + " |")


async def main(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="ari-popbench-"))
    pin = ["taskset", "-c"] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 and args.pin else None
    pin_app, pin_rest = ([*pin, "0"], [*pin, "1"]) if pin else ([], [])
    per_branch = math.ceil(args.users / args.branches)
    sessions = math.ceil(args.consoles / (per_branch * args.branches))
    sim = await SimProcess.start(username=USER, password=PASSWORD, seed=11, launcher=pin_rest or None)
    ctl = SimControl(sim.control_url)
    port = free_port()
    tls = self_signed(tmp)
    url = args.database_url or f"sqlite:///{tmp / 'ari-app.db'}"
    cfg = tmp / "bench.toml"
    cfg.write_text(config(sim.ari_url, port, tmp / "data", args.branches, per_branch, tls, url))
    admins = [f"a{b}x{a}" for b in range(args.branches) for a in range(per_branch)]
    codes = await add_users(cfg, url, admins, secrets.token_hex(3))
    env = {**os.environ, "ARI_USERNAME": USER, "ARI_PASSWORD": PASSWORD, "ARI_APP_API_TOKENS": TOKEN,
           "DATABASE_URL": url}  # fmt: skip
    cmd = [sys.executable, "-m", "ari_app", "run", "--config", str(cfg), "--log-level", args.app_log_level]
    log = open(args.app_log, "wb") if args.app_log else None  # noqa: ASYNC230 (before the app starts)
    out = log or asyncio.subprocess.DEVNULL
    app = await asyncio.create_subprocess_exec(*pin_app, *cmd, env=env, stdout=out, stderr=out)
    base = f"https://127.0.0.1:{port}"
    ssl = client_context(tls.cert)
    clients = None
    try:
        await wait_healthy(base, ssl, app)
        for admin in admins:
            b, a = admin[1:].split("x")
            await ctl.set_phone(f"q{b}x{a}", "answer", answer_after=args.answer_after)
        t0 = time.monotonic()
        cookies = (await sign_in(base, ssl, codes, sessions))[: args.consoles]
        print(
            f"{len(codes)} users, {len(cookies)} sessions signed in in {time.monotonic() - t0:.1f} s",
            flush=True,
        )
        await asyncio.sleep(2)
        before = rss_mb(app.pid)
        spec = {"url": f"wss://127.0.0.1:{port}/console/ws", "origin": base, "ca_file": str(tls.cert)}
        paused = round(args.paused_share * len(cookies))
        t0 = time.monotonic()
        clients = await Clients.start(spec, cookies, paused, args.client_processes, pin_rest)
        print(f"{len(cookies)} consoles connected in {time.monotonic() - t0:.1f} s", flush=True)
        await asyncio.sleep(3)
        idle = rss_mb(app.pid)
        watched = [app.pid, *(p.pid for p in clients.procs)]
        cpu0 = [cpu_seconds(pid) for pid in watched]
        spy = await profile(args.profile, app.pid)
        await place(ctl, args.calls, args.rate, args.branches, talk=args.talk)
        await settle(ctl)
        if spy is not None:
            spy.send_signal(signal.SIGINT)  # py-spy writes its profile on SIGINT
            await spy.wait()
        await asyncio.sleep(1)
        after = rss_mb(app.pid)
        cpu = [cpu_seconds(pid) - c for pid, c in zip(watched, cpu0, strict=True)]
        print(f"CPU over the calls: app {cpu[0]:.1f} s, console processes "
              f"{', '.join(f'{c:.1f}' for c in cpu[1:])} s", flush=True)  # fmt: skip
        got = await clients.stop()
        clients = None
        report(args, got, (before, idle, after))
    finally:
        if clients is not None:
            for proc in clients.procs:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
        app.terminate()
        await app.wait()
        if log is not None:
            log.close()
        await ctl.close()
        await sim.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--consoles", type=int, default=500)
    p.add_argument("--users", type=int, default=50, help="admin users; the consoles are their sessions")
    p.add_argument("--branches", type=int, default=10, help="the users are spread over these")
    p.add_argument("--paused-share", type=float, default=0.0, help="share of consoles that stop reading")
    p.add_argument("--rate", type=float, default=2.0, help="new calls per second")
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--calls", type=int, default=None, help="calls in all (default: rate * seconds)")
    p.add_argument("--answer-after", type=float, default=1.0, help="seconds an admin's phone rings")
    p.add_argument("--talk", type=float, default=3.0, help="seconds until the caller hangs up")
    p.add_argument("--database-url", default=None, help="default: SQLite in a temporary folder")
    p.add_argument("--client-processes", type=int, default=1)
    p.add_argument("--profile", default=None, help="py-spy the app over the calls into this file")
    p.add_argument("--app-log", default=None, help="the app's log (stdout and stderr) into this file")
    p.add_argument("--app-log-level", default="warning")
    p.add_argument("--no-pin", dest="pin", action="store_false", help="no taskset")
    args = p.parse_args(argv)
    if args.calls is None:
        args.calls = int(args.rate * args.seconds)
    return args


if __name__ == "__main__":
    asyncio.run(main(parse()))
