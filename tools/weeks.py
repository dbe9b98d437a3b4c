"""ISO weeks (Monday to Sunday, UTC): parsing ``2024-W07``, shifting, and the last complete week of the data."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from tools.errors import ArgumentError, DataError

_WEEK = re.compile(r"^\s*(\d{4})-?W(\d{1,2})\s*$", re.IGNORECASE)


@dataclass(frozen=True, order=True)
class IsoWeek:
    """One ISO week.

    Attributes:
        year: the ISO year (may differ from the calendar year around New Year).
        week: the ISO week number, 1..53.
    """

    year: int
    week: int

    @classmethod
    def parse(cls, text: str) -> IsoWeek:
        """``"2024-W07"`` (also ``2024W07``, ``2024-w7``) as an ``IsoWeek``.

        Raises:
            ArgumentError: not an ISO week, or a week the year does not have.
        """
        match = _WEEK.match(str(text))
        if not match:
            raise ArgumentError(f"week {text!r} is not an ISO week; write it like 2024-W07")
        year, week = int(match.group(1)), int(match.group(2))
        try:
            date.fromisocalendar(year, week, 1)
        except ValueError:
            raise ArgumentError(f"week {text!r} does not exist: ISO year {year} has no week {week}") from None
        return cls(year, week)

    @classmethod
    def of(cls, moment: date | datetime) -> IsoWeek:
        """The ISO week containing a date or (naive UTC) date-time."""
        iso = moment.isocalendar()
        return cls(iso[0], iso[1])

    @property
    def label(self) -> str:
        """``2024-W07``."""
        return f"{self.year}-W{self.week:02d}"

    @property
    def start(self) -> datetime:
        """Monday 00:00 UTC (naive)."""
        monday = date.fromisocalendar(self.year, self.week, 1)
        return datetime(monday.year, monday.month, monday.day)

    @property
    def end(self) -> datetime:
        """The next Monday 00:00 UTC (exclusive end)."""
        return self.start + timedelta(days=7)

    @property
    def first_day(self) -> date:
        """The Monday."""
        return self.start.date()

    @property
    def last_day(self) -> date:
        """The Sunday."""
        return (self.start + timedelta(days=6)).date()

    def shift(self, weeks: int) -> IsoWeek:
        """The week ``weeks`` later (negative: earlier)."""
        return IsoWeek.of(self.start + timedelta(weeks=weeks))

    def __str__(self) -> str:
        return self.label


def last_complete_week(first: datetime, last: datetime) -> IsoWeek:
    """The last ISO week the data covers completely: its Sunday has data, and the data started by its Monday.

    Args:
        first: the data's first event time (naive UTC).
        last: the data's last event time (naive UTC).

    Raises:
        DataError: the data covers no complete ISO week.
    """
    week = IsoWeek.of(last)
    if last.date() < week.last_day:
        week = week.shift(-1)
    if first > week.start + timedelta(days=1):
        raise DataError(
            f"the data ({first:%Y-%m-%d} to {last:%Y-%m-%d}) covers no complete ISO week (Monday to Sunday, UTC); "
            "a weekly memo needs at least one, plus the week before it for comparison"
        )
    return week


def weeks_between(first: IsoWeek, last: IsoWeek) -> list[IsoWeek]:
    """Every week from ``first`` to ``last`` inclusive."""
    out = []
    week = first
    while week <= last:
        out.append(week)
        week = week.shift(1)
    return out
