"""Time intervals (Alertmanager ``time_intervals``): mute or activate routes by clock time.

An interval matches an instant when every field it sets matches (an unset field matches all):
``times`` (``HH:MM`` start inclusive, end exclusive), ``weekdays`` (``monday:friday``),
``days_of_month`` (``1:5``, ``-1`` = last day), ``months`` (``january:march`` or ``1:3``),
``years`` (``2026:2027``), all read in ``location`` (IANA zone, default UTC).

>>> from datetime import datetime, UTC
>>> office = TimeInterval.build(times=[("09:00", "17:00")], weekdays=["monday:friday"])
>>> office.contains(datetime(2026, 11, 27, 10, 0, tzinfo=UTC))  # a Friday
True
>>> office.contains(datetime(2026, 11, 28, 10, 0, tzinfo=UTC))  # Saturday
False
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from mlmon_alerting.schema import StrictModel

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = tuple(m.lower() for m in calendar.month_name[1:])

Range = tuple[int, int]


def _parse_hhmm(text: str) -> int:
    """Minutes since midnight for ``HH:MM`` (``24:00`` allowed as an end)."""
    try:
        hh, mm = text.split(":")
        h, m = int(hh), int(mm)
    except ValueError:
        raise ValueError(f"invalid time {text!r}; expected HH:MM") from None
    if not (0 <= h <= 24 and 0 <= m < 60) or (h == 24 and m != 0):
        raise ValueError(f"invalid time {text!r}; expected HH:MM between 00:00 and 24:00")
    return h * 60 + m


def parse_times(pairs: Iterable[tuple[str, str]]) -> list[Range]:
    out = []
    for start, end in pairs:
        s, e = _parse_hhmm(start), _parse_hhmm(end)
        if s >= e:
            raise ValueError(f"start_time {start!r} must be before end_time {end!r}")
        out.append((s, e))
    return out


def _named_or_number(token: str, names: Sequence[str], lo: int, hi: int, what: str) -> int:
    token = token.strip().lower()
    if token in names:
        return names.index(token) + lo
    try:
        n = int(token)
    except ValueError:
        raise ValueError(f"invalid {what} {token!r}; valid: {', '.join(names) or f'{lo}..{hi}'}") from None
    if not lo <= n <= hi:
        raise ValueError(f"invalid {what} {token!r}; must be between {lo} and {hi}")
    return n


def parse_ranges(items: Iterable[str], names: Sequence[str], lo: int, hi: int, what: str) -> list[Range]:
    """Parse ``a`` or ``a:b`` tokens (names or numbers) into inclusive ranges."""
    out = []
    for item in items:
        a, _, b = str(item).partition(":")
        first = _named_or_number(a, names, lo, hi, what)
        last = _named_or_number(b, names, lo, hi, what) if b else first
        if first > last and not (last < 0 < first):
            raise ValueError(f"invalid {what} range {item!r}: start after end")
        out.append((first, last))
    return out


def parse_location(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown location {name!r}; use an IANA time zone such as Europe/Paris") from None


def _in(ranges: Sequence[Range], value: int) -> bool:
    return not ranges or any(a <= value <= b for a, b in ranges)


def _day_in_month(ranges: Sequence[Range], day: int, days_in_month: int) -> bool:
    if not ranges:
        return True
    for a, b in ranges:
        a2 = a if a > 0 else days_in_month + a + 1
        b2 = b if b > 0 else days_in_month + b + 1
        if a2 <= day <= b2:
            return True
    return False


@dataclass(frozen=True)
class TimeInterval:
    """One parsed interval; build with :meth:`build` (validates) or from the config model."""

    times: tuple[Range, ...] = ()
    weekdays: tuple[Range, ...] = ()
    days_of_month: tuple[Range, ...] = ()
    months: tuple[Range, ...] = ()
    years: tuple[Range, ...] = ()
    location: str = "UTC"

    @classmethod
    def build(
        cls,
        times: Iterable[tuple[str, str]] = (),
        weekdays: Iterable[str] = (),
        days_of_month: Iterable[str] = (),
        months: Iterable[str] = (),
        years: Iterable[str] = (),
        location: str = "UTC",
    ) -> TimeInterval:
        parse_location(location)
        return cls(
            times=tuple(parse_times(times)),
            weekdays=tuple(parse_ranges(weekdays, WEEKDAYS, 0, 6, "weekday")),
            days_of_month=tuple(parse_ranges(days_of_month, (), -31, 31, "day of month")),
            months=tuple(parse_ranges(months, MONTHS, 1, 12, "month")),
            years=tuple(parse_ranges(years, (), 1, 9999, "year")),
            location=location,
        )

    def contains(self, now: datetime) -> bool:
        """True when the (aware) instant ``now`` falls inside this interval."""
        local = now.astimezone(ZoneInfo(self.location))
        minute = local.hour * 60 + local.minute
        days = calendar.monthrange(local.year, local.month)[1]
        return (
            (not self.times or any(s <= minute < e for s, e in self.times))
            and _in(self.weekdays, local.weekday())
            and _day_in_month(self.days_of_month, local.day, days)
            and _in(self.months, local.month)
            and _in(self.years, local.year)
        )


def active(intervals: Iterable[TimeInterval], now: datetime) -> bool:
    """True when any of ``intervals`` contains ``now``."""
    return any(i.contains(now) for i in intervals)


# --- config models ----------------------------------------------------------------------------------


class TimeRange(StrictModel):
    start_time: str
    end_time: str


class TimeIntervalSpec(StrictModel):
    times: list[TimeRange] = Field(default_factory=list)
    weekdays: list[str] = Field(default_factory=list)
    days_of_month: list[str] = Field(default_factory=list)
    months: list[str] = Field(default_factory=list)
    years: list[str] = Field(default_factory=list)
    location: str = "UTC"

    @field_validator("times")
    @classmethod
    def _times(cls, v: list[TimeRange]) -> list[TimeRange]:
        parse_times((t.start_time, t.end_time) for t in v)
        return v

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, v: list[str]) -> list[str]:
        parse_ranges(v, WEEKDAYS, 0, 6, "weekday")
        return v

    @field_validator("days_of_month")
    @classmethod
    def _days(cls, v: list[str]) -> list[str]:
        parse_ranges(v, (), -31, 31, "day of month")
        return v

    @field_validator("months")
    @classmethod
    def _months(cls, v: list[str]) -> list[str]:
        parse_ranges(v, MONTHS, 1, 12, "month")
        return v

    @field_validator("years")
    @classmethod
    def _years(cls, v: list[str]) -> list[str]:
        parse_ranges(v, (), 1, 9999, "year")
        return v

    @field_validator("location")
    @classmethod
    def _location(cls, v: str) -> str:
        parse_location(v)
        return v

    def build(self) -> TimeInterval:
        return TimeInterval.build(
            [(t.start_time, t.end_time) for t in self.times],
            self.weekdays,
            self.days_of_month,
            self.months,
            self.years,
            self.location,
        )


class NamedTimeInterval(StrictModel):
    name: str = Field(min_length=1)
    time_intervals: list[TimeIntervalSpec] = Field(min_length=1)
