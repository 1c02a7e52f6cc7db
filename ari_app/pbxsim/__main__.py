"""``python -m ari_app.pbxsim``: run the simulated PBX as its own process."""

from __future__ import annotations

import argparse
import asyncio
import signal

from ari_app.pbxsim.server import PbxSim


def main() -> None:
    p = argparse.ArgumentParser(prog="pbxsim", description="Simulated Asterisk 22 PBX speaking ARI")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--ari-port", type=int, default=0)
    p.add_argument("--control-port", type=int, default=0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--username", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--time-scale", type=float, default=1.0)
    args = p.parse_args()

    async def run() -> None:
        sim = PbxSim(
            username=args.username, password=args.password, host=args.host, ari_port=args.ari_port,
            control_port=args.control_port, seed=args.seed, time_scale=args.time_scale,
        )  # fmt: skip
        await sim.start()
        print(f"pbxsim ready ari={sim.ari_url} control={sim.control_url}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await sim.stop()

    asyncio.run(run())


if __name__ == "__main__":
    main()
