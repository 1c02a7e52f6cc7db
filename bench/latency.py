"""Call-control latency, CPU and memory: the app process against the simulated PBX process.

Latency is measured inside the simulator, on one clock: from the moment it sends an event to
the moment it receives the app's REST call that answers it. The app runs pinned to CPU 0
(`taskset`), the simulator to CPU 1. Prints one line per figure and a Markdown table.

    .venv/bin/python bench/latency.py [--seconds 15] [--rates 20,50,100] [--concurrent 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from ari_app.simctl import SimControl, SimProcess

USER, PASSWORD, TOKEN = "bench", "bench-password-1", "bench-token-0123456789"
BRANCHES = 500  # two admins each: 1,000 admins, enough for 1,000 answered calls at once


def config(ari_url: str, port: int, data: Path) -> str:
    out = [f'version = 1\n[ari]\nurl = "{ari_url}"\n[http]\nport = {port}\n[storage]\ndata_dir = "{data}"\n'
           '[calls]\nring_timeout = 20\n']  # fmt: skip
    for b in range(BRANCHES):
        out.append(
            f'[[branches]]\nid = "b{b}"\nname = "B{b}"\nrecord = true\ndids = [{{ number = "556{b:04d}" }}]\n'
        )
        for a in range(2):
            out.append(
                f'[[admins]]\nlogin = "a{b}x{a}"\nname = "A"\nendpoint = "PJSIP/p{b}x{a}"\nbranch = "b{b}"\n'
            )
    return "".join(out)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    found = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(found.group(1)) / 1024 if found else float("nan")


def latencies(
    events: list[dict[str, Any]], requests: list[dict[str, Any]]
) -> tuple[list[float], list[float]]:
    first_request: dict[str, float] = {}
    add_for_leg: dict[str, float] = {}
    for r in requests:
        parts = r["path"].split("/")
        if len(parts) > 3 and parts[2] == "channels":
            first_request.setdefault(parts[3], r["t"])
        if r["path"].endswith("/addChannel"):
            for cid in r["query"].get("channel", "").split(","):
                add_for_leg.setdefault(cid, r["t"])
    start, answer = [], []
    inbound: set[str] = set()
    for ev in events:
        cid = ev.get("channel")
        if ev["type"] == "StasisStart" and ev.get("state") == "Ring":
            inbound.add(cid)
            if cid in first_request:
                start.append(first_request[cid] - ev["t"])
        elif ev["type"] == "ChannelStateChange" and ev.get("state") == "Up" and cid in add_for_leg:
            if cid in inbound:
                continue  # the caller's own answer; we time the admin's
            if add_for_leg[cid] >= ev["t"]:
                answer.append(add_for_leg[cid] - ev["t"])
    return start, answer


async def lag_p999(http: str) -> float:
    async with (
        aiohttp.ClientSession() as s,
        s.get(f"{http}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}) as r,
    ):
        text = await r.text()
    pattern = r'clinic_event_loop_lag_seconds_bucket\{le="([0-9.e+-]+|inf)"\} ([0-9.e+]+)'
    buckets = [(float(le), float(v)) for le, v in re.findall(pattern, text.replace('"+Inf"', '"inf"'))]
    if not buckets:
        return float("nan")
    total = buckets[-1][1]
    for le, count in buckets:
        if count >= 0.999 * total:
            return le
    return float("inf")


async def place(ctl: SimControl, n: int, rate: float, talk: float) -> None:
    interval = 1.0 / rate
    start = time.monotonic()
    tasks = []
    for i in range(n):
        delay = start + i * interval - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        did = f"556{i % BRANCHES:04d}"
        tasks.append(asyncio.create_task(ctl.place_call(f"20255{i % 100000:05d}", did, hangup_after=talk)))
    await asyncio.gather(*tasks)


async def settle(ctl: SimControl, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = await ctl.state()
        if not state["channels"] and not state["bridges"]:
            return
        await asyncio.sleep(0.5)


async def main(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="ari-bench-"))
    pin = ["taskset", "-c"] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else None
    sim = await SimProcess.start(
        username=USER, password=PASSWORD, seed=9, launcher=[*pin, "1"] if pin else None
    )
    ctl = SimControl(sim.control_url)
    port = 18080
    (tmp / "bench.toml").write_text(config(sim.ari_url, port, tmp / "data"))
    env = {**os.environ, "ARI_USERNAME": USER, "ARI_PASSWORD": PASSWORD, "ARI_APP_API_TOKENS": TOKEN}
    cmd = [
        sys.executable,
        "-m",
        "ari_app",
        "run",
        "--config",
        str(tmp / "bench.toml"),
        "--log-level",
        "warning",
    ]
    app = await asyncio.create_subprocess_exec(
        *([*pin, "0"] if pin else []), *cmd, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    http = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                async with aiohttp.ClientSession() as s, s.get(f"{http}/healthz") as r:
                    if r.status == 200:
                        break
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
        for b in range(BRANCHES):
            for a in range(2):
                await ctl.set_phone(f"p{b}x{a}", "answer", answer_after=0.3)
        rows = []
        for rate in [float(x) for x in args.rates.split(",")]:
            await ctl.clear_requests()
            n = int(rate * args.seconds)
            cpu0, sim0 = cpu_seconds(app.pid), cpu_seconds(sim.proc.pid)
            await place(ctl, n, rate, talk=1.0)
            await settle(ctl)
            cpu = cpu_seconds(app.pid) - cpu0
            sim_cpu = cpu_seconds(sim.proc.pid) - sim0
            start, answer = latencies(await ctl.events(), await ctl.requests())
            rows.append(
                (
                    rate,
                    n,
                    pct(start, 0.5),
                    pct(start, 0.99),
                    pct(answer, 0.99),
                    cpu / n * 1000,
                    sim_cpu / n * 1000,
                )
            )
            print(f"rate {rate:g}/s calls {n}: StasisStart->first command p50 {pct(start, .5)*1000:.2f} ms "
                  f"p99 {pct(start, .99)*1000:.2f} ms; answer->bridged p99 {pct(answer, .99)*1000:.2f} ms "
                  f"(n={len(answer)}); app CPU {cpu / n * 1000:.2f} ms/call; "
                  f"simulator CPU {sim_cpu / n * 1000:.2f} ms/call", flush=True)  # fmt: skip
        lag = await lag_p999(http)
        print(f"event-loop lag p99.9 <= {lag * 1000:.1f} ms", flush=True)
        await place(ctl, args.concurrent, 100, talk=600)
        await asyncio.sleep(3)
        state = await ctl.state()
        bridged = sum(1 for b in state["bridges"] if len(b["channels"]) >= 2)
        mem = rss_mb(app.pid)
        print(f"memory with {bridged} calls in progress: {mem:.0f} MB RSS", flush=True)
        head = [
            "rate (calls/s)",
            "calls",
            "StasisStart->first command p50",
            "p99",
            "answer->bridged p99",
            "app CPU/call",
            "simulator CPU/call",
        ]
        print("\n| " + " | ".join(head) + " |")
        print("|---|---|---|---|---|---|---|")
        for rate, n, p50, p99, ans, cpu_ms, sim_ms in rows:
            cells = [
                f"{rate:g}",
                str(n),
                *(f"{v * 1000:.2f} ms" for v in (p50, p99, ans)),
                f"{cpu_ms:.2f} ms",
                f"{sim_ms:.2f} ms",
            ]
            print("| " + " | ".join(cells) + " |")
    finally:
        app.terminate()
        await app.wait()
        await ctl.close()
        await sim.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=15)
    p.add_argument("--rates", default="20,50,100")
    p.add_argument("--concurrent", type=int, default=1000)
    asyncio.run(main(p.parse_args()))
