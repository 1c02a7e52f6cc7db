"""``python -m ari_app.pbxsim``: run the simulated PBX as its own process."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys

import structlog

from ari_app.pbxsim.cdr_custom import MappingError
from ari_app.pbxsim.dialplan import DialplanError
from ari_app.pbxsim.server import PbxSim


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="pbxsim", description="A simulated Asterisk 22 speaking ARI")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--ari-port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--control-port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--seed", type=int, default=1, help="drives the order variations Asterisk shows")
    p.add_argument("--username", required=True)
    p.add_argument(
        "--password",
        default=os.environ.get("PBXSIM_PASSWORD"),
        help="ARI password (default: $PBXSIM_PASSWORD, which keeps it out of the process list)",
    )
    p.add_argument("--app-name-any", action="store_true",
                   help="a call for an app nobody registered goes to a connected app instead")  # fmt: skip
    p.add_argument("--recordings-dir", default=None, help="default: a temporary directory")
    p.add_argument("--time-scale", type=float, default=1.0,
                   help="divides every simulated delay; recordings keep simulated lengths")  # fmt: skip
    p.add_argument("--asterisk-config", default=None, metavar="DIR",
                   help="rendered Asterisk config: a call Stasis() fails for runs [fallback]")  # fmt: skip
    p.add_argument("--cdr-dir", default=None, metavar="DIR",
                   help="Asterisk's log directory: the fallback's records go to DIR/cdr-custom/")  # fmt: skip
    args = p.parse_args(argv)
    if not args.password:
        p.error("an ARI password is needed: --password or $PBXSIM_PASSWORD")
    if args.cdr_dir and not args.asterisk_config:
        p.error("--cdr-dir needs --asterisk-config (cdr_custom.conf says what a record holds)")
    return args


async def serve(args: argparse.Namespace) -> None:
    try:
        sim = PbxSim(
            username=args.username, password=args.password, host=args.host, ari_port=args.ari_port,
            control_port=args.control_port, seed=args.seed, time_scale=args.time_scale,
            recordings_dir=args.recordings_dir, app_name_any=args.app_name_any,
            asterisk_config=args.asterisk_config, cdr_dir=args.cdr_dir,
        )  # fmt: skip
    except (DialplanError, MappingError, OSError) as exc:
        raise SystemExit(f"pbxsim: {exc}") from None
    await sim.start()
    print(f"pbxsim ready ari={sim.ari_url} control={sim.control_url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await sim.stop()


def main(argv: list[str] | None = None) -> None:
    # stdout carries the ready line for whoever started us; logs go to stderr.
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    main()
