"""The demo's people on the console: a manager (every branch's calls, the wallboard) and the first
admin of the configuration (their own pops), each with a new password every run, printed once.

A second run on the same data folder finds the users there: their passwords are set again (the
old ones and their sessions end), so the printed ones are always the ones that work.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from ari_app.auth.accounts import Accounts
from ari_app.config import Settings

MANAGER = "manager"


@dataclass(frozen=True)
class DemoLogin:
    login: str
    password: str
    sees: str  # what the console shows this person, for the banner


async def demo_logins(accounts: Accounts, settings: Settings, now: datetime) -> list[DemoLogin]:
    admin = settings.admins[0]
    people = [
        (MANAGER, "manager", None, None, "every call, the wallboard"),
        (admin.login, "admin", admin.login, admin.branch, f"{admin.name}'s pops"),
    ]
    out = []
    for login, role, admin_login, branch, sees in people:
        if await accounts.users.get(login) is None:
            await accounts.users.add(login, role, admin_login, branch, now)
        password = secrets.token_urlsafe(12)  # 16 characters, never on the common list
        code = await accounts.users.new_link(login, now, timedelta(minutes=5), reset=True)
        if code is None:  # pragma: no cover - the user was added or found just above
            raise RuntimeError(f"no user {login!r}")
        await accounts.users.use_link(code, await accounts.passwords.hash_off_loop(password), now)
        out.append(DemoLogin(login, password, sees))
    return out
