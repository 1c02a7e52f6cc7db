"""The pure parts of sign-in: password rules, the hash's cost, session endings, login throttling,
scopes and what each role sees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ari_app.auth.passwords import (
    MIN_MEMORY_KIB,
    PRODUCTION,
    HashCost,
    Passwords,
    memory_kib_of,
    password_problem,
)
from ari_app.auth.principal import Principal, needed_scope, scope_problem
from ari_app.auth.sessions import ending
from ari_app.auth.throttle import LoginThrottle, ThrottleRule

T0 = datetime(2026, 12, 14, 9, 0, tzinfo=UTC)
IDLE = timedelta(minutes=10)


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short-one", "at least 12 characters"),
        ("password1234", "too common"),
        ("PASSWORD1234", "too common"),  # the list is compared case-insensitively
        ("1QAZ2WSX3EDC", "too common"),
        ("anna-anna-anna-1", "must not contain the login"),
        ("aaaaaaaaaaaaaaaa", "too few different characters"),
        ("x" * 1025, "at most 1024 characters"),
        ("violet tram kettle 42", None),
        ("Жёлтый трамвай едет", None),  # any script: length is in characters
    ],
)
def test_which_passwords_are_refused(password: str, problem: str | None) -> None:
    said = password_problem(password, "anna", 12)
    assert (said is None) if problem is None else (said is not None and said.startswith(problem))


def test_the_production_hash_takes_at_least_19_mib_as_its_stored_parameters_say() -> None:
    assert PRODUCTION.memory_kib >= MIN_MEMORY_KIB == 19 * 1024
    stored = Passwords().hash("violet tram kettle 42")
    assert stored.startswith("$argon2id$") and memory_kib_of(stored) >= 19 * 1024


def test_a_cheaper_hash_is_only_ever_asked_for() -> None:
    cheap = Passwords(HashCost(memory_kib=1024, passes=1))
    stored = cheap.hash("violet tram kettle 42")
    assert memory_kib_of(stored) == 1024
    assert cheap.verify(stored, "violet tram kettle 42") and not cheap.verify(stored, "violet tram kettle 43")
    assert not cheap.verify(None, "violet tram kettle 42")  # no password yet: the decoy never matches
    assert not cheap.verify("not a hash", "x")


@pytest.mark.parametrize(
    ("last_seen", "expires", "revoked", "disabled", "now", "why"),
    [
        (T0, T0 + timedelta(hours=12), None, False, T0 + timedelta(minutes=9), None),
        (T0, T0 + timedelta(hours=12), None, False, T0 + timedelta(minutes=10), "idle"),
        (
            T0 + timedelta(hours=11, minutes=55),
            T0 + timedelta(hours=12),
            None,
            False,
            T0 + timedelta(hours=12),
            "expired",
        ),
        (T0, T0 + timedelta(hours=12), T0, False, T0 + timedelta(seconds=1), "revoked"),
        (T0, T0 + timedelta(hours=12), None, True, T0 + timedelta(seconds=1), "disabled"),
    ],
)
def test_when_a_session_ends(
    last_seen: datetime,
    expires: datetime,
    revoked: datetime | None,
    disabled: bool,
    now: datetime,
    why: str | None,
) -> None:
    assert ending(last_seen, expires, revoked, disabled, now, IDLE) == why


@pytest.mark.parametrize(
    ("failures", "delay"),
    [(0, 0.0), (2, 0.0), (3, 1.0), (4, 2.0), (5, 4.0), (12, 512.0), (13, 900.0), (1000, 900.0)],
)
def test_the_delay_doubles_past_the_free_tries_up_to_its_cap(failures: int, delay: float) -> None:
    assert ThrottleRule(free=3, base=1.0, cap=900.0).delay(failures) == delay


def test_a_thousand_wrong_passwords_from_one_address_are_slowed_and_the_user_elsewhere_signs_in_at_once() -> (
    None
):
    throttle = LoginThrottle()
    now, waits = 0.0, []
    for _ in range(1000):  # each try as early as the throttle hears it: the guesser's best pace
        wait = throttle.wait("anna", "203.0.113.9", now)
        waits.append(wait)
        now += wait
        throttle.failed("anna", "203.0.113.9", now)
    assert waits == sorted(waits) and waits[0] == 0.0 and waits[-1] == 900.0  # growing, to the cap
    assert now > 200 * 3600  # 1,000 tries took the guesser over eight days
    assert throttle.wait("anna", "198.51.100.7", now) == 0.0  # the real user, from their own address
    assert throttle.wait("ben", "198.51.100.7", now) == 0.0


def test_one_address_guessing_many_logins_is_slowed_too() -> None:
    throttle = LoginThrottle()
    for i in range(25):
        throttle.failed(f"user{i}", "203.0.113.9", 0.0)
    assert throttle.wait("someone-new", "203.0.113.9", 0.0) > 0
    assert throttle.wait("someone-new", "198.51.100.7", 0.0) == 0.0


def test_a_success_clears_the_login_and_old_failures_are_forgotten() -> None:
    throttle = LoginThrottle(forget_after=3600.0, max_keys=4)
    for _ in range(5):
        throttle.failed("anna", "a", 0.0)
    assert throttle.wait("anna", "a", 0.0) > 0
    throttle.succeeded("anna", "a")
    assert throttle.wait("anna", "a", 0.0) == 0.0
    throttle.failed("ben", "b", 0.0)
    assert throttle.wait("ben", "b", 7200.0) == 0.0  # forgotten after an hour without failures
    for i in range(10):
        throttle.failed(f"u{i}", f"addr{i}", 10.0)
    assert len(throttle) <= 4  # nothing tracked forever


@pytest.mark.parametrize(
    ("area", "method", "scope"),
    [("calls", "GET", "calls:read"), ("calls", "HEAD", "calls:read"), ("calls", "PUT", "calls:write"),
     ("directories", "POST", "directories:write"), ("desk", "DELETE", "desk:write")],
)  # fmt: skip
def test_the_scope_each_request_needs(area: str, method: str, scope: str) -> None:
    assert needed_scope(area, method) == scope


def test_scopes_and_what_each_principal_sees() -> None:
    assert scope_problem("calls:read") is None and scope_problem("*") is None
    assert scope_problem("calls:admin") is not None
    crm = Principal(kind="service", name="crm", scopes=frozenset({"calls:read"}))
    assert crm.may("calls:read") and not crm.may("calls:write") and crm.sees_every_call
    anna = Principal(kind="user", name="anna", role="admin", admin_login="anna", branch="downtown")
    assert anna.sees_call("downtown", set()) and anna.sees_call("riverside", {"anna"})
    assert not anna.sees_call("riverside", {"dana"}) and not anna.sees_call(None, set())
    assert Principal(kind="user", name="boss", role="manager").sees_call("riverside", set())
    assert (anna.actor, crm.actor) == ("user:anna", "token:crm")
