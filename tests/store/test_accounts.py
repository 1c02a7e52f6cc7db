"""Users, password links, sessions, service tokens and the audit trail on SQLite and PostgreSQL;
the audit trail refuses UPDATE and DELETE on both."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from ari_app.auth.audit import AuditLog
from ari_app.auth.sessions import SessionLimits, SessionStore
from ari_app.auth.tokens import ServiceTokens
from ari_app.auth.users import UserExists, UserStore
from ari_app.store import Database

T0 = datetime(2026, 12, 14, 9, 0, tzinfo=UTC)
DAY = timedelta(hours=24)


async def test_a_password_link_works_once_and_a_reset_ends_what_came_before(db: Database) -> None:
    users, sessions = UserStore(db), SessionStore(db, SessionLimits())
    anna = await users.add("anna", "admin", "anna", "downtown", T0)
    with pytest.raises(UserExists):
        await users.add("anna", "manager", None, None, T0)
    code = await users.new_link("anna", T0, DAY, reset=False)
    assert code is not None and (await users.link_user(code, T0)) == anna
    assert await users.link_user(code, T0 + DAY) is None  # expired
    assert (await users.use_link(code, "hash-1", T0)) is not None
    assert await users.use_link(code, "hash-2", T0) is None  # once only
    found = await users.password_hash("anna")
    assert found is not None and found[1] == "hash-1"
    session = await sessions.start(anna.id, "198.51.100.7", "test", T0)
    again = await users.new_link("anna", T0, DAY, reset=True)
    assert again is not None
    assert (await users.password_hash("anna")) == (await users.get("anna"), None)  # the old one is gone
    assert await sessions.find(session.session_id, T0) is None  # and the sessions with it
    assert await users.new_link("nobody", T0, DAY, reset=True) is None


async def test_sessions_end_when_idle_at_their_end_at_logout_and_when_the_user_is_disabled(
    db: Database,
) -> None:
    users = UserStore(db)
    sessions = SessionStore(db, SessionLimits(idle=timedelta(minutes=10), absolute=timedelta(hours=12)))
    user = await users.add("ben", "admin", "ben", "downtown", T0)
    one = await sessions.start(user.id, "198.51.100.7", "agent", T0)
    view = await sessions.find(one.session_id, T0 + timedelta(minutes=9))
    assert view is not None and view.principal.admin_login == "ben" and view.csrf_token == one.csrf_token
    assert await sessions.find(one.session_id, T0 + timedelta(minutes=10)) is None  # idle
    two = await sessions.start(user.id, "198.51.100.7", "agent", T0)
    two_view = await sessions.find(two.session_id, T0)
    assert two_view is not None
    now = T0  # kept in use: it lives to its absolute end, no longer
    while now < T0 + timedelta(hours=12) - timedelta(minutes=9):
        now += timedelta(minutes=9)
        await sessions.touch(two_view.id_hash, now)
        assert await sessions.find(two.session_id, now) is not None
    assert await sessions.find(two.session_id, T0 + timedelta(hours=12)) is None  # absolute end
    three = await sessions.start(user.id, "198.51.100.7", "agent", T0)
    three_view = await sessions.find(three.session_id, T0)
    assert three_view is not None and await sessions.live({three_view.id_hash}, T0) == {three_view.id_hash}
    await sessions.end(three_view.id_hash, T0)
    assert (
        await sessions.find(three.session_id, T0) is None
        and await sessions.live({three_view.id_hash}, T0) == set()
    )
    four = await sessions.start(user.id, "198.51.100.7", "agent", T0)
    await users.disable("ben", T0)
    assert await sessions.find(four.session_id, T0) is None


async def test_the_database_keeps_only_hashes_of_session_ids_codes_and_tokens(db: Database) -> None:
    users, sessions, tokens = UserStore(db), SessionStore(db, SessionLimits()), ServiceTokens(db)
    user = await users.add("chen", "admin", "chen", "downtown", T0)
    code = await users.new_link("chen", T0, DAY, reset=False)
    session = await sessions.start(user.id, "198.51.100.7", "agent", T0)
    token = await tokens.add("crm", ("calls:read",), T0)
    stored = ""
    async with db.engine.connect() as conn:
        for table in ("auth_sessions", "password_links", "service_tokens"):
            for row in (await conn.execute(text(f"SELECT * FROM {table}"))).all():
                stored += " ".join(str(v) for v in row)
    assert code and session.session_id not in stored and code not in stored and token not in stored


async def test_service_tokens_carry_their_scopes_until_disabled(db: Database) -> None:
    tokens = ServiceTokens(db)
    token = await tokens.add("crm", ("calls:read", "directories:write"), T0)
    found = await tokens.find(token)
    assert found is not None and found.scopes == {"calls:read", "directories:write"} and found.name == "crm"
    assert await tokens.find(token + "x") is None and await tokens.find("not-ours") is None
    assert await tokens.disable("crm", T0) and not await tokens.disable("nobody", T0)
    assert await tokens.find(token) is None
    assert [t.name for t in await tokens.all()] == ["crm"]


async def test_the_audit_trail_pages_newest_first_and_refuses_update_and_delete(db: Database) -> None:
    trail = AuditLog(db)
    for i in range(5):
        await trail.record("patient_opened", "user:anna", T0 + timedelta(seconds=i), subject=f"p-{i}")
    first = await trail.page(2)
    assert [e.subject for e in first.events] == ["p-4", "p-3"] and first.next_cursor
    second = await trail.page(2, first.next_cursor)
    third = await trail.page(2, second.next_cursor)
    assert [e.subject for e in second.events + third.events] == ["p-2", "p-1", "p-0"]
    assert third.next_cursor is None
    for statement in ("UPDATE audit_events SET actor = 'user:mallory'", "DELETE FROM audit_events"):
        with pytest.raises(Exception, match="append-only"):
            async with db.engine.begin() as conn:
                await conn.execute(text(statement))
    assert len((await trail.page(10)).events) == 5  # nothing changed
