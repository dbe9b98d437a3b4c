"""``funnel``, ``friction`` and ``time_to_convert``: windowed funnels computed in the engine, explained.

The chains are Ibis expressions (``tools.funnel_engine``); only per-step counts, quantiles and a grouped
duration table come back to Python. Every result's ``definition`` spells out the semantics (ARCHITECTURE.md).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
from pydantic import BaseModel, ConfigDict, Field

from tools.context import JourneyDefaults, ToolContext
from tools.dataset import Dataset, definition
from tools.durations import format_duration, parse_duration
from tools.errors import ArgumentError
from tools.friction import RULE, WHAT_IF, friction_summary, friction_table
from tools.funnel_engine import (
    NO_VALUE,
    ORDERS,
    FunnelQuery,
    Order,
    customer_chains,
    materialized,
    relevant_events,
    seconds_between,
    step_column,
)
from tools.registry import ToolSpec
from tools.result import ToolResult
from tools.survival import kaplan_meier, wilson_interval

MAX_BREAKDOWN_VALUES = 20
CONVERTED_BY_DAYS = (1, 3, 7, 14, 30)
OTHER_VALUE = "(other)"

ORDER_RULES = {
    "ordered": (
        "steps in this order, other events allowed in between; each step at or after the previous one (equal "
        "timestamps count); the best chain over all step-1 events counts (re-entry allowed); equals ClickHouse "
        "windowFunnel(window) default mode"
    ),
    "strict": (
        "step k+1 must be the customer's very next event after step k: events ordered by time (equal timestamps: "
        "funnel steps in step order, then other events); consecutive repeats of one event count as one (a chain "
        "starts at the last of a run of step-1 events, later steps are timed at the first of their run); any "
        "other event in between (filler, touch or another step) breaks the chain"
    ),
    "any": (
        "steps 2..k in any order, each at least once within the window after a step-1 event; a step's time is "
        "when the last of steps 1..k first happened"
    ),
}


def _parse_bound(value: str | date | datetime | None, name: str, end: bool) -> datetime | None:
    """A ``--since``/``--until`` value as naive UTC; a bare date for ``--until`` means through that day."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed, is_date = value, False
    elif isinstance(value, date):
        parsed, is_date = datetime(value.year, value.month, value.day), True
    else:
        text = str(value).strip()
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ArgumentError(
                f"{name} {value!r} is not a date; write YYYY-MM-DD or an ISO date-time like 2024-02-01T12:00"
            ) from None
        is_date = len(text) <= 10
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed + timedelta(days=1) if end and is_date else parsed


def _parse_steps(steps: Sequence[str] | str | None, defaults: JourneyDefaults) -> tuple[str, ...]:
    if steps is None or steps == "" or (not isinstance(steps, str) and not list(steps)):
        return tuple(defaults.stages)
    items = steps.split(",") if isinstance(steps, str) else list(steps)
    cleaned = tuple(s.strip() for s in items if s and s.strip())
    if len(cleaned) < 2:
        raise ArgumentError(f"a funnel needs at least two steps, got {list(cleaned)!r}; e.g. --steps visit,signup")
    return cleaned


def _ensure_by(dataset: Dataset, by: str | None, defaults: JourneyDefaults) -> Dataset:
    """Validate the breakdown column; ``segment`` is added from ``tools.segments`` when the data lacks it."""
    if by is None:
        return dataset
    if by == "segment" and "segment" not in dataset.events.columns:
        segments = importlib.import_module("tools.segments")
        with_segments = getattr(segments, "with_segments", None)
        if with_segments is None:
            raise ArgumentError("breakdown by 'segment' needs behavioural segments, which are not available yet")
        # Segments are computed from the configured journey, like `journey segments` does.
        dataset = with_segments(dataset, stages=defaults.stages, conversion=defaults.conversion)
    dataset.require_column(by)
    return dataset


