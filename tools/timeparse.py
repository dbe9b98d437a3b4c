"""Timestamp normalisation to naive UTC, written as portable Ibis expressions.

Accepted inputs, per value:

* ISO-8601 text with an offset or ``Z`` -> that instant in UTC;
* ISO-8601 text or native timestamps/dates without an offset -> local time in ``[data] timezone`` (DST-aware,
  with the first occurrence chosen for ambiguous local times), converted to UTC;
* epoch numbers (or numeric text): seconds, milliseconds or microseconds, told apart per value by magnitude
  (|x| < 1e11 -> s, < 1e14 -> ms, else µs; exact for dates between 1973 and 5138), kept to the millisecond.

The engine session must run in UTC (the loader sets it) so that casts between zoned and naive values are exact.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import ibis
import ibis.expr.types as ir

_OFFSET_RE = r"\d{2}:\d{2}(:\d{2}(\.\d+)?)?\s*([Zz]|UTC|[+-]\d{2}(:?\d{2})?)$"
_NUMERIC_RE = r"^\s*-?\d+(\.\d+)?\s*$"

TIMESTAMP_RULES = {
    "output": "naive timestamps in UTC",
    "offsets": "ISO-8601 offsets and 'Z' are honoured",
    "naive": "values without an offset are local time in [data] timezone (DST-aware)",
    "epoch": "numbers are epoch seconds (<1e11), milliseconds (<1e14) or microseconds, kept to the millisecond",
}


def _epoch_ms(value: ir.NumericValue) -> ir.IntegerValue:
    size = value.abs()
    ms = ibis.cases(
        (size < 100_000_000_000, value * 1000),
        (size < 100_000_000_000_000, value),
        else_=value / 1000,
    )
    return ms.floor().cast("int64")


def _epoch_timestamp(ms: ir.IntegerValue) -> ir.TimestampValue:
    # Whole seconds plus a millisecond interval: PySpark converts epoch values only in seconds.
    return (ms // 1000).as_timestamp("s") + (ms % 1000).as_interval("ms")


def utc_transitions(tz: str, start: datetime, end: datetime) -> list[tuple[datetime, timedelta, timedelta]]:
    """Offset changes of ``tz`` between two naive UTC datetimes: (utc instant, offset before, offset after)."""
    zone = ZoneInfo(tz)
    out: list[tuple[datetime, timedelta, timedelta]] = []
    step = timedelta(hours=1)
    cursor = start.replace(minute=0, second=0, microsecond=0) - timedelta(days=2)
    stop = end + timedelta(days=2)
    previous = cursor.replace(tzinfo=UTC).astimezone(zone).utcoffset()
    while cursor <= stop:
        cursor += step
        offset = cursor.replace(tzinfo=UTC).astimezone(zone).utcoffset()
        if offset != previous and offset is not None and previous is not None:
            out.append((cursor, previous, offset))
        previous = offset
    return out


def local_to_utc(local: ir.TimestampValue, tz: str, start: datetime | None, end: datetime | None) -> ir.Value:
    """Convert naive local times in ``tz`` to naive UTC over the range [start, end] of the data."""
    if tz == "UTC" or start is None or end is None:
        return local
    zone = ZoneInfo(tz)
    first = start.replace(tzinfo=UTC).astimezone(zone).utcoffset() or timedelta(0)
    transitions = utc_transitions(tz, start - timedelta(days=1), end + timedelta(days=1))
    if not transitions:
        return local - ibis.interval(seconds=int(first.total_seconds()))
    branches = []
    offset = first
    for instant, before, after in transitions:
        # Local times before instant+max(before, after) still use the old offset: the first occurrence of
        # an ambiguous time, and the pre-transition offset for a time that does not exist (like zoneinfo fold=0).
        boundary = instant + max(before, after)
        branches.append((local < ibis.timestamp(boundary), local - ibis.interval(seconds=int(before.total_seconds()))))
        offset = after
    return ibis.cases(*branches, else_=local - ibis.interval(seconds=int(offset.total_seconds())))


def to_utc(column: ir.Value, tz: str, data_range: tuple[datetime, datetime] | None = None) -> ir.Value:
    """Parse one column of any supported timestamp shape into naive UTC (NULL where it cannot be parsed)."""
    dtype = column.type()
    start, end = data_range if data_range else (None, None)
    if dtype.is_timestamp():
        if dtype.timezone is not None:  # type: ignore[attr-defined]
            return column.cast("timestamp")
        return local_to_utc(column, tz, start, end)
    if dtype.is_date():
        return local_to_utc(column.cast("timestamp"), tz, start, end)
    if dtype.is_integer() or dtype.is_floating() or dtype.is_decimal():
        return _epoch_timestamp(_epoch_ms(column.cast("float64")))
    text = column.cast("string").strip()
    numeric = text.re_search(_NUMERIC_RE)
    epoch = _epoch_timestamp(_epoch_ms(text.try_cast("float64")))
    has_offset = text.re_search(_OFFSET_RE)
    zoned = text.try_cast("timestamp('UTC')").cast("timestamp")
    naive = local_to_utc(text.try_cast("timestamp"), tz, start, end)
    return ibis.cases((numeric, epoch), (has_offset, zoned), else_=naive)


def naive_range(column: ir.Value) -> ir.Value | None:
    """The column read as naive timestamps (to bound the DST table), or None for epoch numbers."""
    dtype = column.type()
    if dtype.is_timestamp() or dtype.is_date():
        value = column.cast("timestamp")
    elif dtype.is_string():
        value = column.strip().try_cast("timestamp")
    else:
        return None
    return value
