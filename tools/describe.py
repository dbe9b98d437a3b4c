"""``inspect``: what is in the loaded data, and what was excluded while loading it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tools.context import ToolContext
from tools.dataset import Dataset, definition
from tools.registry import ToolSpec
from tools.result import ToolResult


def inspect_data(dataset: Dataset, top: int = 50) -> ToolResult:
    """Describe the loaded events: customers, events, date range, event names, channels, data quality.

    Args:
        dataset: the loaded events.
        top: at most this many event names and channels are listed (the rest are counted).
    """
    summary = dataset.summary()
    events = dataset.event_counts()
    channels = dataset.channel_counts()
    t = dataset.events
    touch_customers = int(t.filter(t.channel.notnull()).customer_id.nunique().to_pyarrow().as_py())
    per_customer = t.group_by("customer_id").agg(n=t.count())
    spread = per_customer.aggregate(
        median=per_customer.n.approx_median(), p90=per_customer.n.quantile(0.9), max=per_customer.n.max()
    )
    stats = spread.to_pyarrow().to_pylist()[0]
    total_events = int(summary["events"])
    result: dict[str, Any] = {
        "customers": int(summary["customers"]),
        "events": total_events,
        "first_event": summary["first"].isoformat() if summary["first"] else None,
        "last_event": summary["last"].isoformat() if summary["last"] else None,
        "touches": int(summary["touches"] or 0),
        "customers_with_touches": touch_customers,
        "revenue": float(summary["revenue"] or 0.0),
        "events_per_customer_median": float(stats["median"]),
        "events_per_customer_p90": float(stats["p90"]),
        "events_per_customer_max": int(stats["max"]),
        "events_by_name": [
            {"event": name, "events": n, "share": n / total_events} for name, n in list(events.items())[:top]
        ],
        "channels": [
            {"channel": name, "touches": n, "share": n / max(int(summary["touches"] or 0), 1)}
            for name, n in list(channels.items())[:top]
        ],
        "properties": dataset.property_columns,
        "quality": dataset.quality.as_dict(),
    }
    notes = dataset.quality.notes()
    if len(events) > top:
        notes.append(f"{len(events) - top} more event names not listed")
    if not channels:
        notes.append("no touches: no event has a channel, so attribution and impact have nothing to analyse")
    return ToolResult(
        tool="inspect",
        definition={**definition(dataset), "top": top},
        result=result,
        notes=notes or ["no rows were excluded"],
    )


def daily_counts(dataset: Dataset) -> Any:
    """Events per UTC day (small aggregate, used by demo checks)."""
    t = dataset.events
    day = t.timestamp.truncate("D")
    return t.group_by(day=day).agg(events=t.count()).order_by("day").to_pyarrow()


class InspectArgs(BaseModel):
    """Arguments of the ``inspect`` tool."""

    model_config = ConfigDict(extra="forbid")
    top: int = Field(20, ge=1, le=200, description="How many event names and channels to list.")


def _run(context: ToolContext, args: InspectArgs) -> ToolResult:
    return inspect_data(context.dataset(), top=args.top)


SPECS = [
    ToolSpec(
        name="inspect",
        description=(
            "Describe the loaded journey data: number of customers and events, date range, every event name "
            "and channel with counts, and data-quality notes (rows excluded and why). Use it first when unsure "
            "which event names or channels exist."
        ),
        args=InspectArgs,
        run=_run,
        examples=(
            "what data do we have?",
            "how many customers are in the data?",
            "which events and channels exist?",
            "what date range does the data cover?",
            "are there data quality problems?",
        ),
    )
]
