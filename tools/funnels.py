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
    breakdown_rows,
    customer_chains,
    materialized,
    relevant_events,
    step_metrics,
    step_rows,
    time_to_convert_rows,
)
from tools.registry import ToolSpec
from tools.result import ToolResult

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
        stats = table.aggregate(**step_metrics(table, len(names), width, data_end)).to_pyarrow().to_pylist()[0]
        rows = step_rows(names, stats)
        breakdown = breakdown_rows(table, query, width, data_end, notes) if by is not None else []
        ttc = time_to_convert_rows(table, query, width, data_end) if survival and rows[0]["customers"] else []
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
        "segments": "a 'segment' column of the data when it has one; else the behavioural segments of "
        "`journey segments` with its defaults (k by silhouette, seed 7, the configured stages and conversion)"
        if query.by == "segment"
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
