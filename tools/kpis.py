"""``weekly_kpis``: this week's headline numbers against last week and the trailing average, tested for noise.

Weekly aggregates are computed in the engine (one small row per ISO week and metric comes back); the tests run on
those counts in Python (``tools.significance``). Metrics, per ISO week (Monday-Sunday, UTC):

* ``new_customers``: customers whose first event in the data falls in the week;
* ``reached:<stage>``: customers reaching the stage for the first time in the week (first event of that name);
* ``rate:<a>-><b>``: of the customers who first reached stage ``a`` in the week, the share with a ``b`` event at
  or after it **before the week ends** (same-week conversion: every week gets the same follow-up, so weeks compare
  fairly even though the latest week has just ended);
* ``conversions``: conversion events in the week; ``revenue``: their summed revenue (shown, not tested).

The trailing average is over the ``trailing`` weeks before this week, last week included (counts: mean;
rates: pooled, i.e. the trailing weeks' successes over their trials). Tests: two-proportion z-tests for rates,
Poisson rate tests for counts, Benjamini-Hochberg over every comparison made (both baselines, every metric).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir
from pydantic import BaseModel, ConfigDict, Field

from tools.context import ToolContext
from tools.dataset import Dataset, definition
from tools.errors import ArgumentError
from tools.registry import ToolSpec
from tools.result import ToolResult
from tools.significance import FDR_Q, METHODS, Comparison, assess
from tools.weeks import IsoWeek, last_complete_week

TRAILING_WEEKS = 4


@dataclass
class WeeklyAggregates:
    """Per-week counts for the metrics of ``weekly_kpis`` (only small aggregates; everything else stays in the engine).

    Attributes:
        weeks: the weeks covered, oldest first (trailing weeks, last week, this week).
        stages: the ordered stages.
        conversion: the conversion event.
        counts: ``counts[metric][week_label]`` for count and amount metrics.
        rates: ``rates[metric][week_label] = (successes, trials)`` for rate metrics.
        data_first: the data's first event time.
    """

    weeks: list[IsoWeek]
    stages: tuple[str, ...]
    conversion: str
    counts: dict[str, dict[str, float]] = field(default_factory=dict)
    rates: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)
    data_first: datetime | None = None


def _week_key(ts: ir.TimestampValue) -> ir.TimestampValue:
    # ISO weeks start on Monday; DuckDB's and Spark's date_trunc('week') both truncate to Monday.
    return ts.truncate("W")


def _in(ts: ir.TimestampValue, start: datetime, end: datetime) -> ir.BooleanValue:
    return (ts >= ibis.literal(start, type="timestamp")) & (ts < ibis.literal(end, type="timestamp"))


def _stage_index(event: ir.StringValue, stages: Sequence[str], offset: int = 0) -> ir.IntegerValue:
    return ibis.cases(*((event == stage, i + offset) for i, stage in enumerate(stages)), else_=-1)


def _by_week(frame: list[dict[str, Any]], value: str, key: str = "week") -> dict[str, float]:
    return {IsoWeek.of(row[key]).label: float(row[value] or 0) for row in frame}


def weekly_aggregates(
    dataset: Dataset, weeks: Sequence[IsoWeek], stages: Sequence[str], conversion: str
) -> WeeklyAggregates:
    """Compute the weekly counts of every KPI for ``weeks`` in the engine.

    Args:
        dataset: the loaded events.
        weeks: consecutive ISO weeks, oldest first.
        stages: the ordered journey stages (distinct event names).
        conversion: the conversion event.
    """
    t = dataset.events
    start, end = weeks[0].start, weeks[-1].end
    labels = [w.label for w in weeks]
    agg = WeeklyAggregates(list(weeks), tuple(stages), conversion)
    agg.data_first = dataset.summary()["first"]

    # New customers: the week of each customer's first event.
    firsts = t.group_by("customer_id").agg(first=t.timestamp.min())
    firsts = firsts.filter(_in(firsts.first, start, end))
    frame = firsts.group_by(week=_week_key(firsts.first)).agg(n=firsts.count()).to_pyarrow().to_pylist()
    agg.counts["new_customers"] = _by_week(frame, "n")

    # First time each customer reached each stage.
    s = t.filter(t.event.isin(list(stages)))
    first_stage = s.group_by(["customer_id", "event"]).agg(first=s.timestamp.min())
    first_stage = first_stage.filter(_in(first_stage.first, start, end))
    first_stage = first_stage.mutate(idx=_stage_index(first_stage.event, stages), week=_week_key(first_stage.first))
    frame = first_stage.group_by(["idx", "week"]).agg(n=first_stage.count()).to_pyarrow().to_pylist()
    for i, stage in enumerate(stages):
        agg.counts[f"reached:{stage}"] = _by_week([r for r in frame if r["idx"] == i], "n")

    # Same-week conversion a -> b: a b-event at or after the first a-event, before that week ends.
    # Only b-events inside the covered weeks can be same-week conversions: the join stays small.
    nxt = t.filter(t.event.isin(list(stages[1:])) & _in(t.timestamp, start, end))
    nxt = nxt.select(cid=nxt.customer_id, ts=nxt.timestamp, prev=_stage_index(nxt.event, stages[1:]))
    joined = first_stage.join(nxt, [first_stage.customer_id == nxt.cid, first_stage.idx == nxt.prev], how="inner")
    week_end = joined.week + ibis.interval(days=7)
    converted = joined.filter((joined.ts >= joined.first) & (joined.ts < week_end))
    converted = converted.select("customer_id", "idx", "week").distinct()
    frame = converted.group_by(["idx", "week"]).agg(n=converted.count()).to_pyarrow().to_pylist()
    for i in range(len(stages) - 1):
        metric = f"rate:{stages[i]}->{stages[i + 1]}"
        trials = agg.counts[f"reached:{stages[i]}"]
        successes = _by_week([r for r in frame if r["idx"] == i], "n")
        agg.rates[metric] = {w: (int(successes.get(w, 0)), int(trials.get(w, 0))) for w in labels}

    # Conversion events and revenue.
    c = t.filter((t.event == conversion) & _in(t.timestamp, start, end))
    frame = c.group_by(week=_week_key(c.timestamp)).agg(n=c.count(), revenue=c.revenue.sum()).to_pyarrow().to_pylist()
    agg.counts["conversions"] = _by_week(frame, "n")
    agg.counts["revenue"] = _by_week(frame, "revenue")
    for metric, values in agg.counts.items():
        agg.counts[metric] = {w: values.get(w, 0.0) for w in labels}
    return agg


def _label(metric: str, conversion: str) -> str:
    if metric == "new_customers":
        return "new customers"
    if metric == "conversions":
        return f"{conversion} events"
    if metric == "revenue":
        return "revenue"
    kind, _, name = metric.partition(":")
    if kind == "reached":
        return f"customers reaching {name}"
    a, _, b = name.partition("->")
    return f"{a} → {b} conversion (same week)"


def kpi_rows(
    agg: WeeklyAggregates, week: IsoWeek, trailing: int = TRAILING_WEEKS
) -> tuple[list[dict[str, Any]], list[str]]:
    """One row per metric: this week, last week, trailing average, changes and tests (BH-adjusted together).

    Returns:
        ``(rows, notes)``.
    """
    this, last = week.label, week.shift(-1).label
    first_week = IsoWeek.of(agg.data_first) if agg.data_first else None
    trail = [week.shift(-k).label for k in range(trailing, 0, -1)]
    # Weeks before the data starts have no data at all; they are left out of the trailing average.
    trail = [w for w in trail if first_week is None or IsoWeek.parse(w) >= first_week]
    notes: list[str] = []
    if len(trail) < trailing:
        notes.append(
            f"the trailing average uses {len(trail)} week(s) ({', '.join(trail) or 'none'}): the data starts in "
            f"{first_week.label if first_week else '?'}"
        )
    if first_week is not None and trail and IsoWeek.parse(trail[0]) <= first_week.shift(1):
        notes.append(
            f"the trailing weeks include the data's first weeks ({first_week.label}…), where every customer is new "
            "and later stages are still filling up; compare with care"
        )
    comparisons: list[Comparison] = []
    rows: list[dict[str, Any]] = []
    metrics = ["new_customers", *[f"reached:{s}" for s in agg.stages]]
    first_reached = f"reached:{agg.stages[0]}"
    if agg.counts[first_reached] == agg.counts["new_customers"]:
        # Every new customer starts at the first stage: one row (and one test) is enough.
        metrics.remove(first_reached)
        notes.append(f"customers reaching {agg.stages[0]} equal new customers every week; shown once")
    metrics += [m for m in agg.rates]
    metrics += ["conversions", "revenue"]
    for metric in metrics:
        row: dict[str, Any] = {"metric": metric, "label": _label(metric, agg.conversion)}
        if metric in agg.rates:
            series = agg.rates[metric]
            x1, n1 = series[this]
            x0, n0 = series[last]
            xt, nt = sum(series[w][0] for w in trail), sum(series[w][1] for w in trail)
            row |= {
                "kind": "rate",
                "this_week": x1 / n1 if n1 else None,
                "last_week": x0 / n0 if n0 else None,
                "trailing_avg": xt / nt if nt else None,
                "this_week_successes": x1,
                "this_week_trials": n1,
                "last_week_successes": x0,
                "last_week_trials": n0,
            }
            comparisons.append(Comparison(metric, "last_week", "rate", x1, n1, x0, n0))
            if trail:
                comparisons.append(Comparison(metric, "trailing", "rate", x1, n1, xt, nt))
        else:
            series_c = agg.counts[metric]
            kind = "amount" if metric == "revenue" else "count"
            row |= {
                "kind": kind,
                "this_week": series_c[this],
                "last_week": series_c[last],
                "trailing_avg": sum(series_c[w] for w in trail) / len(trail) if trail else None,
            }
            if kind == "count":
                comparisons.append(Comparison(metric, "last_week", "count", series_c[this], 1, series_c[last], 1))
                if trail:
                    total = sum(series_c[w] for w in trail)
                    comparisons.append(Comparison(metric, "trailing", "count", series_c[this], 1, total, len(trail)))
        row |= _changes(row)
        rows.append(row)
    tested = {(t.metric, t.baseline): t for t in assess(comparisons)}
    for row in rows:
        for baseline in ("last_week", "trailing"):
            test = tested.get((row["metric"], baseline))
            suffix = "vs_last_week" if baseline == "last_week" else "vs_trailing"
            row[f"p_{suffix}"] = test.p_value if test else None
            row[f"q_{suffix}"] = test.q_value if test else None
            row[f"significant_{suffix}"] = test.significant if test else False
        row["significant"] = row["significant_vs_last_week"] or row["significant_vs_trailing"]
    return rows, notes


def _changes(row: dict[str, Any]) -> dict[str, Any]:
    this, last, avg = row["this_week"], row["last_week"], row["trailing_avg"]
    out: dict[str, Any] = {}
    if row["kind"] == "rate":
        out["change_vs_last_week_pp"] = (this - last) * 100 if this is not None and last is not None else None
        out["change_vs_trailing_pp"] = (this - avg) * 100 if this is not None and avg is not None else None
    out["change_vs_last_week_pct"] = (this - last) / last * 100 if last else None
    out["change_vs_trailing_pct"] = (this - avg) / avg * 100 if avg else None
    return out


def weekly_series(agg: WeeklyAggregates) -> list[dict[str, Any]]:
    """One row per week with every metric's value (for charts and the ledger)."""
    rows = []
    for week in agg.weeks:
        row: dict[str, Any] = {"week": week.label}
        for metric, values in agg.counts.items():
            row[metric] = values[week.label]
        for metric, pairs in agg.rates.items():
            x, n = pairs[week.label]
            row[metric] = x / n if n else None
        rows.append(row)
    return rows