@dataclass
class FunnelComputation:
    """Everything computed for one funnel query (shared by ``funnel``, ``friction`` and ``time_to_convert``)."""

    query: FunnelQuery
    steps: list[dict[str, Any]]
    breakdown: list[dict[str, Any]]
    time_to_convert: list[dict[str, Any]]
    still_open: int
    data_end: datetime | None
    notes: list[str] = field(default_factory=list)


def _step_metrics(table: ir.Table, n: int, window: timedelta, data_end: datetime) -> dict[str, Any]:
    metrics: dict[str, Any] = {}
    for k in range(n):
        metrics[f"n{k}"] = (table._reach >= k + 1).sum()
    for k in range(1, n):
        seconds = seconds_between(table[step_column(k)], table[step_column(k - 1)])
        reached = table._reach >= k + 1
        metrics[f"med{k}"] = seconds.quantile(0.5, where=reached)
        metrics[f"p90_{k}"] = seconds.quantile(0.9, where=reached)
    horizon = ibis.literal(data_end - window, type="timestamp")
    metrics["open"] = ((table._reach < n) & (table._first > horizon)).sum()
    return metrics


def _rows(steps: tuple[str, ...], stats: dict[str, Any]) -> list[dict[str, Any]]:
    """Per-step rows from one row of ``_step_metrics``."""
    counts = [int(stats[f"n{k}"] or 0) for k in range(len(steps))]
    rows = []
    for k, step in enumerate(steps):
        previous = counts[k - 1] if k else None
        low, high = wilson_interval(counts[k], previous) if previous is not None else (None, None)
        median = _float(stats.get(f"med{k}")) if k else None
        rows.append(
            {
                "step": step,
                "customers": counts[k],
                "conversion_from_previous": counts[k] / previous if previous else None,
                "conversion_from_start": counts[k] / counts[0] if counts[0] else None,
                "dropped_from_previous": previous - counts[k] if previous is not None else None,
                "median_seconds_from_previous": median,
                "p90_seconds_from_previous": _float(stats.get(f"p90_{k}")) if k else None,
                "median_time_from_previous": _human(median),
                "ci_low": low,
                "ci_high": high,
            }
        )
    return rows


def _float(value: Any) -> float | None:
    return None if value is None or value != value else float(value)


