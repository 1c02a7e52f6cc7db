"""Dates, times, numbers and money the server writes into a page, in the page's locale and zone.

The same formats as ``i18n.js``'s ``fmt`` (both from CLDR: Babel here, ``Intl`` in the browser),
for text a template writes itself. Times are shown in the branch's zone: an aware ``datetime``
is converted, a naive one is taken as UTC (the store keeps UTC).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel import Locale
from babel import dates as babel_dates
from babel import numbers as babel_numbers


@dataclass(frozen=True)
class Formats:
    locale: Locale
    timezone: str
    currency: str

    @property
    def _zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def _local(self, when: datetime) -> datetime:
        aware = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
        return aware.astimezone(self._zone)

    def date_time(self, when: datetime) -> str:
        """The medium date and the short time (no seconds), joined the locale's way."""
        local = self._local(when)
        pattern = str(self.locale.datetime_formats["medium"])
        return pattern.replace("{1}", self.date(local)).replace("{0}", self.time(local))

    def date(self, day: date | datetime) -> str:
        local = self._local(day) if isinstance(day, datetime) else day
        return babel_dates.format_date(local, "medium", locale=self.locale)

    def time(self, when: time | datetime) -> str:
        local = self._local(when) if isinstance(when, datetime) else when
        return babel_dates.format_time(local, "short", locale=self.locale)

    def number(self, n: int | float | Decimal) -> str:
        return babel_numbers.format_decimal(n, locale=self.locale)

    def percent(self, ratio: float | Decimal) -> str:
        """``0.125`` → ``12.5%``: one decimal at most, as ``fmt.percent``."""
        rounded = round(Decimal(str(ratio)) * 100, 1) / 100
        return babel_numbers.format_percent(rounded, locale=self.locale, decimal_quantization=False)

    def money(self, amount: Decimal | str, currency: str | None = None) -> str:
        """``Decimal("-120.50")`` or ``"-120.50"``: never through a float."""
        value = amount if isinstance(amount, Decimal) else Decimal(amount)
        return babel_numbers.format_currency(value, currency or self.currency, locale=self.locale)

    @staticmethod
    def duration(seconds: int | float) -> str:
        """``65`` → ``1:05``, ``3723`` → ``1:02:03`` (the same in every locale)."""
        total = max(0, int(seconds))
        hours, rest = divmod(total, 3600)
        minutes, secs = divmod(rest, 60)
        return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