def resolve_week(dataset: Dataset, week: str | IsoWeek | None) -> IsoWeek:
    """The week asked for, or the last complete ISO week of the data."""
    summary = dataset.summary()
    if isinstance(week, IsoWeek):
        return week
    if week is None or week == "":
        return last_complete_week(summary["first"], summary["last"])
    parsed = IsoWeek.parse(week)
    first, last = IsoWeek.of(summary["first"]), IsoWeek.of(summary["last"])
    if not first < parsed <= last:
        raise ArgumentError(
            f"week {parsed.label} is outside the data, which covers {first.label} to {last.label}; a memo needs the "
            f"week and the one before it (choose {first.shift(1).label}..{last.label})"
        )
    return parsed


def weekly_kpis(
    dataset: Dataset,
    week: str | IsoWeek | None = None,
    stages: Sequence[str] = ("visit", "product_view", "signup", "pricing", "demo", "purchase"),
    conversion: str = "purchase",
    trailing: int = TRAILING_WEEKS,
) -> ToolResult:
    """Headline KPIs of an ISO week vs last week and the trailing average, with significance tests.

    Args:
        dataset: the loaded events.
        week: ``2024-W07``; default: the last complete ISO week in the data.
        stages: the ordered journey stages (distinct event names).
        conversion: the conversion event (counted, with its revenue).
        trailing: weeks before this one (last week included) averaged as the longer baseline (1..12).

    Raises:
        ArgumentError: unknown stage or conversion event, repeated stages, a week outside the data.
    """
    stages = tuple(stages)
    if len(set(stages)) != len(stages) or len(stages) < 2:
        raise ArgumentError(f"weekly KPIs need at least two distinct stages, got {list(stages)!r}")
    if not 1 <= trailing <= 12:
        raise ArgumentError(f"trailing must be between 1 and 12 weeks, got {trailing}")
    dataset.require_events(stages, "stage")
    dataset.require_events([conversion], "conversion event")
    target = resolve_week(dataset, week)
    weeks = [target.shift(-k) for k in range(trailing, -1, -1)]
    agg = weekly_aggregates(dataset, weeks, stages, conversion)
    rows, notes = kpi_rows(agg, target, trailing)
    data_last = dataset.summary()["last"]
    if data_last is not None and data_last.date() < target.last_day:
        notes.insert(
            0,
            f"{target.label} is not complete in the data (it ends {data_last:%Y-%m-%d %H:%M}); counts and same-week "
            "rates will look low against complete weeks",
        )
    significant = [r for r in rows if r["significant"]]
    if not significant:
        notes.insert(0, "nothing significant changed: no difference survives the Benjamini-Hochberg correction")
    untested = [r["label"] for r in rows if r["kind"] == "amount"]
    if untested:
        notes.append(f"not tested (a sum of amounts, it moves with the counts and order sizes): {', '.join(untested)}")
    return ToolResult(
        tool="weekly_kpis",
        definition={
            **definition(dataset),
            "week": target.label,
            "week_start": target.start.isoformat(),
            "week_end_exclusive": target.end.isoformat(),
            "last_week": target.shift(-1).label,
            "trailing_weeks": [w.label for w in weeks[:trailing]],
            "weeks": "ISO weeks, Monday 00:00 to Sunday 24:00 UTC",
            "stages": list(stages),
            "conversion": conversion,
            "new_customers": "customers whose first event in the data falls in the week",
            "reached": "customers reaching the stage for the first time in the data during the week",
            "rates": "of the customers first reaching stage a in the week, the share with a b event at or after it "
            "before the week ends (same-week conversion; every week gets the same follow-up)",
            "trailing_avg": "counts: mean of the trailing weeks; rates: pooled (their successes / their trials)",
            "tests": METHODS,
            "multiple_comparisons": f"Benjamini-Hochberg over every comparison, false discovery rate {FDR_Q}",
        },
        result={
            "week": target.label,
            "last_week": target.shift(-1).label,
            "significant_changes": len(significant),
            "nothing_significant": not significant,
            "kpis": rows,
            "weekly": weekly_series(agg),
        },
        notes=notes,
    )