def _human(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _breakdown(
    table: ir.Table, query: FunnelQuery, window: timedelta, data_end: datetime, notes: list[str]
) -> list[dict[str, Any]]:
    n = len(query.steps)
    grouped = table.group_by("_value").aggregate(**_step_metrics(table, n, window, data_end))
    frame = grouped.to_pyarrow().to_pylist()
    frame.sort(key=lambda r: (-int(r["n0"] or 0), str(r["_value"])))
    kept, rest = frame[:MAX_BREAKDOWN_VALUES], frame[MAX_BREAKDOWN_VALUES:]
    if rest:
        # Counts add up; quantiles of merged groups are unknown, so the "(other)" row has none.
        merged: dict[str, Any] = {"_value": OTHER_VALUE}
        for k in range(n):
            merged[f"n{k}"] = sum(int(r[f"n{k}"] or 0) for r in rest)
        kept.append(merged)
        notes.append(
            f"breakdown by {query.by!r}: {len(rest)} smaller values merged into {OTHER_VALUE!r} "
            f"(top {MAX_BREAKDOWN_VALUES} by step-1 customers shown)"
        )
    rows = []
    for stats in kept:
        for row in _rows(query.steps, stats):
            rows.append({"value": stats["_value"], **row})
    return rows


def _time_to_convert(
    table: ir.Table, query: FunnelQuery, window: timedelta, data_end: datetime
) -> list[dict[str, Any]]:
    """Kaplan–Meier time from the first step-1 event to the final step, overall and per breakdown value."""
    n = len(query.steps)
    converted = table._reach == n
    end = ibis.literal(data_end, type="timestamp")
    duration = ibis.cases(
        (converted, seconds_between(table[step_column(n - 1)], table._first)),
        else_=seconds_between(end, table._first),
    )
    horizon = ibis.literal(data_end - window, type="timestamp")
    open_ = (~converted) & (table._first > horizon)
    grouped = table.group_by(_value=table._value, _seconds=duration, _converted=converted, _open=open_).aggregate(
        _customers=table.count()
    )
    frame = grouped.to_pyarrow()
    values = frame["_value"].to_numpy(zero_copy_only=False)
    seconds = frame["_seconds"].to_numpy(zero_copy_only=False).astype(float)
    conv = frame["_converted"].to_numpy(zero_copy_only=False).astype(bool)
    still_open = frame["_open"].to_numpy(zero_copy_only=False).astype(bool)
    weights = frame["_customers"].to_numpy(zero_copy_only=False).astype(float)
    groups: list[tuple[str, Any]] = [("(all)", slice(None))]
    if query.by is not None:
        totals: dict[str, float] = {}
        for value, weight in zip(values.tolist(), weights.tolist(), strict=True):
            totals[value] = totals.get(value, 0.0) + weight
        ranked = sorted(totals, key=lambda v: (-totals[v], str(v)))[:MAX_BREAKDOWN_VALUES]
        groups += [(value, values == value) for value in ranked]
    rows = []
    for label, mask in groups:
        curve = kaplan_meier(seconds[mask], conv[mask], weights[mask])
        row: dict[str, Any] = {
            "value": label,
            "customers": int(weights[mask].sum()),
            "converted": int((weights[mask] * conv[mask]).sum()),
            "still_in_window": int((weights[mask] * still_open[mask]).sum()),
        }
        for days in CONVERTED_BY_DAYS:
            within = days * 86400 <= curve.max_time
            row[f"converted_by_day_{days}"] = curve.cumulative(days * 86400) if within else None
        median = curve.quantile_of_converters(0.5)
        p90 = curve.quantile_of_converters(0.9)
        row["median_days_to_convert"] = median / 86400 if median is not None else None
        row["p90_days_to_convert"] = p90 / 86400 if p90 is not None else None
        rows.append(row)
    return rows


def compute_funnel(
    dataset: Dataset,
    steps: Sequence[str] | str | None = None,
    window: str | timedelta | None = None,
    order: Order | str = "ordered",
    by: str | None = None,
    since: str | date | datetime | None = None,
    until: str | date | datetime | None = None,
    defaults: JourneyDefaults | None = None,
    survival: bool = True,
) -> FunnelComputation:
    """Validate the arguments and compute a funnel's per-step rows, breakdown and time-to-convert table.

    Raises:
        ArgumentError: an unknown step or column, a bad window, order or date.
    """
    defaults = defaults or JourneyDefaults()
    names = _parse_steps(steps, defaults)
    width = parse_duration(window if window not in (None, "") else defaults.window, "--window")  # type: ignore[arg-type]
    if order not in ORDERS:
        raise ArgumentError(f"--order {order!r} is not one of: {', '.join(ORDERS)}")
    if order == "any" and len(set(names)) < len(names):
        raise ArgumentError(f"--order any needs distinct steps; {list(names)!r} repeats one")
    dataset.require_events(names)
    dataset = _ensure_by(dataset, by, defaults)
    start, stop = _parse_bound(since, "--since", end=False), _parse_bound(until, "--until", end=True)
    if start is not None and stop is not None and stop <= start:
        raise ArgumentError(f"--until {until!r} is not after --since {since!r}")
    query = FunnelQuery(names, width, order, by, start, stop)  # type: ignore[arg-type]
    data_end = dataset.summary()["last"]
    notes: list[str] = []
    with (
        materialized(dataset.con, relevant_events(dataset.events, query)) as events,
        materialized(dataset.con, customer_chains(events, query)) as table,
    ):
        stats = table.aggregate(**_step_metrics(table, len(names), width, data_end)).to_pyarrow().to_pylist()[0]
        rows = _rows(names, stats)
        breakdown = _breakdown(table, query, width, data_end, notes) if by is not None else []
        ttc = _time_to_convert(table, query, width, data_end) if survival and rows[0]["customers"] else []
    return FunnelComputation(query, rows, breakdown, ttc, int(stats["open"] or 0), data_end, notes)


def funnel_definition(dataset: Dataset, query: FunnelQuery) -> dict[str, Any]:
    """Every parameter and semantic choice of a funnel, for a result's ``definition``."""
    return {
        "steps": list(query.steps),
        "window": format_duration(query.window),
        "window_seconds": query.window.total_seconds(),
        "order": query.order,
        "order_rule": ORDER_RULES[query.order],
        "window_rule": "every step of a chain at most `window` after the chain's step-1 event (boundary included)",
        "equal_timestamps": "a step may share its timestamp with the previous step",
        "repeated_step_names": "one event never fills two steps: a step repeating an earlier step's event "
        "must come strictly after that earlier step (ClickHouse windowFunnel would reuse the event)",
        "customers_per_step": "customers whose best chain reaches the step; the best chain reaches the most "
        "steps, then completes first, then starts latest",
        "by": query.by,
        "breakdown_value": f"the value on the step-1 event of the customer's best chain; missing = {NO_VALUE!r}"
        if query.by
        else None,
        "since": query.since.isoformat() if query.since else None,
        "until_exclusive": query.until.isoformat() if query.until else None,
        "date_filter": "applies to the step-1 event that starts a chain; later steps may fall after --until",
        "time_from_previous": "seconds between consecutive steps of the best chain, converted customers only "
        "(median and 90th percentile, interpolated)",
        "intervals": "Wilson 95% score intervals on conversion_from_previous",
        **definition(dataset),
    }


def _ttc_definition(computation: FunnelComputation) -> dict[str, Any]:
    return {
        "time_to_convert": "Kaplan–Meier estimate of the time from the customer's first step-1 event (in the date "
        "range) to reaching the final step on their best chain; customers not converted are censored at the "
        "data's end",
        "data_end": computation.data_end.isoformat() if computation.data_end else None,
        "converted_by_day": "share converted by day d (d = 1, 3, 7, 14, 30 while within the follow-up)",
        "median_days_to_convert": "days by which half of the conversions seen by the end of follow-up happened "
        "(p90: 90%)",
        "still_in_window": "customers not converted whose first step-1 event is within the window of the data's "
        "end: they may still convert (censored)",
    }


def _notes(computation: FunnelComputation) -> list[str]:
    notes = list(computation.notes)
    first = computation.steps[0]["customers"]
    if not first:
        notes.append("no customer has a step-1 event in the date range; the funnel is empty")
    if computation.still_open:
        notes.append(
            f"{computation.still_open:,} customers have not converted but started within "
            f"{format_duration(computation.query.window)} of the data's end; they may still convert "
            "(time_to_convert treats them as censored)"
        )
    return notes


def funnel(
    dataset: Dataset,
    steps: Sequence[str] | str | None = None,
    window: str | timedelta | None = None,
    order: Order | str = "ordered",
    by: str | None = None,
    since: str | date | datetime | None = None,
    until: str | date | datetime | None = None,
    defaults: JourneyDefaults | None = None,
) -> ToolResult:
    """Windowed funnel: customers per step, conversion with Wilson intervals, time between steps, friction.

    Args:
        dataset: the loaded events.
        steps: event names in order (a list or ``"a,b,c"``); default: the configured stages.
        window: conversion window from the step-1 event (``"7d"``); default: the configured window.
        order: ``ordered`` (default, ClickHouse windowFunnel), ``strict`` or ``any``.
        by: a column to break the funnel down by (value on the step-1 event); ``segment`` adds segments.
        since: only step-1 events on or after this date/time start a chain.
        until: only step-1 events up to this date (inclusive) or before this date-time start a chain.
        defaults: configured defaults for steps and window.

    Returns:
        ``result``: ``steps`` (per step), ``breakdown`` (flat rows per value and step), ``friction`` (per
        transition, biggest first) with scalar summaries, and ``time_to_convert`` (Kaplan–Meier).
    """
    computation = compute_funnel(dataset, steps, window, order, by, since, until, defaults)
    counts = [row["customers"] for row in computation.steps]
    friction = friction_table(list(computation.query.steps), counts)
    result: dict[str, Any] = {
        "customers_entered": counts[0],
        "customers_converted": counts[-1],
        "overall_conversion": counts[-1] / counts[0] if counts[0] else None,
        **friction_summary(friction),
        "steps": computation.steps,
        "friction": friction,
        "time_to_convert": computation.time_to_convert,
    }
    if computation.query.by is not None:
        result["breakdown"] = computation.breakdown
    return ToolResult(
        tool="funnel",
        definition={
            **funnel_definition(dataset, computation.query),
            "friction_rule": RULE,
            "what_if": WHAT_IF,
            **_ttc_definition(computation),
        },
        result=result,
        notes=_notes(computation),
    )


def friction(
    dataset: Dataset,
    steps: Sequence[str] | str | None = None,
    window: str | timedelta | None = None,
    order: Order | str = "ordered",
    since: str | date | datetime | None = None,
    until: str | date | datetime | None = None,
    defaults: JourneyDefaults | None = None,
) -> ToolResult:
    """Where the funnel leaks most: transitions ranked by step conversion, with what-if recoveries.

    Args: as for ``funnel`` (no breakdown).
    """
    computation = compute_funnel(dataset, steps, window, order, None, since, until, defaults, survival=False)
    counts = [row["customers"] for row in computation.steps]
    rows = friction_table(list(computation.query.steps), counts)
    return ToolResult(
        tool="friction",
        definition={**funnel_definition(dataset, computation.query), "friction_rule": RULE, "what_if": WHAT_IF},
        result={
            "customers_entered": counts[0],
            "customers_converted": counts[-1],
            **friction_summary(rows),
            "friction": rows,
        },
        notes=[*_notes(computation), "what-if figures assume the extra customers convert downstream like today's"],
    )


def time_to_convert(
    dataset: Dataset,
    steps: Sequence[str] | str | None = None,
    window: str | timedelta | None = None,
    order: Order | str = "ordered",
    by: str | None = None,
    since: str | date | datetime | None = None,
    until: str | date | datetime | None = None,
    defaults: JourneyDefaults | None = None,
) -> ToolResult:
    """Time from entering the funnel to its final step, with customers still inside the window censored.

    Args: as for ``funnel``.
    """
    computation = compute_funnel(dataset, steps, window, order, by, since, until, defaults)
    rows = computation.time_to_convert
    overall = rows[0] if rows else {}
    return ToolResult(
        tool="time_to_convert",
        definition={**funnel_definition(dataset, computation.query), **_ttc_definition(computation)},
        result={
            "median_days_to_convert": overall.get("median_days_to_convert"),
            "p90_days_to_convert": overall.get("p90_days_to_convert"),
            "time_to_convert": rows,
        },
        notes=_notes(computation),
    )


# --- registry -------------------------------------------------------------------------------------------------


class FunnelArgs(BaseModel):
    """Arguments of the ``funnel`` tool."""

    model_config = ConfigDict(extra="forbid")
    steps: list[str] | None = Field(
        None, description="Event names of the funnel steps in order; omit for the configured journey stages."
    )
    window: str | None = Field(
        None, description="Conversion window from the step-1 event, e.g. '7d', '48h'; omit for the configured one."
    )
    order: Literal["ordered", "strict", "any"] = Field(
        "ordered",
        description="ordered: steps in order, other events allowed between; strict: no other event between steps; "
        "any: steps 2..N in any order after step 1.",
    )
    by: str | None = Field(
        None,
        description="Column to break the funnel down by (its value on the step-1 event), e.g. 'channel' or 'segment'.",
    )
    since: str | None = Field(None, description="Only chains starting on or after this date (YYYY-MM-DD).")
    until: str | None = Field(None, description="Only chains starting on or before this date (YYYY-MM-DD).")


class FrictionArgs(BaseModel):
    """Arguments of the ``friction`` tool."""

    model_config = ConfigDict(extra="forbid")
    steps: list[str] | None = Field(None, description="Funnel steps in order; omit for the configured stages.")
    window: str | None = Field(None, description="Conversion window, e.g. '7d'; omit for the configured one.")
    since: str | None = Field(None, description="Only chains starting on or after this date (YYYY-MM-DD).")
    until: str | None = Field(None, description="Only chains starting on or before this date (YYYY-MM-DD).")


class TimeToConvertArgs(BaseModel):
    """Arguments of the ``time_to_convert`` tool."""

    model_config = ConfigDict(extra="forbid")
    steps: list[str] | None = Field(
        None, description="Funnel steps in order (the last is the conversion); omit for the configured stages."
    )
    window: str | None = Field(None, description="Conversion window, e.g. '7d'; omit for the configured one.")
    by: str | None = Field(None, description="Column to split the curve by (value on the step-1 event).")
    since: str | None = Field(None, description="Only customers entering on or after this date (YYYY-MM-DD).")
    until: str | None = Field(None, description="Only customers entering on or before this date (YYYY-MM-DD).")


def _run_funnel(context: ToolContext, args: FunnelArgs) -> ToolResult:
    return funnel(
        context.dataset(), args.steps, args.window, args.order, args.by, args.since, args.until, context.defaults
    )


def _run_friction(context: ToolContext, args: FrictionArgs) -> ToolResult:
    return friction(context.dataset(), args.steps, args.window, "ordered", args.since, args.until, context.defaults)


def _run_time_to_convert(context: ToolContext, args: TimeToConvertArgs) -> ToolResult:
    return time_to_convert(
        context.dataset(), args.steps, args.window, "ordered", args.by, args.since, args.until, context.defaults
    )


SPECS = [
    ToolSpec(
        name="funnel",
        description=(
            "Windowed conversion funnel over ordered steps (default: the configured journey stages and window). "
            "Per step: customers, conversion from the previous step (with Wilson 95% interval) and from the start, "
            "customers dropped, median and p90 time from the previous step. Also the biggest friction (lowest "
            "step conversion) with what-if recoveries, Kaplan-Meier time to convert, and an optional breakdown by "
            "a column (e.g. channel, segment). Step names must be event names in the data (an unknown one returns "
            "the list of events). Counts a customer once, on their best chain within the window."
        ),
        args=FunnelArgs,
        run=_run_funnel,
        examples=(
            "show me the funnel from visit to purchase",
            "what is our conversion rate from signup to purchase?",
            "how many customers reach the demo step?",
            "funnel by channel",
            "how does the funnel differ by segment?",
            "what share of visitors sign up within 7 days?",
        ),
    ),
    ToolSpec(
        name="friction",
        description=(
            "The biggest friction point of the funnel: every transition ranked by step conversion (lowest first), "
            "customers lost at each, the transition losing the most customers, and how many more customers would "
            "reach the final step if a transition's rate rose by 10% relative or to the median of the others."
        ),
        args=FrictionArgs,
        run=_run_friction,
        examples=(
            "where do we lose people in the funnel?",
            "what is the biggest friction point?",
            "which step has the worst drop-off?",
            "where do we lose people after pricing?",
            "what would improving the weakest step be worth?",
        ),
    ),
    ToolSpec(
        name="time_to_convert",
        description=(
            "How long customers take from entering the funnel (first step-1 event) to its final step, with "
            "customers still inside the window treated as censored (Kaplan-Meier): share converted by day "
            "1/3/7/14/30, and median and p90 days to convert, overall and optionally by a column."
        ),
        args=TimeToConvertArgs,
        run=_run_time_to_convert,
        examples=(
            "how long does it take customers to convert?",
            "what is the median time to purchase?",
            "what share of customers convert within a week?",
            "how fast do customers from each channel convert?",
        ),
    ),
]
