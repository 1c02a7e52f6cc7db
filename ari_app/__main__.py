"""Command line: ari-app run | demo | check-config | migrate | import | relink | users | tokens."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ari_app.config import ConfigError, Settings, database_url, load_secrets, load_settings
from ari_app.logging import setup_logging

if TYPE_CHECKING:
    from ari_app.people.importer import DirectorySink


def _resolve_data_dir(settings: Settings, config_path: Path) -> Path:
    data = Path(settings.storage.data_dir)
    return data if data.is_absolute() else (config_path.parent / data).resolve()


def cmd_check_config(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    for warning in settings.warnings():
        print(f"{args.config}: {warning}", file=sys.stderr)
    admins = len(settings.admins)
    dids = sum(len(b.dids) for b in settings.branches)
    print(
        f"{args.config}: ok ({len(settings.branches)} branches, {dids} DIDs, "
        f"{len(settings.groups)} groups, {len(settings.topics)} topics, {admins} admins)"
    )
    return 0


def _load(args: argparse.Namespace) -> tuple[Settings, Path]:
    settings = load_settings(args.config)
    return settings, Path(args.config)


def _database_url(url: str, config_path: Path) -> str:
    """A relative SQLite path in the file is relative to the file, as the data folder is."""
    for prefix in ("sqlite+aiosqlite:///", "sqlite:///"):
        if url.startswith(prefix) and not url.startswith(prefix + "/"):
            return f"{prefix}{(config_path.parent / url.removeprefix(prefix)).resolve()}"
    return url


def _settings_and_database(args: argparse.Namespace) -> tuple[Settings, str] | None:
    """The configuration and the database URL a command works on; None (said on stderr) when
    the configuration cannot be read. Each command exits with its own code for that."""
    try:
        settings, path = _load(args)
        return settings, _database_url(database_url(settings), path)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return None


def cmd_migrate(args: argparse.Namespace) -> int:
    from ari_app.store import Database, StoreUnavailable

    loaded = _settings_and_database(args)
    if loaded is None:
        return 2
    url = loaded[1]

    async def go() -> None:
        db = Database(url)
        try:
            await db.migrate()
        finally:
            await db.dispose()

    try:
        asyncio.run(go())
    except StoreUnavailable as exc:
        print(f"ari-app: {exc}", file=sys.stderr)
        return 3
    print("database migrated to the latest schema")
    return 0


def _install_stop(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


def cmd_run(args: argparse.Namespace) -> int:
    from ari_app.app import CallCenterApp, serve_forever
    from ari_app.facts.spool import SpoolError
    from ari_app.i18n.catalogs import CatalogMissing
    from ari_app.store import StoreUnavailable

    try:
        settings, path = _load(args)
        secrets = load_secrets(settings)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    setup_logging(args.log_level)
    data_dir = Path(args.data_dir).resolve() if args.data_dir else _resolve_data_dir(settings, path)
    secrets = dataclasses.replace(secrets, database_url=_database_url(secrets.database_url, path))

    # Database drivers and the recording archive run in threads; a short GIL switch interval
    # keeps them from holding the event loop up for the default 5 ms when an event arrives.
    sys.setswitchinterval(0.0005)
    # Collect the young generation less often, so that collections do not stall call handling
    # for tens of milliseconds (serve_forever also freezes what start-up built).
    gc.set_threshold(20_000, 50, 100)

    async def main() -> None:
        stop = asyncio.Event()
        _install_stop(stop)
        app = CallCenterApp(settings, secrets, data_dir=data_dir, migrate=True if args.migrate else None)
        await serve_forever(app, stop)

    try:
        asyncio.run(main())
    except (StoreUnavailable, SpoolError, CatalogMissing) as exc:
        print(f"ari-app: {exc}", file=sys.stderr)
        return 3
    except OSError as exc:  # e.g. the HTTP port is taken
        print(f"ari-app: cannot start: {exc}", file=sys.stderr)
        return 3
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from ari_app.demo import run_demo

    return run_demo(args)


def cmd_asterisk_config(args: argparse.Namespace) -> int:
    import difflib

    from ari_app.asterisk_config import render

    try:
        files = render(load_settings(args.config))
    except ConfigError as exc:
        print(str(ConfigError(args.config, exc.problems)), file=sys.stderr)
        return 2
    out = Path(args.out)
    if not args.check:
        out.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (out / name).write_text(text, encoding="utf-8")
        print(f"{args.config}: wrote {len(files)} files to {out}")
        return 0
    differ = 0
    for name, text in files.items():
        path = out / name
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            differ += 1
            print(f"{path}: differs from the render of {args.config}")
            diff = difflib.unified_diff(
                current.splitlines(keepends=True),
                text.splitlines(keepends=True),
                str(path),
                f"{path} (rendered)",
            )
            sys.stderr.writelines(diff)
    return 1 if differ else 0


def _directory_sink(db: Any, settings: Settings) -> DirectorySink:
    """The directories' store, where imported rows go, redoing the booking links the patients'
    cards change (tests replace it with one in memory)."""
    from ari_app.bookings.cards import RelinkingDirectory
    from ari_app.bookings.store import BookingStore, windows_from
    from ari_app.store.directory import DirectoryStore

    return RelinkingDirectory(DirectoryStore(db), BookingStore(db, windows_from(settings.bookings)))


def cmd_import(args: argparse.Namespace) -> int:
    """Exit 0: every row imported; 2: some rows rejected (the others are in); 1: the file (or
    the configuration) cannot be read, nothing imported; 3: the database is unavailable."""
    from ari_app.people.csvfile import CsvFileError
    from ari_app.people.importer import EXIT_FILE, ImportReport, run_import
    from ari_app.store import Database, StoreUnavailable

    loaded = _settings_and_database(args)
    if loaded is None:
        return EXIT_FILE
    settings, url = loaded
    if args.kind == "bookings":
        from ari_app.bookings.cli import import_file

        return import_file(args.file, args.timezone, url, settings, args.quiet)

    async def go() -> ImportReport:
        db = Database(url)
        try:
            await db.migrate()  # idempotent; a first import into a new database makes its tables
            return await run_import(
                args.kind,
                Path(args.file),
                _directory_sink(db, settings),
                settings.regions,
                rejects=Path(args.rejects) if args.rejects else None,
                ignore_unknown_columns=args.ignore_unknown_columns,
                quiet=args.quiet,
            )
        finally:
            await db.dispose()

    try:
        report = asyncio.run(go())
    except CsvFileError as exc:
        print(f"{args.file}: {exc}", file=sys.stderr)
        return EXIT_FILE
    except OSError as exc:
        print(f"{args.file}: cannot read: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FILE
    except StoreUnavailable as exc:
        print(f"ari-app: {exc} (rows of earlier batches may be in)", file=sys.stderr)
        return 3
    print(f"{args.file}: {report.summary()}")
    return report.exit_code


def cmd_relink(args: argparse.Namespace) -> int:
    """Every booking event's link since a date, then every call's class, with progress."""
    from ari_app.bookings.cli import relink

    loaded = _settings_and_database(args)
    if loaded is None:
        return 1
    settings, url = loaded
    return relink(args.since, url, settings, args.quiet)


def cmd_accounts(args: argparse.Namespace) -> int:
    """``users`` and ``tokens`` (``ari_app.auth.cli``)."""
    from ari_app.auth.cli import run

    loaded = _settings_and_database(args)
    if loaded is None:
        return 2
    settings, url = loaded
    return run(args.run, args, settings, url)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ari-app", description="Clinic call-center server for Asterisk ARI")
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("check-config", help="validate a configuration file and exit")
    c.add_argument("config")
    c.set_defaults(func=cmd_check_config)

    ac = sub.add_parser("asterisk-config", help="render the Asterisk configuration files from a config file")
    ac.add_argument("config")
    ac.add_argument("--out", default="asterisk-config", help="where the files go (default: asterisk-config)")
    ac.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file there differs")
    ac.set_defaults(func=cmd_asterisk_config)

    mg = sub.add_parser("migrate", help="bring the database schema up to date")
    mg.add_argument("--config", required=True)
    mg.set_defaults(func=cmd_migrate)

    r = sub.add_parser("run", help="serve a real Asterisk")
    r.add_argument("--config", required=True)
    r.add_argument("--migrate", action="store_true", help="migrate the database before starting")
    r.add_argument(
        "--data-dir", default=None, help="recordings and the SQLite file (default: storage.data_dir)"
    )
    r.add_argument("--log-level", default="info")
    r.set_defaults(func=cmd_run)

    im = sub.add_parser("import", help="load a clinic's CSV export into a directory or the bookings feed")
    im.add_argument("kind", choices=["patients", "staff", "contractors", "bookings"])
    im.add_argument("file", help="the CSV: UTF-8 (with or without BOM), columns split by ; , or tab")
    im.add_argument("--config", required=True, help="the clinic configuration (database, branch regions)")
    im.add_argument("--rejects", default=None, help="write the rejected rows here, with a reason column")
    im.add_argument("--quiet", action="store_true", help="no progress bar")
    im.add_argument(
        "--ignore-unknown-columns", action="store_true", help="skip columns the import does not know"
    )
    im.add_argument(
        "--timezone",
        default=None,
        help="bookings: where times without a UTC offset were written (Europe/Berlin)",
    )
    im.set_defaults(func=cmd_import)

    rl = sub.add_parser("relink", help="recompute every booking link and call class since a date")
    rl.add_argument("--since", required=True, help="a date (2026-01-31, UTC) or a time with its offset")
    rl.add_argument("--config", required=True, help="the clinic configuration (database, windows)")
    rl.add_argument("--quiet", action="store_true", help="no progress line")
    rl.set_defaults(func=cmd_relink)

    from ari_app.auth.cli import add_parsers

    add_parsers(sub, cmd_accounts)

    d = sub.add_parser("demo", help="run against the simulated PBX with generated calls")
    d.add_argument(
        "--calls",
        type=int,
        default=0,
        help="place N calls, wait for them to end, print a summary (0: until Ctrl-C)",
    )
    d.add_argument("--rate", type=float, default=1.0, help="new calls per second")
    d.add_argument("--data-dir", default="demo-data")
    d.add_argument("--seed", type=int, default=7)
    d.add_argument("--http-port", type=int, default=8080, help="the API's port (0: any free port)")
    d.add_argument("--fastagi-port", type=int, default=0, help="FastAGI's port (default 0: any free port)")
    d.add_argument("--faults", action="store_true", help="the PBX misbehaves now and then (see README)")
    d.add_argument("--report", default=None, help="also write the run, call by call, as JSON to this file")
    d.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="the simulated callers and admins act this many times faster (the app's own timers do not)",
    )
    d.add_argument("--config", default=None, help="configuration (default: the packaged example)")
    d.add_argument("--log-level", default="warning")
    d.set_defaults(func=cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
