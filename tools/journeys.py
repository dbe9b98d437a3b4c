"""Journeys for attribution, built in the engine, and the small aggregated path table they reduce to.

Semantics (ARCHITECTURE.md, printed in every attribution ``definition``):

* a **touch** is an event with a non-empty channel; the conversion event itself is never a touch, even when it
  carries a channel (a purchase tagged ``email`` is the outcome, not a step towards it);
* a **converting journey** is the touches strictly before one conversion event and at or after the customer's
  previous conversion, within ``lookback`` of the conversion (a touch at the very instant of a conversion
  belongs to the next journey);
* a customer who never converts contributes **one non-converting journey** of all their touches (no lookback);
  touches after a customer's last conversion are in no journey (they are counted in the notes);
* repeated channels are kept, in time order (ties broken by channel name, so the order is deterministic).

The engine returns one row per distinct path (conversions, non-conversions, revenue) — a few thousand rows
even for millions of customers — and, for time-decay, the credit per (path, channel) summed in the engine.
Everything here is portable Ibis (window functions, a sorted string aggregation), tested on DuckDB and Spark.

``load_path_table`` reads the conversion-path export many analytics tools give instead of events.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import numpy as np

from tools.durations import format_duration
from tools.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

    from tools.dataset import Dataset

STAGE_PREFIX = "stage:"  # funnel stages become Markov states named like this, never confused with channels
PATH_SEP = " > "
_KEY_SEP = "\x1f"  # joins path elements inside the engine (cannot occur in a channel name read from text)
_POS_DIGITS = 10  # fixed-width row-number prefix that makes a lexicographic array sort a time-order sort
_POS_BASE = 1_000_000_000  # row numbers are written as 1_000_000_000 + rn: always 10 digits, no padding needed

JOURNEY_RULES = {
    "touch": "an event with a non-empty channel, other than the conversion event",
    "converting_journey": (
        "the touches strictly before a conversion event, at or after the previous conversion, within lookback"
    ),
    "non_converting_journey": "all touches of a customer who never converts (no lookback)",
    "repeats": "repeated channels are kept in time order (ties broken by channel name)",
    "after_last_conversion": "touches after a customer's last conversion are in no journey",
}


@dataclass(frozen=True)
class TimeDecayCredit:
    """Time-decay credit summed in the engine: one row per (distinct path, channel).

    Attributes:
        path_index: index into ``PathTable.paths``.
        channel: the credited channel.
        credit: conversions credited (each journey's weights normalised to 1, summed over its journeys).
        revenue: revenue credited the same way.
    """

    path_index: np.ndarray
    channel: np.ndarray
    credit: np.ndarray
    revenue: np.ndarray


@dataclass
class PathTable:
    """Distinct journey paths with their outcomes: everything the path-based models need.

    Attributes:
        paths: each distinct path, a tuple of states (channels, and ``stage:<event>`` states when stages were
            included), in time order.
        conversions: converting journeys with this path.
        non_conversions: non-converting journeys with this path.
        revenue: revenue of the converting journeys with this path.
        source: ``events`` or the path file read.
        definition: the journey semantics and parameters used.
        stats: counts for the notes (journeys, conversions without touches, touches dropped and why).
        time_decay: time-decay credit per (path, channel), only when built from events with a half-life.
    """

    paths: list[tuple[str, ...]]
    conversions: np.ndarray
    non_conversions: np.ndarray
    revenue: np.ndarray
    source: str = "events"
    definition: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, float] = field(default_factory=dict)
    time_decay: TimeDecayCredit | None = None

    @property
    def total_conversions(self) -> float:
        return float(self.conversions.sum())

    @property
    def total_revenue(self) -> float:
        return float(self.revenue.sum())

    def channels(self) -> list[str]:
        """Channels that occur in any path, sorted (stage states excluded)."""
        return sorted({s for p in self.paths for s in p if not s.startswith(STAGE_PREFIX)})

    def stages(self) -> list[str]:
        """Stage states that occur in any path (with their prefix), sorted."""
        return sorted({s for p in self.paths for s in p if s.startswith(STAGE_PREFIX)})

    def to_frame(self) -> pd.DataFrame:
        """The table as a DataFrame (path joined by `` > ``), sorted by path: for display and comparisons."""
        import pandas as pd

        frame = pd.DataFrame(
            {
                "path": [PATH_SEP.join(p) for p in self.paths],
                "conversions": self.conversions,
                "non_conversions": self.non_conversions,
                "revenue": self.revenue,
            }
        )
        return frame.sort_values("path", kind="stable").reset_index(drop=True)


def _union_rows(t: ir.Table, conversion: str, stages: tuple[str, ...]) -> ir.Table:
    """Conversions (kind 0), touches (kind 1) and, optionally, stage events (kind 2) in one narrow table."""
    conv = t.filter(t.event == conversion).select(
        customer_id=t.customer_id,
        ts=t.timestamp,
        kind=ibis.literal(0, "int8"),
        state=ibis.null("string"),
        revenue=t.revenue.fill_null(0.0),
    )
    touch = t.filter(t.channel.notnull() & (t.event != conversion)).select(
        customer_id=t.customer_id,
        ts=t.timestamp,
        kind=ibis.literal(1, "int8"),
        state=t.channel,
        revenue=ibis.null("float64"),
    )
    parts = [conv, touch]
    if stages:
        st = t.filter(t.event.isin(list(stages))).select(
            customer_id=t.customer_id,
            ts=t.timestamp,
            kind=ibis.literal(2, "int8"),
            state=ibis.literal(STAGE_PREFIX) + t.event,
            revenue=ibis.null("float64"),
        )
        parts.append(st)
    return ibis.union(*parts)


def journey_rows(dataset: Dataset, conversion: str, lookback: timedelta, stages: tuple[str, ...] = ()) -> ir.Table:
    """Every touch (and stage event) labelled with its journey: an Ibis expression, nothing is computed.

    Columns: ``customer_id``, ``jid`` (journey number within the customer), ``ts``, ``kind`` (0 conversion,
    1 touch, 2 stage), ``state``, ``revenue`` (conversion rows), ``rn`` (row order within the customer),
    ``conv_ts`` (the journey's conversion time, NULL for non-converting groups) and ``keep`` (the row is a
    state of its journey).
    """
    t = dataset.events
    u = _union_rows(t, conversion, stages)
    # One ordered pass per customer. Conversions seen so far count a conversion before any touch at the same
    # instant (kind 0 sorts first), so such a touch starts the next journey: "strictly before a conversion".
    ordered = ibis.window(group_by=u.customer_id, order_by=[u.ts, u.kind, u.state, u.revenue], rows=(None, 0))
    u = u.mutate(seen=(u.kind == 0).cast("int64").sum().over(ordered), rn=ibis.row_number().over(ordered))
    u = u.mutate(jid=ibis.cases((u.kind == 0, u.seen), else_=u.seen + 1)).drop("seen")
    # The k-th conversion closes journey k; a join on the few conversions is cheaper than another window.
    conv = t.filter(t.event == conversion)
    nth = ibis.row_number().over(group_by=conv.customer_id, order_by=[conv.timestamp, conv.revenue.fill_null(0.0)])
    convs = conv.select(customer_id=conv.customer_id, jid=nth + 1, conv_ts=conv.timestamp)
    u = u.left_join(convs, ["customer_id", "jid"])
    u = u.select(*[c for c in u.columns if not c.endswith("_right")])
    # Whole seconds as before; a fractional lookback keeps its microseconds instead of being truncated.
    micros = round(lookback.total_seconds() * 1_000_000)
    span = ibis.interval(seconds=micros // 1_000_000) if micros % 1_000_000 == 0 else ibis.interval(microseconds=micros)
    lookback_start = u.conv_ts - span
    keep = (u.kind != 0) & ibis.cases(
        (u.conv_ts.notnull(), u.ts >= lookback_start),
        else_=u.jid == 1,  # a customer who never converts: one journey of all touches
    )
    return u.mutate(keep=keep)


def _path_key(rows: ir.Table) -> ir.StringValue:
    """The journey's states in time order joined by one separator, as an aggregate (portable: no ordered
    aggregation is needed — each element is prefixed with its fixed-width row number, the array is sorted,
    and the prefixes are cut off again)."""
    element = (rows.rn + _POS_BASE).cast("string") + rows.state
    ordered = element.collect(where=rows.keep).sort()
    return ordered.map(lambda e: e.substr(_POS_DIGITS)).join(_KEY_SEP)


def _path_query(rows: ir.Table) -> ir.Table:
    journeys = rows.group_by(["customer_id", "jid"]).agg(
        key=_path_key(rows),
        converted=(rows.kind == 0).any(),
        revenue=rows.revenue.sum(where=rows.kind == 0),
        states=rows.keep.cast("int64").sum(),
        touches=(rows.keep & (rows.kind == 1)).cast("int64").sum(),
        dropped_lookback=(~rows.keep & (rows.kind == 1) & rows.conv_ts.notnull()).cast("int64").sum(),
        after_last=((rows.kind == 1) & rows.conv_ts.isnull() & (rows.jid > 1)).cast("int64").sum(),
    )
    # Journeys with no kept state (a conversion without touches, or only dropped touches) share one NULL key.
    key = ibis.cases((journeys.states > 0, journeys.key), else_=ibis.null("string"))
    journeys = journeys.mutate(key=key)
    return journeys.group_by("key").agg(
        conversions=journeys.converted.cast("int64").sum(),
        non_conversions=(~journeys.converted).cast("int64").sum(),
        # Converting journeys with no kept touch (none at all, or only stage states): credited to no channel.
        untouched=(journeys.converted & (journeys.touches == 0)).cast("int64").sum(),
        revenue=journeys.revenue.fill_null(0.0).sum(),
        dropped_lookback=journeys.dropped_lookback.sum(),
        after_last=journeys.after_last.sum(),
    )


def _decode(key: str) -> tuple[str, ...]:
    return tuple(key.split(_KEY_SEP))


def _time_decay_query(rows: ir.Table, half_life: timedelta) -> ir.Table:
    journeys = rows.group_by(["customer_id", "jid"]).agg(key=_path_key(rows))
    touches = rows.filter(rows.keep & (rows.kind == 1) & rows.conv_ts.notnull())
    age = touches.conv_ts.epoch_seconds() - touches.ts.epoch_seconds()
    touches = touches.mutate(weight=(age.cast("float64") * (-math.log(2.0) / half_life.total_seconds())).exp())
    per_journey = ibis.window(group_by=[touches.customer_id, touches.jid])
    touches = touches.mutate(credit=touches.weight / touches.weight.sum().over(per_journey))
    revenue = rows.filter(rows.kind == 0).select("customer_id", "jid", conv_revenue=rows.revenue)
    joined = touches.join(journeys, ["customer_id", "jid"]).join(revenue, ["customer_id", "jid"])
    return joined.group_by(["key", "state"]).agg(
        credit=joined.credit.sum(), revenue=(joined.credit * joined.conv_revenue).sum()
    )


def build_path_table(
    dataset: Dataset,
    conversion: str,
    lookback: timedelta,
    stages: tuple[str, ...] = (),
    half_life: timedelta | None = None,
) -> PathTable:
    """Build journeys in the engine and return the distinct-path table.

    Args:
        dataset: the loaded events.
        conversion: the conversion event.
        lookback: touches older than this before a conversion are not part of its journey.
        stages: funnel stage events to include as states (``stage:<event>``), for Markov ``--include-stages``.
        half_life: when given, also compute time-decay credit per (path, channel) in the engine.

    Raises:
        ArgumentError: the conversion event or a stage does not occur in the data.
        DataError: the data has no touches.
    """
    dataset.require_events([conversion], what="conversion event")
    if stages:
        dataset.require_events(list(stages), what="stage")
    if not dataset.channel_counts():
        raise DataError(
            "no touches: no event has a channel, so there are no journeys to attribute; "
            "map the channel column with --map channel=COLUMN"
        )
    rows = journey_rows(dataset, conversion, lookback, stages)
    if half_life is None:
        return _table_from_rows(_path_query(rows).to_pyarrow().to_pylist(), conversion, lookback, stages)
    # Two queries read the journeys: compute them once, and drop them afterwards.
    rows, drop = _reusable(dataset, rows)
    try:
        table = _table_from_rows(_path_query(rows).to_pyarrow().to_pylist(), conversion, lookback, stages)
        table.time_decay = _time_decay(rows, half_life, table.paths)
    finally:
        drop()
    return table


def _table_from_rows(
    frame: list[dict[str, Any]], conversion: str, lookback: timedelta, stages: tuple[str, ...]
) -> PathTable:
    frame.sort(key=lambda r: (r["key"] is None, r["key"] or ""))
    stats: dict[str, float] = {
        "conversion_events": 0,
        "touches_outside_lookback": 0,
        "touches_after_last_conversion": 0,
        "conversions_without_touches": 0,
    }
    paths: list[tuple[str, ...]] = []
    conv, null, rev = [], [], []
    for row in frame:
        stats["conversion_events"] += row["conversions"]
        stats["touches_outside_lookback"] += row["dropped_lookback"]
        stats["touches_after_last_conversion"] += row["after_last"]
        stats["conversions_without_touches"] += row["untouched"]
        if row["key"] is None:
            continue
        paths.append(_decode(row["key"]))
        conv.append(row["conversions"])
        null.append(row["non_conversions"])
        rev.append(row["revenue"])
    table = PathTable(
        paths=paths,
        conversions=np.asarray(conv, dtype=float),
        non_conversions=np.asarray(null, dtype=float),
        revenue=np.asarray(rev, dtype=float),
        source="events",
        definition={
            "conversion": conversion,
            "lookback": format_duration(lookback),
            "journeys": JOURNEY_RULES,
            **({"stages_as_states": list(stages)} if stages else {}),
        },
        stats={k: int(v) for k, v in stats.items()},
    )
    table.stats["journeys"] = int(table.conversions.sum() + table.non_conversions.sum())
    return table


def _reusable(dataset: Dataset, rows: ir.Table) -> tuple[ir.Table, Callable[[], None]]:
    """The journey rows computed once (a temporary table on DuckDB, a cached view on Spark) and a cleanup."""
    con = dataset.con
    name = ibis.util.gen_name("journeys")
    if con.name == "duckdb":
        return con.create_table(name, rows, temp=True), lambda: con.raw_sql(f'DROP TABLE IF EXISTS "{name}"')
    if con.name == "pyspark":
        view = con.create_view(name, rows, overwrite=True)
        con._session.table(name).cache()
        return view, lambda: con._session.catalog.dropTempView(name)
    return rows, lambda: None


def _time_decay(rows: ir.Table, half_life: timedelta, paths: list[tuple[str, ...]]) -> TimeDecayCredit:
    index = {p: i for i, p in enumerate(paths)}
    data = _time_decay_query(rows, half_life).to_pyarrow().to_pylist()
    data.sort(key=lambda r: (r["key"], r["state"]))
    return TimeDecayCredit(
        path_index=np.asarray([index[_decode(r["key"])] for r in data], dtype=np.int64),
        channel=np.asarray([r["state"] for r in data], dtype=object),
        credit=np.asarray([r["credit"] for r in data], dtype=float),
        revenue=np.asarray([r["revenue"] or 0.0 for r in data], dtype=float),
    )


# --- the aggregated path export ---------------------------------------------------------------------------

_PATH_NAMES = (
    "path", "paths", "channel_path", "channel_paths", "conversion_path", "conversion_paths", "top_conversion_path",
    "top_conversion_paths", "source_medium_path", "channel_grouping_path", "default_channel_grouping_path",
    "touchpoints", "touchpoint_path", "journey", "journey_path", "user_journey", "sequence", "channels",
)  # fmt: skip
_CONV_NAMES = (
    "conversions", "total_conversions", "conversion", "total_conversion", "converters", "total_conv", "conv",
    "key_events", "purchases", "orders", "transactions",
)  # fmt: skip
_VALUE_NAMES = (
    "value", "conversion_value", "total_conversion_value", "total_value", "revenue", "total_revenue",
    "conv_value", "purchase_revenue", "sales",
)  # fmt: skip
_NULL_NAMES = (
    "null", "nulls", "total_null", "non_conversions", "non_conversion", "total_non_conversions", "non_converters",
    "no_conversion", "no_conversions", "non_converting", "lost", "null_conversions", "drop_offs",
)  # fmt: skip


def _normalise(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


def _pick(columns: dict[str, str], names: tuple[str, ...]) -> str | None:
    for name in names:
        if name in columns:
            return columns[name]
    return None


def _sniff_delimiter(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample, delimiters=",\t;").delimiter
    except csv.Error:
        counts = {d: sample.splitlines()[0].count(d) if sample else 0 for d in (",", "\t", ";")}
        return max(counts, key=lambda d: counts[d])


def _numbers(values: pd.Series, column: str, delimiter: str) -> np.ndarray:
    import pandas as pd

    text = values.astype("string").str.strip().str.replace(r"[\s$€£¥%]", "", regex=True)
    decimal_comma = r"-?\d{1,3}(\.\d{3})+,\d+|-?\d+,\d+"  # 1.234,50 or 12,5 (semicolon files only)
    if delimiter == ";" and text.str.fullmatch(decimal_comma).fillna(False).any():
        text = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)  # decimal commas
    else:
        text = text.str.replace(",", "", regex=False)  # thousands separators
    parsed = pd.to_numeric(text.mask(text == ""), errors="coerce")
    bad = parsed.isna() & text.notna() & (text != "")
    if bad.any():
        example = values[bad].iloc[0]
        raise DataError(f"column {column!r} of the path file has a value that is not a number: {example!r}")
    out = parsed.fillna(0.0).to_numpy(dtype=float)
    if (out < 0).any():
        raise DataError(f"column {column!r} of the path file has negative counts; counts must be >= 0")
    return out


def load_path_table(path: str | Path) -> PathTable:
    """Read an aggregated conversion-path export (CSV/TSV/semicolon-separated).

    The path column holds channels joined by ``>`` (``"email > paid_search > email"``); a conversions column is
    required; a value column and a non-conversions column are optional. Column names are matched loosely
    (``path``/``channel_path``/``top_conversion_paths``…, ``conversions``/``total_conversions``…,
    ``value``/``conversion_value``/``revenue``…, ``null``/``non_conversions``…); rows with the same path are
    summed.

    Raises:
        DataError: the file is missing or has no recognisable path or conversions column.
    """
    import pandas as pd

    file = Path(path)
    if not file.is_file():
        raise DataError(f"path file {str(file)!r} does not exist; pass --paths with a CSV of conversion paths")
    sample = file.read_text(encoding="utf-8-sig", errors="replace")[:20_000]
    delimiter = _sniff_delimiter(sample)
    frame = pd.read_csv(file, sep=delimiter, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    columns = {_normalise(c): c for c in frame.columns}
    path_col = _pick(columns, _PATH_NAMES)
    conv_col = _pick(columns, _CONV_NAMES)
    if path_col is None or conv_col is None:
        missing = "path column (path, channel_path …)" if path_col is None else "conversions column"
        raise DataError(
            f"path file {file.name!r} has no {missing}; columns found: {', '.join(frame.columns)} — "
            "expected a path of channels joined by '>' and a conversions count"
        )
    value_col = _pick(columns, _VALUE_NAMES)
    null_col = _pick(columns, _NULL_NAMES)
    conv = _numbers(frame[conv_col], conv_col, delimiter)
    null = _numbers(frame[null_col], null_col, delimiter) if null_col else np.zeros(len(frame))
    value = _numbers(frame[value_col], value_col, delimiter) if value_col else np.zeros(len(frame))
    sums: dict[tuple[str, ...], list[float]] = {}
    empty = 0
    for raw, c, n, v in zip(frame[path_col], conv, null, value, strict=True):
        states = tuple(part.strip() for part in str(raw).split(">") if part.strip())
        if not states:
            empty += 1
            continue
        acc = sums.setdefault(states, [0.0, 0.0, 0.0])
        acc[0] += c
        acc[1] += n
        acc[2] += v
    if not sums:
        raise DataError(f"path file {file.name!r} has no non-empty paths")
    paths = sorted(sums)
    table = PathTable(
        paths=paths,
        conversions=np.asarray([sums[p][0] for p in paths]),
        non_conversions=np.asarray([sums[p][1] for p in paths]),
        revenue=np.asarray([sums[p][2] for p in paths]),
        source=str(file),
        definition={
            "paths_file": str(file),
            "delimiter": {",": "comma", "\t": "tab", ";": "semicolon"}.get(delimiter, delimiter),
            "columns_used": {
                "path": path_col,
                "conversions": conv_col,
                "value": value_col,
                "non_conversions": null_col,
            },
            "journeys": "as aggregated in the export (channels joined by '>', duplicate paths summed)",
        },
        stats={"rows_read": len(frame), "duplicate_path_rows": len(frame) - empty - len(paths), "empty_paths": empty},
    )
    table.stats["journeys"] = round(float(table.conversions.sum() + table.non_conversions.sum()))
    return table
