"""Funnel chains as portable Ibis expressions: one row per customer with the times of their best chain.

Everything here builds engine expressions (DuckDB by default, PySpark and other Ibis backends unchanged);
nothing loops over customers in Python. ``customer_chains`` (= ``best_chains(chains(...))``) is the entry point;
``materialized`` keeps a result in the engine while the small aggregates below it are read (``step_metrics``,
``breakdown_rows``, ``time_to_convert_rows``: per-step counts and quantiles, and a grouped duration table).

Semantics (printed in every funnel ``definition`` by ``tools.funnels``):

* **ordered** (default, equal to ClickHouse ``windowFunnel(window)``): a chain starts at a step-1 event at time
  ``s``; step k is the earliest step-k event with ``t_k >= t_{k-1}`` and ``t_k <= s + window`` (boundary
  included). For a fixed start the earliest qualifying event is optimal, so each start needs one join and one
  ``min`` per step, and only chains still alive are joined to the next step; the best start per customer wins
  (re-entry allowed).
* **strict**: the customer's events are ordered by time (ties: funnel steps in step order, then other events);
  consecutive repeats of one event count as one; step k+1's run must directly follow step k's run — any other
  event in between (a filler, a touch, an earlier or later step) breaks the chain. A run of step-1 events
  starts its chain at its last event; later steps are timed at the first event of their run. Window as in
  ordered.
* **any**: a chain starts at a step-1 event at ``s``; step k is reached when each of steps 2..k occurs (in any
  order) in ``[s, s + window]``; the step's time is when the last of steps 1..k first occurred.

One event never fills two steps: a step whose event name repeats an earlier step's must come strictly after
that earlier step (ClickHouse lets a single event fill both; this is the one documented difference).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import ibis
import ibis.expr.types as ir

from tools.survival import kaplan_meier, wilson_interval

MAX_BREAKDOWN_VALUES = 20
CONVERTED_BY_DAYS = (1, 3, 7, 14, 30)
OTHER_VALUE = "(other)"

Order = Literal["ordered", "strict", "any"]
ORDERS: tuple[str, ...] = ("ordered", "strict", "any")
NO_VALUE = "(none)"


@dataclass(frozen=True)
class FunnelQuery:
    """What to compute.

    Attributes:
        steps: event names in funnel order (at least two).
        window: the longest time from the step-1 event to the last step of a chain (inclusive).
        order: ``ordered``, ``strict`` or ``any`` (see the module docstring).
        by: a column whose value on the chain's step-1 event splits the funnel, or ``None``.
        since: only step-1 events at or after this time start chains.
        until: only step-1 events strictly before this time start chains.
    """

    steps: tuple[str, ...]
    window: timedelta
    order: Order = "ordered"
    by: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def step_column(k: int) -> str:
    """The column holding the time of step ``k`` (0-based) in chain tables."""
    return f"_t{k}"


def _window_end(start: ir.TimestampValue, window: timedelta) -> ir.TimestampValue:
    micros = round(window.total_seconds() * 1_000_000)
    if micros % 1_000_000 == 0:
        return start + ibis.interval(seconds=micros // 1_000_000)
    return start + ibis.interval(microseconds=micros)


def _in_range(ts: ir.TimestampValue, query: FunnelQuery) -> ir.BooleanValue:
    cond: ir.BooleanValue = ibis.literal(True)
    if query.since is not None:
        cond = cond & (ts >= ibis.literal(query.since, type="timestamp"))
    if query.until is not None:
        cond = cond & (ts < ibis.literal(query.until, type="timestamp"))
    return cond


def _value(table: ir.Table, by: str | None) -> ir.StringValue:
    if by is None:
        return ibis.literal(NO_VALUE, type="string")
    return table[by].cast("string").fill_null(NO_VALUE)


def _same_event_step(steps: tuple[str, ...], k: int) -> int | None:
    """The latest earlier step with the same event name as step ``k``, if any."""
    earlier = [j for j in range(k) if steps[j] == steps[k]]
    return earlier[-1] if earlier else None


def _starts(events: ir.Table, query: FunnelQuery) -> ir.Table:
    """One row per step-1 event in range (duplicates at one time are harmless: one best chain is kept)."""
    first = events.filter((events.event == query.steps[0]) & _in_range(events.timestamp, query))
    return first.select("customer_id", _t0=first.timestamp, _value=_value(first, query.by))


def _step_events(events: ir.Table, step: str) -> ir.Table:
    hits = events.filter(events.event == step)
    return hits.select(_cid=hits.customer_id, _ts=hits.timestamp)


def _level(previous: ir.Table, hits: ir.Table, on: list[Any]) -> ir.Table:
    """Every chain of ``previous`` with its earliest matching hit (``_hit``, NULL if none): one row per start.

    Earlier step times are functionally dependent on the start, so ``min`` just carries them along; grouping
    by (customer, start) also merges step-1 events of one customer at the same time.
    """
    joined = previous.left_join(hits, [previous.customer_id == hits._cid, *on])
    carried = [c for c in previous.columns if c not in ("customer_id", "_t0")]
    return joined.group_by(["customer_id", "_t0"]).agg(
        **{name: joined[name].min() for name in carried}, _hit=joined._ts.min()
    )


def _stack(ends: list[ir.Table], n: int) -> ir.Table:
    """Each start once, at the step where its chain ends: ``_reach`` and the step times, NULL beyond."""
    kind = ends[0]._t0.type()
    parts = []
    for k, part in enumerate(ends):
        times = {step_column(j): part[step_column(j)].cast(kind) for j in range(k + 1)}
        padding = {step_column(j): ibis.null(kind) for j in range(k + 1, n)}
        parts.append(
            part.select(
                "customer_id",
                "_value",
                **times,
                **padding,
                _entry=part._t0.cast(kind),
                _reach=ibis.literal(k + 1, type="int16"),
            )
        )
    return ibis.union(*parts, distinct=False)


def _extend(events: ir.Table, query: FunnelQuery, conditions: Any, complete: Any) -> ir.Table:
    """Run the chains step by step; only chains still alive are joined to the next step's events.

    Args:
        events: the (relevant) events.
        query: the funnel.
        conditions: ``conditions(alive, hits, k)`` -> join predicates for step ``k`` (besides the customer).
        complete: ``complete(level, k)`` -> the time step ``k`` is complete, from the level's ``_hit``.
    """
    n = len(query.steps)
    alive = _starts(events, query)
    ends = []
    for k in range(1, n):
        hits = _step_events(events, query.steps[k])
        level = _level(alive, hits, conditions(alive, hits, k))
        kept = [c for c in level.columns if c != "_hit"]
        level = level.select(*kept, **{step_column(k): complete(level, k)})
        done = level[step_column(k)].notnull()
        ends.append(level.filter(~done))
        alive = level.filter(done)
    ends.append(alive)
    return _stack(ends, n)


def _ordered_chains(events: ir.Table, query: FunnelQuery) -> ir.Table:
    """Greedy earliest step after the previous one, within the window of the start."""
    steps = query.steps

    def conditions(alive: ir.Table, hits: ir.Table, k: int) -> list[Any]:
        on = [hits._ts >= alive[step_column(k - 1)], hits._ts <= _window_end(alive._t0, query.window)]
        same = _same_event_step(steps, k)
        if same is not None:
            # Not the very event that filled the earlier step of the same name.
            on.append(hits._ts > alive[step_column(same)])
        return on

    return _extend(events, query, conditions, lambda level, k: level._hit)


def _any_chains(events: ir.Table, query: FunnelQuery) -> ir.Table:
    """The first hit of each step within the window of the start, in any order."""

    def conditions(alive: ir.Table, hits: ir.Table, k: int) -> list[Any]:
        return [hits._ts >= alive._t0, hits._ts <= _window_end(alive._t0, query.window)]

    def complete(level: ir.Table, k: int) -> Any:
        # The step is complete when the last of steps 1..k has first happened (greatest() skips NULLs).
        return ibis.cases(
            (level._hit.notnull(), ibis.greatest(level[step_column(k - 1)], level._hit)),
            else_=ibis.null(level._hit.type()),
        )

    return _extend(events, query, conditions, complete)


def _strict_chains(events: ir.Table, query: FunnelQuery) -> ir.Table:
    """Consecutive runs: step k+1's run must directly follow step k's run in the customer's timeline.

    A run of repeated step-1 events starts its chain at the run's last event (the latest start, so the window
    is used best); every later step is timed at the first event of its run.
    """
    steps = query.steps
    n = len(steps)
    firsts = {name: i for i, name in reversed(list(enumerate(steps)))}
    rank = ibis.cases(*((events.event == name, i) for name, i in firsts.items()), else_=n)
    base = events.select("customer_id", "timestamp", "event", _rank=rank, _value=_value(events, query.by))
    order = ibis.window(group_by="customer_id", order_by=["timestamp", "_rank", "event"])
    # The raw event before a run's first event is the last event of the previous run.
    base = base.mutate(_prev=base.event.lag().over(order), _prev_ts=base.timestamp.lag().over(order))
    if query.since is not None:
        # A run that straddles --since is entered at the customer's first event in range, which lies inside
        # the run (its events are consecutive): the entry must not predate --since.
        in_range = base.timestamp >= ibis.literal(query.since, type="timestamp")
        crossing = ibis.cases((in_range, base.timestamp), else_=ibis.null(base.timestamp.type()))
        base = base.mutate(_cross=crossing.min().over(ibis.window(group_by="customer_id")))
    runs = base.filter(base._prev.isnull() | (base._prev != base.event))
    order = ibis.window(group_by="customer_id", order_by=["timestamp", "_rank", "event"])
    leads: dict[str, Any] = {"_run_end": runs._prev_ts.lead(1).over(order)}
    for j in range(1, n):
        leads[f"_e{j}"] = runs.event.lead(j).over(order)
        leads[f"_l{j}"] = runs.timestamp.lead(j).over(order)
    seq = runs.mutate(**leads)
    seq = seq.filter(seq.event == steps[0])
    # The last run has no successor: its end only matters for ordering chains that reach step 1 alone.
    start = ibis.coalesce(seq._run_end, seq.timestamp)
    seq = seq.mutate(_start=start).filter(_in_range(start, query))
    end = _window_end(seq._start, query.window)
    ok: ir.BooleanValue = ibis.literal(True)
    columns: dict[str, Any] = {step_column(0): seq._start}
    for k in range(1, n):
        lead_ts = seq[f"_l{k}"]
        cond = (seq[f"_e{k}"] == steps[k]) & (lead_ts <= end)
        ok = ok & cond.fill_null(False)
        columns[step_column(k)] = ibis.cases((ok, lead_ts), else_=ibis.null(lead_ts.type()))
    entry = seq.timestamp
    if query.since is not None:
        entry = ibis.cases((seq.timestamp < ibis.literal(query.since, type="timestamp"), seq._cross), else_=entry)
    chain = seq.select("customer_id", "_value", **columns, _entry=entry)
    reach = sum((chain[step_column(k)].notnull().cast("int16") for k in range(1, n)), ibis.literal(1, type="int16"))
    return chain.mutate(_reach=reach)


def relevant_events(events: ir.Table, query: FunnelQuery) -> ir.Table:
    """The only rows and columns the chains read (worth materialising once: every step scans them).

    Ordered and any-order funnels need only the step events; strict funnels need every event (any event can
    break a chain), but only four columns.
    """
    columns = ["customer_id", "timestamp", "event", *([query.by] if query.by else [])]
    if query.order == "strict":
        return events.select(*columns)
    return events.filter(events.event.isin(sorted(set(query.steps)))).select(*columns)


def chains(events: ir.Table, query: FunnelQuery) -> ir.Table:
    """Candidate chains: rows per step-1 start with the time of each step reached (NULL beyond) and ``_reach``.

    Columns: ``customer_id``, ``_value`` (breakdown value of the start), ``_t0`` .. ``_t{N-1}``, ``_entry``
    (when the customer entered step 1 for this chain: ``_t0``, or in strict mode the first event of the run)
    and ``_reach``.
    Ordered and any-order funnels list a start once per step it reaches (only its deepest row matters).
    """
    if query.order == "ordered":
        return _ordered_chains(events, query)
    if query.order == "any":
        return _any_chains(events, query)
    if query.order == "strict":
        return _strict_chains(events, query)
    raise ValueError(f"unknown order {query.order!r}")


def best_chains(candidates: ir.Table, n: int) -> ir.Table:
    """One row per customer who has a step-1 event in range: their best chain among ``candidates``.

    The best chain reaches the most steps; among those, the one completing its last step first; among those,
    the one with the latest start (the tightest chain), then the smallest breakdown value (determinism).

    Args:
        candidates: the output of ``chains``.
        n: the number of steps.

    Returns:
        Columns ``customer_id``, ``_value``, ``_reach`` (1..N), ``_t0`` .. ``_t{N-1}`` (times on the best chain,
        NULL beyond the reach) and ``_first`` (the customer's first step-1 time in range).
    """
    last = ibis.coalesce(*(candidates[step_column(k)] for k in reversed(range(n))))
    candidates = candidates.mutate(_last=last)
    ranking = [ibis.desc("_reach"), "_last", ibis.desc("_t0"), "_value"]
    # Same partition and order for both, so the engine sorts once.
    order = ibis.window(group_by="customer_id", order_by=ranking)
    everything = ibis.window(group_by="customer_id", order_by=ranking, rows=(None, None))
    ranked = candidates.mutate(_rn=ibis.row_number().over(order), _first=candidates._entry.min().over(everything))
    best = ranked.filter(ranked._rn == 0)
    return best.select("customer_id", "_value", "_reach", *(step_column(k) for k in range(n)), "_first")


# --- small aggregates of the per-customer table ------------------------------------------------------------


def step_metrics(table: ir.Table, n: int, window: timedelta, data_end: datetime) -> dict[str, Any]:
    """Aggregates over a ``best_chains`` table: customers per step, median/p90 seconds between steps, and
    customers not converted who entered within ``window`` of ``data_end`` (``open``)."""
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


def step_rows(steps: tuple[str, ...], stats: dict[str, Any]) -> list[dict[str, Any]]:
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


def breakdown_rows(
    table: ir.Table, query: FunnelQuery, window: timedelta, data_end: datetime, notes: list[str]
) -> list[dict[str, Any]]:
    """Per breakdown value and step: the ``step_rows`` fields; values beyond the top 20 merge into "(other)"."""
    n = len(query.steps)
    grouped = table.group_by("_value").aggregate(**step_metrics(table, n, window, data_end))
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
        for row in step_rows(query.steps, stats):
            rows.append({"value": stats["_value"], **row})
    return rows


def time_to_convert_rows(
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


def seconds_between(later: ir.TimestampValue, earlier: ir.TimestampValue) -> ir.FloatingValue:
    """``later - earlier`` in seconds (fractions kept where the engine keeps them)."""
    return (later.epoch_seconds() - earlier.epoch_seconds()).cast("float64")


@contextmanager
def materialized(con: Any, expr: ir.Table) -> Iterator[ir.Table]:
    """Compute ``expr`` once into a temporary engine table, yield it, and drop it afterwards.

    Several aggregates read the per-customer chain table; without this each would recompute the joins.
    """
    name = ibis.util.gen_name("funnel")
    if con.name == "pyspark":
        view = con.create_view(name, expr, overwrite=True)
        con._session.table(name).cache()
        try:
            yield view
        finally:
            # Through the session: Ibis 12's drop_view emits SQL without the name here.
            con._session.catalog.uncacheTable(name)
            con._session.catalog.dropTempView(name)
        return
    table = con.create_table(name, expr, temp=True)
    try:
        yield table
    finally:
        if con.name == "duckdb":
            # Ibis 12's drop_table emits SQL that DuckDB 2 rejects; the plain statement works everywhere.
            con.raw_sql(f'DROP TABLE IF EXISTS "{name}"')
        else:
            con.drop_table(name, force=True)


def customer_chains(events: ir.Table, query: FunnelQuery) -> ir.Table:
    """One row per customer with their best chain: ``best_chains(chains(events, query), len(query.steps))``."""
    return best_chains(chains(events, query), len(query.steps))
