"""``paths``: next/previous steps around an event, top journeys, and what converters do after a step.

Every customer's journey is their events ordered by time (ties by event name) with consecutive repeats of one
event collapsed (``page_view, page_view, pricing`` reads ``page_view > pricing``). Positions, next and previous
events come from window functions (lag, lead, row_number) and paths from a pivot of positions (conditional
``max``), so the same Ibis runs on DuckDB and Spark (ordered string aggregation is not portable).
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir
from pydantic import BaseModel, ConfigDict, Field

from tools.context import JourneyDefaults, ToolContext
from tools.dataset import Dataset, definition
from tools.errors import ArgumentError
from tools.funnel_engine import materialized
from tools.registry import ToolSpec
from tools.result import ToolResult

START, END, MORE = "(start)", "(end)", "…"
SEPARATOR = " > "
MAX_DEPTH = 20


def collapsed_journeys(events: ir.Table) -> ir.Table:
    """Each customer's journey with consecutive repeats collapsed.

    Returns:
        ``customer_id``, ``timestamp``, ``event``, ``_pos`` (0-based position in the collapsed journey),
        ``_prev`` and ``_next`` (the neighbouring events of the collapsed journey, NULL at its ends).
    """
    base = events.select("customer_id", "timestamp", "event")
    order = ibis.window(group_by="customer_id", order_by=["timestamp", "event"])
    # The raw event before a run's first event is the previous run's event: it is the collapsed `_prev`.
    marked = base.mutate(_prev=base.event.lag().over(order))
    runs = marked.filter(marked._prev.isnull() | (marked._prev != marked.event))
    order = ibis.window(group_by="customer_id", order_by=["timestamp", "event"])
    return runs.mutate(_pos=ibis.row_number().over(order), _next=runs.event.lead().over(order))


def _path_text(items: list[str | None], more_before: bool = False, more_after: bool = False) -> str:
    shown = [item for item in items if item is not None]
    return SEPARATOR.join([*([MORE] if more_before else []), *shown, *([MORE] if more_after else [])])


def _transitions(journeys: ir.Table, from_event: str | None, to_event: str | None, top: int) -> list[dict[str, Any]]:
    if from_event is not None:
        hits = journeys.filter(journeys.event == from_event)
        hits = hits.mutate(_from=hits.event, _to=hits._next.fill_null(END))
    elif to_event is not None:
        hits = journeys.filter(journeys.event == to_event)
        hits = hits.mutate(_from=hits._prev.fill_null(START), _to=hits.event)
    else:
        hits = journeys.filter(journeys._next.notnull())
        hits = hits.mutate(_from=hits.event, _to=hits._next)
    grouped = hits.group_by(["_from", "_to"]).aggregate(transitions=hits.count(), customers=hits.customer_id.nunique())
    total = int(hits.count().to_pyarrow().as_py())
    rows = grouped.order_by([ibis.desc("transitions"), "_from", "_to"]).limit(top).to_pyarrow().to_pylist()
    return [
        {
            "from": row["_from"],
            "to": row["_to"],
            "transitions": int(row["transitions"]),
            "customers": int(row["customers"]),
            "share": row["transitions"] / total if total else None,
        }
        for row in rows
    ]


def _first_position(journeys: ir.Table, event: str, name: str) -> ir.Table:
    hits = journeys.filter(journeys.event == event)
    return hits.group_by(_cust=hits.customer_id).aggregate(**{name: hits._pos.min()})


def _pivot(rows: ir.Table, depth: int, keys: list[str]) -> ir.Table:
    """Per customer: the events at relative positions 0..depth-1 and whether the path goes on beyond."""
    columns = {f"_s{i}": rows.event.max(where=rows._rel == i) for i in range(depth)}
    return rows.group_by(["customer_id", *keys]).aggregate(**columns, _more=(rows._rel >= depth).max())


def _top_paths(
    pivoted: ir.Table, depth: int, top: int, keys: list[str], reverse: bool = False
) -> list[tuple[dict[str, Any], str, int]]:
    columns = [f"_s{i}" for i in range(depth)]
    counts = pivoted.group_by([*keys, *columns, "_more"]).aggregate(customers=pivoted.count())
    ordered = counts.order_by([ibis.desc("customers"), *columns, "_more"])  # total order: deterministic ties
    out = []
    for row in ordered.limit(top).to_pyarrow().to_pylist():
        items = [row[c] for c in columns]
        text = (
            _path_text(list(reversed(items)), more_before=bool(row["_more"]))
            if reverse
            else _path_text(items, more_after=bool(row["_more"]))
        )
        out.append(({k: row[k] for k in keys}, text or END, int(row["customers"])))
    return out


def _paths(
    journeys: ir.Table, from_event: str | None, to_event: str | None, depth: int, top: int
) -> tuple[list[dict[str, Any]], int]:
    anchor_event = from_event or to_event
    if anchor_event is None:
        rows = journeys.mutate(_rel=journeys._pos)
    else:
        anchors = _first_position(journeys, anchor_event, "_anchor")
        joined = journeys.join(anchors, journeys.customer_id == anchors._cust)
        rel = joined._pos - joined._anchor if from_event else joined._anchor - joined._pos
        rows = joined.mutate(_rel=rel)
    rows = rows.filter((rows._rel >= 0) & (rows._rel <= depth))
    pivoted = _pivot(rows, depth, [])
    customers = int(pivoted.count().to_pyarrow().as_py())
    out = [
        {"path": text, "customers": n, "share": n / customers if customers else None}
        for _, text, n in _top_paths(pivoted, depth, top, [], reverse=to_event is not None)
    ]
    return out, customers


def _paths_after(
    journeys: ir.Table, step: str, conversion: str, depth: int, top: int
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Paths after the first ``step``, for customers who then convert vs those who do not."""
    anchors = _first_position(journeys, step, "_anchor")
    joined = journeys.join(anchors, journeys.customer_id == anchors._cust)
    later = joined.filter(joined._pos > joined._anchor)
    conversions = later.filter(later.event == conversion)
    converted = conversions.group_by(_cc=conversions.customer_id).aggregate(_conv=conversions._pos.min())
    rows = joined.left_join(converted, joined.customer_id == converted._cc)
    rows = rows.mutate(_rel=rows._pos - rows._anchor - 1, _converted=rows._conv.notnull())
    # Converters' paths stop at their conversion; the anchor row keeps customers with nothing after it.
    rows = rows.filter((rows._rel >= -1) & (rows._rel <= depth) & (rows._conv.isnull() | (rows._pos <= rows._conv)))
    rows = rows.mutate(event=ibis.cases((rows._rel >= 0, rows.event), else_=ibis.null("string")))
    pivoted = _pivot(rows, depth, ["_converted"])
    totals_rows = pivoted.group_by("_converted").aggregate(n=pivoted.count()).to_pyarrow().to_pylist()
    totals = {bool(r["_converted"]): int(r["n"]) for r in totals_rows}
    out: list[dict[str, Any]] = []
    for flag, label in ((True, "converted"), (False, "dropped_off")):
        subset = pivoted.filter(pivoted._converted == flag)
        for _, text, n in _top_paths(subset, depth, top, ["_converted"]):
            group_total = totals.get(flag, 0)
            out.append(
                {
                    "outcome": label,
                    "path": text,
                    "customers": n,
                    "share_of_outcome": n / group_total if group_total else None,
                }
            )
    return out, {"converted": totals.get(True, 0), "dropped_off": totals.get(False, 0)}


