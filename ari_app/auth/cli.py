"""``ari-app users add|disable|reset|list`` and ``ari-app tokens add|list|disable``.

A new user, or a reset, prints a one-time link to set a password (never a password): the code
is in the link's fragment (``/set-password#code=...``), which a browser does not send to any
server. A token is printed once, when made; the database keeps only its hash. Every change is in
the audit trail (actor ``cli``).

Exit codes: 0 done; 1 refused (unknown login, a user or token that exists, a bad role or scope);
2 the configuration cannot be read; 3 the database is unavailable.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from ari_app.auth.audit import AuditLog
from ari_app.auth.principal import DESK_ROLES, ROLES, scope_problem
from ari_app.auth.tokens import ServiceTokens, TokenExists
from ari_app.auth.users import UserExists, UserStore
from ari_app.config import Settings
from ari_app.store import Database, StoreUnavailable

ACTOR = "cli"


class Refused(Exception):
    """A command that cannot be done as asked: its message says why."""


def password_link(settings: Settings, code: str) -> str:
    base = settings.auth.public_url or f"https://{settings.http.host}:{settings.http.port}"
    return f"{base.rstrip('/')}/set-password#code={code}"


def _tie(settings: Settings, role: str, login: str, admin: str | None) -> tuple[str | None, str | None]:
    """The [[admins]] login and branch an admin or assistant is tied to (managers: none)."""
    if role not in ROLES:
        raise Refused(f"role must be one of {', '.join(ROLES)}")
    if role not in DESK_ROLES:
        if admin is not None:
            raise Refused("a manager is tied to no [[admins]] login: leave --admin out")
        return None, None
    tied = settings.admin(admin or login)
    if tied is None:
        raise Refused(f"no [[admins]] login {admin or login!r} in the configuration: give --admin LOGIN")
    return tied.login, tied.branch


async def users_command(args: argparse.Namespace, settings: Settings, db: Database) -> None:
    users, trail, now = UserStore(db), AuditLog(db), datetime.now(UTC)
    valid = timedelta(hours=settings.auth.link_hours)
    if args.action == "list":
        for u in await users.all():
            state = "disabled" if u.disabled else ("active" if u.has_password else "no password yet")
            tie = f" {u.admin_login}@{u.branch}" if u.admin_login else ""
            print(f"{u.login}\t{u.role}{tie}\t{state}")
        return
    login = args.login
    if args.action == "add":
        admin, branch = _tie(settings, args.role, login, args.admin)
        try:
            await users.add(login, args.role, admin, branch, now)
        except UserExists as exc:
            raise Refused(str(exc)) from None
        code = await users.new_link(login, now, valid, reset=False)
        await trail.record(
            "user_added", ACTOR, now, subject=login, detail={"role": args.role, "admin": admin}
        )
    elif args.action == "reset":
        code = await users.new_link(login, now, valid, reset=True)
        if code is None:
            raise Refused(f"no user {login!r}")
        await trail.record("user_reset", ACTOR, now, subject=login)
    else:
        if await users.disable(login, now) is None:
            raise Refused(f"no user {login!r}")
        await trail.record("user_disabled", ACTOR, now, subject=login)
        print(f"{login}: disabled; their sessions have ended")
        return
    assert code is not None
    print(f"{login}: open this link within {settings.auth.link_hours} h to set a password (it works once):")
    print(password_link(settings, code))


async def tokens_command(args: argparse.Namespace, _: Settings, db: Database) -> None:
    tokens, trail, now = ServiceTokens(db), AuditLog(db), datetime.now(UTC)
    if args.action == "list":
        for t in await tokens.all():
            state = f"disabled {t.disabled_at:%Y-%m-%d}" if t.disabled_at else "active"
            print(f"{t.name}\t{' '.join(t.scopes)}\t{state}")
        return
    if args.action == "disable":
        if not await tokens.disable(args.name, now):
            raise Refused(f"no token named {args.name!r}")
        await trail.record("token_disabled", ACTOR, now, subject=args.name)
        print(f"{args.name}: disabled")
        return
    scopes = tuple(dict.fromkeys(args.scope))
    problems = [p for p in map(scope_problem, scopes) if p]
    if problems:
        raise Refused(problems[0])
    try:
        token = await tokens.add(args.name, scopes, now)
    except TokenExists as exc:
        raise Refused(str(exc)) from None
    await trail.record("token_added", ACTOR, now, subject=args.name, detail={"scopes": list(scopes)})
    print(f"{args.name}: its token (shown once; send it as Authorization: Bearer <token>):")
    print(token)


Command = Callable[[argparse.Namespace, Settings, Database], Awaitable[None]]


def run(command: Command, args: argparse.Namespace, settings: Settings, url: str) -> int:
    async def go() -> None:
        db = Database(url)
        try:
            await db.migrate()  # idempotent: the first user of a new database makes its tables
            await command(args, settings, db)
        finally:
            await db.dispose()

    try:
        asyncio.run(go())
    except Refused as exc:
        print(f"ari-app: {exc}", file=sys.stderr)
        return 1
    except StoreUnavailable as exc:
        print(f"ari-app: {exc}", file=sys.stderr)
        return 3
    return 0


def add_parsers(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], handler: Callable[..., int]
) -> None:
    u = sub.add_parser("users", help="console users: add, disable, reset a password, list")
    uu = u.add_subparsers(dest="action", required=True)
    add = uu.add_parser("add", help="a new user; prints a one-time link to set their password")
    add.add_argument("login")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument(
        "--admin", default=None, help="admins, assistants: their [[admins]] login (default: LOGIN)"
    )
    for action, what in (("disable", "end their sessions; they cannot sign in"), ("reset", "a new link")):
        p = uu.add_parser(action, help=what)
        p.add_argument("login")
    uu.add_parser("list", help="every user, role and state")
    t = sub.add_parser("tokens", help="service tokens for systems: add, list, disable")
    tt = t.add_subparsers(dest="action", required=True)
    ta = tt.add_parser("add", help="a new token, printed once")
    ta.add_argument("name")
    ta.add_argument(
        "--scope", action="append", required=True, help="calls:read, directories:write... (repeat)"
    )
    tt.add_parser("list", help="every token's name, scopes and state")
    td = tt.add_parser("disable", help="the token stops working at once")
    td.add_argument("name")
    for parser in (add, *(uu.choices[a] for a in ("disable", "reset", "list")), ta, td, tt.choices["list"]):
        parser.add_argument("--config", required=True, help="the clinic configuration (database, admins)")
    u.set_defaults(func=handler, run=users_command)
    t.set_defaults(func=handler, run=tokens_command)
