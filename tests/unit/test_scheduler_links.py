"""The scheduler's link templates: checked when the configuration is read, filled URL-encoded."""

from __future__ import annotations

import tomllib

import pytest

from ari_app.api.scheduler import scheduler_links
from ari_app.bookings.scheduler import fill, template_problem
from ari_app.config import ConfigError, SchedulerSettings, parse_settings
from tests.api_client import EXAMPLE


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("https://s.example/book?p={patient_id}&c={call_id}", None),
        ("https://s.example/b/{booking_id}/{patient_id}#{call_id}", None),
        ("http://localhost:8080/b/{booking_id}", None),
        ("http://127.0.0.1/b", None),
        ("http://s.example/b", "http:// only to localhost"),
        ("ftp://s.example/b", "must be an https:// address"),
        ("s.example/b?p={patient_id}", "must be an https:// address"),
        ("https://{patient_id}.s.example/", "not the scheme or host"),
        ("{call_id}://s.example/", "not the scheme or host"),
        ("https://s.example/?x={name}", "unknown placeholder {name}"),
        ("https://s.example/?x={patient_id.upper}", "unknown placeholder"),
        ("https://s.example/?x={patient_id[0]}", "unknown placeholder"),
        ("https://s.example/?x={patient_id!r}", "no format or conversion"),
        ("https://s.example/?x={patient_id:>9}", "no format or conversion"),
        ("https://s.example/?x={}", "unknown placeholder {}"),
        ("https://s.example/?x={", "not a URL template"),
    ],
)
def test_a_template_is_checked(template: str, problem: str | None) -> None:
    found = template_problem(template)
    assert found is None if problem is None else (found is not None and problem in found), found


def test_the_values_are_url_encoded() -> None:
    link = fill(
        "https://s.example/b/{booking_id}?p={patient_id}", {"booking_id": "../x", "patient_id": "a&b=c d#"}
    )
    assert link == "https://s.example/b/..%2Fx?p=a%26b%3Dc%20d%23"


def _settings(scheduler: dict[str, str]) -> SchedulerSettings:
    data = tomllib.loads(EXAMPLE.read_text())
    return parse_settings({**data, "scheduler": scheduler}, "clinic.toml").scheduler


@pytest.mark.parametrize(
    ("scheduler", "says"),
    [
        ({"book_url": "https://s.example/?b={booking_id}"}, "scheduler.book_url"),  # no booking when booking
        ({"cancel_url": "http://s.example/{booking_id}"}, "scheduler.cancel_url"),
        ({"move_url": "https://s.example/{patient}"}, "unknown placeholder {patient}"),
        ({"book": "https://s.example/"}, "scheduler.book"),
    ],
)
def test_the_configuration_refuses_a_bad_template_naming_it(scheduler: dict[str, str], says: str) -> None:
    with pytest.raises(ConfigError) as refused:
        _settings(scheduler)
    assert says in str(refused.value)


def test_links_for_a_call() -> None:
    links = _settings({"book_url": "https://s.example/new?p={patient_id}&c={call_id}",
                       "move_url": "https://s.example/{booking_id}/move"})  # fmt: skip
    made = scheduler_links(links, "c 1", "p/2", ["b1"])
    assert made == {
        "book": "https://s.example/new?p=p%2F2&c=c%201",
        "bookings": {"b1": {"cancel": None, "move": "https://s.example/b1/move"}},
    }
