"""Opening hours and holidays of a branch, in its own time zone. Pure: the time is an argument.

A week of opening intervals (local wall-clock times), a country's public holidays from the
``holidays`` library (optionally a region of it), the clinic's own closed days, and special
days with their own hours (a Saturday clinic before a holiday, a holiday it opens anyway).
Local times are turned into instants with ``zoneinfo``, so a day that changes to or from
daylight saving time opens and closes at the right instants.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

import holidays as holiday_calendars


@dataclass(frozen=True)
class Interval:
    opens: time
    closes: time  # after ``opens``, the same day

    def __post_init__(self) -> None:
        if self.closes <= self.opens:
            raise ValueError(f"closes ({self.closes}) must be after opens ({self.opens})")


@dataclass(frozen=True)
class Schedule:
    timezone: str
    week: Mapping[int, tuple[Interval, ...]]  # 0 = Monday; a missing day is closed
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    closed_days: frozenset[date] = frozenset()
    special_days: Mapping[date, tuple[Interval, ...]] = field(default_factory=dict)

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def holiday(self, day: date) -> str | None:
        """The holiday's name when ``day`` is a public holiday or one of the clinic's closed days."""
        if day in self.closed_days:
            return "clinic closed"
        if self.holiday_country is None:
            return None
        calendar = _calendar(self.holiday_country, self.holiday_subdivision, day.year)
        name = calendar.get(day)
        return str(name) if name else None

    def intervals(self, day: date) -> tuple[Interval, ...]:
        if day in self.special_days:
            return self.special_days[day]
        if self.holiday(day):
            return ()
        return self.week.get(day.weekday(), ())


@dataclass(frozen=True)
class OpenStatus:
    open: bool
    reason: str  # "open" | "closed_hours" | "holiday"
    holiday: str | None = None
    closes_at: datetime | None = None  # while open: when this interval ends (UTC)
    next_open: datetime | None = None  # while closed: when it opens next (UTC), within 14 days

    def closing_within(self, seconds: float, now: datetime) -> bool:
        return self.open and self.closes_at is not None and (self.closes_at - now).total_seconds() <= seconds


def status(schedule: Schedule, now: datetime) -> OpenStatus:
    """Whether the branch is open at ``now`` (an aware instant), and until or from when."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    local_day = now.astimezone(schedule.zone).date()
    for opens, closes in _instants(schedule, local_day):
        if opens <= now < closes:
            return OpenStatus(True, "open", closes_at=closes)
    holiday = None if local_day in schedule.special_days else schedule.holiday(local_day)
    return OpenStatus(
        False,
        "holiday" if holiday else "closed_hours",
        holiday=holiday,
        next_open=next_opening(schedule, now),
    )


def next_opening(schedule: Schedule, now: datetime, horizon_days: int = 14) -> datetime | None:
    local_day = now.astimezone(schedule.zone).date()
    for offset in range(horizon_days + 1):
        for opens, _ in _instants(schedule, local_day + timedelta(days=offset)):
            if opens > now:
                return opens
    return None


def _instants(schedule: Schedule, day: date) -> list[tuple[datetime, datetime]]:
    zone = schedule.zone
    out = []
    for iv in schedule.intervals(day):
        opens = datetime.combine(day, iv.opens, tzinfo=zone).astimezone(UTC)
        closes = datetime.combine(day, iv.closes, tzinfo=zone).astimezone(UTC)
        out.append((opens, closes))
    return out


_CALENDARS: dict[tuple[str, str | None, int], holiday_calendars.HolidayBase] = {}


def _calendar(country: str, subdivision: str | None, year: int) -> holiday_calendars.HolidayBase:
    key = (country, subdivision, year)
    if key not in _CALENDARS:
        _CALENDARS[key] = holiday_calendars.country_holidays(country, subdiv=subdivision, years=year)
    return _CALENDARS[key]