def paths(
    dataset: Dataset,
    from_event: str | None = None,
    to_event: str | None = None,
    depth: int = 5,
    top: int = 10,
    after: str | None = None,
    conversion: str | None = None,
    defaults: JourneyDefaults | None = None,
) -> ToolResult:
    """Where customers go next (or came from), their most common journeys, and paths after a step.

    Args:
        dataset: the loaded events.
        from_event: anchor at each customer's first occurrence of this event; transitions are what follows it.
        to_event: anchor at the first occurrence of this event; transitions and paths are what led to it.
        depth: events shown per path (longer paths end with "…").
        top: rows per table.
        after: also compare paths after the first occurrence of this step for customers who then convert
            and those who do not.
        conversion: the conversion event for ``after`` (default: configured).
        defaults: configured defaults.

    Returns:
        ``result``: ``transitions`` (from, to, transitions, customers, share), ``paths`` (path, customers, share)
        and, with ``after``, ``paths_after`` (outcome, path, customers, share_of_outcome).
    """
    defaults = defaults or JourneyDefaults()
    if from_event and to_event:
        raise ArgumentError("give either --from or --to, not both")
    if not 1 <= depth <= MAX_DEPTH:
        raise ArgumentError(f"--depth must be between 1 and {MAX_DEPTH}, got {depth}")
    if top < 1:
        raise ArgumentError(f"--top must be at least 1, got {top}")
    conversion = conversion or defaults.conversion
    named = [e for e in (from_event, to_event, after) if e]
    dataset.require_events(named, what="event")
    if after:
        dataset.require_events([conversion], what="conversion event")
    notes: list[str] = []
    with materialized(dataset.con, collapsed_journeys(dataset.events)) as journeys:
        transitions = _transitions(journeys, from_event, to_event, top)
        top_paths, customers = _paths(journeys, from_event, to_event, depth, top)
        result: dict[str, Any] = {"customers": customers, "transitions": transitions, "paths": top_paths}
        if after:
            rows, totals = _paths_after(journeys, after, conversion, depth, top)
            reached = totals["converted"] + totals["dropped_off"]
            result.update(
                {
                    "customers_after_step": reached,
                    "converted_after_step": totals["converted"],
                    "conversion_after_step": totals["converted"] / reached if reached else None,
                    "paths_after": rows,
                }
            )
    if (from_event or to_event) and not customers:
        notes.append(f"no customer has {from_event or to_event!r}")
    anchor = (
        f"from each customer's first {from_event!r}"
        if from_event
        else f"the events leading to each customer's first {to_event!r}"
        if to_event
        else "from each customer's first event"
    )
    return ToolResult(
        tool="paths",
        definition={
            "from": from_event,
            "to": to_event,
            "after": after,
            "conversion": conversion if after else None,
            "depth": depth,
            "top": top,
            "journey": "a customer's events ordered by time (ties by event name), consecutive repeats of one "
            "event collapsed",
            "transitions": "every occurrence of the event in the collapsed journeys, with the next event "
            f"({END!r} if it was the last) or the previous one ({START!r} if it was the first); "
            "share = of all those occurrences"
            if from_event or to_event
            else "consecutive pairs of events in the collapsed journeys; share = of all pairs",
            "paths": f"{anchor}; at most `depth` events, {MORE!r} where the journey goes on; share = of "
            "customers with a path",
            "paths_after": "events after the customer's first `after` step; converters' paths end at their "
            "first conversion after it; share_of_outcome = of customers with that outcome"
            if after
            else None,
            **definition(dataset),
        },
        result=result,
        notes=notes,
    )