class WeeklyKpisArgs(BaseModel):
    """Arguments of the ``weekly_kpis`` tool."""

    model_config = ConfigDict(extra="forbid")
    week: str | None = Field(None, description="ISO week like '2024-W07'; omit for the last complete week in the data.")
    trailing: int = Field(
        TRAILING_WEEKS, ge=1, le=12, description="Weeks before this one (last week included) averaged as a baseline."
    )


def _run(context: ToolContext, args: WeeklyKpisArgs) -> ToolResult:
    d = context.defaults
    return weekly_kpis(context.dataset(), args.week, d.stages, d.conversion, args.trailing)


SPECS = [
    ToolSpec(
        name="weekly_kpis",
        description=(
            "Headline weekly KPIs for an ISO week (default: the last complete one) against last week and the "
            "trailing 4-week average: new customers, customers reaching each stage for the first time, same-week "
            "stage conversion rates, conversion events and revenue. Each change is tested (two-proportion z-test "
            "for rates, Poisson test for counts) with Benjamini-Hochberg across all comparisons, so it says which "
            "changes are real and when nothing significant changed."
        ),
        args=WeeklyKpisArgs,
        run=_run,
        examples=(
            "what changed this week?",
            "how did last week compare to the week before?",
            "did signups drop this week?",
            "is the change in conversion rate significant?",
            "weekly KPIs versus the 4-week average",
        ),
    )
]
