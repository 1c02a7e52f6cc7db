"""Routing decision time: ``offer()`` for a group of 200 admins in mixed states, per strategy.

Prints p50/p99 per strategy and a Markdown table. Pure CPU work: no I/O, one process.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta

from ari_app.routing.strategies import STRATEGIES, AdminState, Presence, offer

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def team(n: int, rng: random.Random) -> list[AdminState]:
    states = list(Presence)
    return [
        AdminState(
            f"admin{i:03d}",
            f"PJSIP/admin{i:03d}",
            order=i,
            presence=rng.choice(states),
            last_call_ended=None if rng.random() < 0.1 else NOW - timedelta(seconds=rng.randint(1, 7200)),
            calls_today=rng.randint(0, 40),
        )
        for i in range(n)
    ]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--admins", type=int, default=200)
    p.add_argument("--decisions", type=int, default=20_000)
    args = p.parse_args()
    rng = random.Random(7)
    admins = team(args.admins, rng)
    rows = []
    for strategy in STRATEGIES:
        samples = []
        for i in range(args.decisions):
            last = admins[i % len(admins)].login
            preferred = admins[(i * 7) % len(admins)].login if i % 3 == 0 else None
            t0 = time.perf_counter()
            offer(strategy, admins, last_offered=last, preferred=preferred, rng=rng)
            samples.append(time.perf_counter() - t0)
        samples.sort()
        p50, p99 = samples[len(samples) // 2], samples[int(len(samples) * 0.99)]
        rows.append((strategy, p50, p99))
        print(f"{strategy}: p50 {p50 * 1e6:.0f} us p99 {p99 * 1e6:.0f} us", flush=True)
    print(f"\n| strategy ({args.admins} admins) | p50 | p99 |\n|---|---|---|")
    for strategy, p50, p99 in rows:
        print(f"| {strategy} | {p50 * 1e6:.0f} µs | {p99 * 1e6:.0f} µs |")


if __name__ == "__main__":
    main()
