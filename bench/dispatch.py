"""Routing decision time with a queue: ``Dispatcher.next_wave`` for 200 admins and 100 waiting callers.

Four groups of 50 admins (two branch desks, two call-center teams), the branch groups
overflowing to the call center; admins in mixed states; 100 callers already waiting across
the groups, and topics on some. Each decision is one call asking for its next wave (the admin
it gets is released again, so the picture stays the same). Prints p50/p99/max per strategy.
Pure CPU work: no I/O, one process.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta

from ari_app.routing.dispatch import AdminRuntime, Dispatcher, GroupRule
from ari_app.routing.strategies import STRATEGIES, Strategy

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
GROUPS = ("north-desk", "south-desk", "center-a", "center-b")


def build(strategy: Strategy, admins: int, waiting: int, rng: random.Random) -> Dispatcher:
    rules = [GroupRule(g, strategy, 10 if g.startswith("center") else 0, 20) for g in GROUPS]
    people = []
    for i in range(admins):
        group = GROUPS[i * len(GROUPS) // admins]
        a = AdminRuntime(
            f"admin{i:03d}",
            f"PJSIP/admin{i:03d}",
            (group,),
            frozenset({"booking"}) if i % 3 else frozenset(),
            i,
        )
        roll = rng.random()
        if roll < 0.5:
            a.on_call = f"busy-{i}"
        elif roll < 0.6:
            a.paused = "lunch"
        elif roll < 0.65:
            a.registered = False
        elif roll < 0.75:
            a.wrap_until = NOW + timedelta(seconds=5)
        a.last_call_ended = NOW - timedelta(seconds=rng.randint(1, 3600))
        a.calls_day, a.calls_today = NOW.date(), rng.randint(0, 40)
        people.append(a)
    d = Dispatcher(rules, people, wrap_up=10, rng=rng)
    for n in range(waiting):
        home = GROUPS[n % 2]
        d.seek(f"wait-{n}", (home,), ("center-a", "center-b"), NOW - timedelta(seconds=n),
               skill="booking" if n % 4 == 0 else None)  # fmt: skip
        if n % 3 == 0:
            d.widen(f"wait-{n}")
    return d


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--admins", type=int, default=200)
    p.add_argument("--waiting", type=int, default=100)
    p.add_argument("--decisions", type=int, default=20_000)
    args = p.parse_args()
    rows = []
    for strategy in STRATEGIES:
        rng = random.Random(7)
        d = build(strategy, args.admins, args.waiting, rng)
        samples = []
        for i in range(args.decisions):
            call = f"wait-{(i * 37) % args.waiting}"
            t0 = time.perf_counter()
            d.reset(call)
            wave = d.next_wave(call, NOW)
            samples.append(time.perf_counter() - t0)
            for t in wave.targets:  # give the admin back: the next decision sees the same picture
                d.leg_ended(t.admin, call)
        samples.sort()
        p50, p99, top = samples[len(samples) // 2], samples[int(len(samples) * 0.99)], samples[-1]
        rows.append((strategy, p50, p99, top))
        print(f"{strategy}: p50 {p50 * 1e6:.0f} us p99 {p99 * 1e6:.0f} us max {top * 1e6:.0f} us", flush=True)
    print(
        f"\n| strategy ({args.admins} admins, {args.waiting} waiting) | p50 | p99 | max |\n|---|---|---|---|"
    )
    for strategy, p50, p99, top in rows:
        print(f"| {strategy} | {p50 * 1e6:.0f} µs | {p99 * 1e6:.0f} µs | {top * 1e6:.0f} µs |")


if __name__ == "__main__":
    main()