class PathsArgs(BaseModel):
    """Arguments of the ``paths`` tool."""

    model_config = ConfigDict(extra="forbid")
    from_event: str | None = Field(
        None, description="Show what customers do after their first occurrence of this event (e.g. 'pricing')."
    )
    to_event: str | None = Field(
        None, description="Show what customers did before their first occurrence of this event."
    )
    depth: int = Field(5, ge=1, le=MAX_DEPTH, description="How many events each path shows.")
    top: int = Field(10, ge=1, le=50, description="How many transitions and paths to list.")
    after: str | None = Field(
        None,
        description="Also compare the paths after this step of customers who then convert vs those who drop off.",
    )


def _run(context: ToolContext, args: PathsArgs) -> ToolResult:
    return paths(
        context.dataset(),
        from_event=args.from_event,
        to_event=args.to_event,
        depth=args.depth,
        top=args.top,
        after=args.after,
        defaults=context.defaults,
    )


SPECS = [
    ToolSpec(
        name="paths",
        description=(
            "Customer journey paths: the most common next steps after an event (from_event) or previous steps "
            "before it (to_event) with counts and shares, the most common journeys (consecutive repeats "
            "collapsed, capped at `depth` events), and with `after` the paths of customers who convert vs those "
            "who drop off after a step. Event names must exist in the data (an unknown one returns the list)."
        ),
        args=PathsArgs,
        run=_run,
        examples=(
            "what do people do after pricing?",
            "what do customers do before they sign up?",
            "what are the most common customer journeys?",
            "where do people go after viewing a product?",
            "how do converters' paths after the demo differ from those who drop off?",
            "what happens after signup?",
        ),
    )
]
