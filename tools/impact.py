"""``impact``: the causal effect of exposure to each channel on conversion, adjusted for confounding.

Attribution splits credit; this tool asks "what would these customers have done without the channel?".

Design, per channel c (all choices are printed in ``definition``):

* **Exposure time**: a customer's first touch of c. **Comparison stage** s*: the furthest point of the journey
  (arrival, then each configured stage in order) that at least 90% of exposed customers had reached strictly
  before their exposure — e.g. ``pricing`` for a channel shown to people who reached pricing, ``signup`` for a
  nurture email, ``(arrival)`` for an acquisition channel.
* **Pseudo exposure time** (time zero, the same footing for everyone): the moment a customer first reached s*.
  Exposed customers are compared with never-exposed customers who also reached s*, both measured from then on.
  Customers who converted before reaching s* and exposed customers exposed before reaching s* are left out.
* **Features** measured strictly before time zero (so before any analysed exposure): which stages had been
  reached, activity counts (events, touches), the entry channel, day of arrival, day of time zero and the time
  from arrival to time zero.
* **Outcome**: converting at or after time zero. **Estimand**: the effect on the exposed (ATT), in
  percentage points, estimated by cross-fitted doubly-robust AIPW (``tools.causal``) with an influence-function
  95% interval. The naive exposed-vs-unexposed difference in conversion rate is reported beside it.

The per-customer feature table (one row per customer) is built in the engine and pulled as numpy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from tools.causal import CLIP, FOLDS, MAX_FIT_ROWS, aipw_att
from tools.context import ToolContext
from tools.dataset import Dataset, definition
from tools.errors import ArgumentError, DataError
from tools.registry import ToolSpec
from tools.result import ToolResult

ELIGIBILITY_SHARE = 0.9
MIN_GROUP = 30
ARRIVAL = "(arrival)"
ASSUMPTIONS = {
    "no_unmeasured_confounding": (
        "given the pre-exposure features, whether a customer was exposed is unrelated to how likely they were to "
        "convert anyway"
    ),
    "positivity": "every kind of customer had a real chance both to be exposed and not to be",
    "consistency": "exposure means the same thing for everyone (one first touch of the channel)",
    "no_interference": "one customer's exposure does not change another's conversion",
}


@dataclass
class CustomerTable:
    """One row per customer (numpy arrays; times in seconds since the first event of the data, NaN = never)."""

    arrival: np.ndarray
    first_conversion: np.ndarray
    stage_times: np.ndarray  # (customers, stages)
    events_before: np.ndarray  # (customers, stages): events strictly before the stage was first reached
    touches_before: np.ndarray  # (customers, stages)
    entry_time: np.ndarray
    entry_channel: np.ndarray  # index into channels, -1 = none
    touch_times: np.ndarray  # (customers, channels): first touch of each channel
    channels: list[str]
    stages: list[str]


def customer_table(dataset: Dataset, conversion: str, stages: list[str], channels: list[str]) -> CustomerTable:
    """Build the per-customer table in the engine and pull it as arrays."""
    t = dataset.events
    t = t.mutate(_s=t.timestamp.epoch_seconds().cast("float64"))
    is_touch = t.channel.notnull() & (t.event != conversion)
    aggs: dict[str, Any] = {
        "arrival": t._s.min(),
        "first_conversion": t._s.min(where=t.event == conversion),
        "entry_time": t._s.min(where=is_touch),
    }
    for k, stage in enumerate(stages):
        aggs[f"stage_{k}"] = t._s.min(where=t.event == stage)
    for j, channel in enumerate(channels):
        aggs[f"touch_{j}"] = t._s.min(where=is_touch & (t.channel == channel))
    per = t.group_by("customer_id").agg(**aggs)
    joined = t.join(per, "customer_id")
    touch_j = joined.channel.notnull() & (joined.event != conversion)
    counts: dict[str, Any] = {
        "entry_channel": joined.channel.min(where=touch_j & (joined._s == joined.entry_time)),
    }
    for k in range(len(stages)):
        before = joined._s < joined[f"stage_{k}"]
        counts[f"events_{k}"] = before.cast("int64").sum()
        counts[f"touches_{k}"] = (before & touch_j).cast("int64").sum()
    table = per.join(joined.group_by("customer_id").agg(**counts), "customer_id").order_by("customer_id")
    data = table.to_pyarrow()

    def col(name: str, shift: float = 0.0) -> np.ndarray:
        return np.asarray(data[name].to_numpy(zero_copy_only=False), dtype=float) - shift

    origin = float(np.nanmin(col("arrival"))) if len(data) else 0.0
    code = {c: i for i, c in enumerate(channels)}
    entry = np.asarray([code.get(c, -1) if c is not None else -1 for c in data["entry_channel"].to_pylist()])
    k_range = range(len(stages))
    return CustomerTable(
        arrival=col("arrival", origin),
        first_conversion=col("first_conversion", origin),
        stage_times=np.column_stack([col(f"stage_{k}", origin) for k in k_range])
        if stages
        else np.zeros((len(data), 0)),
        events_before=np.column_stack([col(f"events_{k}") for k in k_range]) if stages else np.zeros((len(data), 0)),
        touches_before=np.column_stack([col(f"touches_{k}") for k in k_range]) if stages else np.zeros((len(data), 0)),
        entry_time=col("entry_time", origin),
        entry_channel=entry,
        touch_times=np.column_stack([col(f"touch_{j}", origin) for j in range(len(channels))]),
        channels=channels,
        stages=stages,
    )


def comparison_stage(table: CustomerTable, exposure: np.ndarray) -> int:
    """Index of the comparison stage s*: -1 for arrival, else an index into ``table.stages``."""
    exposed = ~np.isnan(exposure)
    chosen = -1
    for k in range(len(table.stages)):
        reached = table.stage_times[exposed, k] < exposure[exposed]  # NaN (never reached) compares False
        if reached.mean() >= ELIGIBILITY_SHARE:
            chosen = k
    return chosen


def exposure_spread(table: CustomerTable, exposure: np.ndarray, treated: np.ndarray, stage: int) -> float:
    """Share of analysed exposures that came while the comparison stage was the furthest point reached."""
    if not treated.any():
        return 1.0
    later = table.stage_times[treated][:, stage + 1 :] < exposure[treated, None]
    return float((~later.any(axis=1)).mean())


def features(table: CustomerTable, stage: int, time_zero: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Pre-time-zero features of the selected rows (see the module docstring)."""
    n_ch = len(table.channels)
    reached = table.stage_times[rows] < time_zero[rows, None]
    if stage >= 0:
        events = table.events_before[rows, stage]
        touches = table.touches_before[rows, stage]
    else:
        events = touches = np.zeros(int(rows.sum()))
    entry_known = table.entry_time[rows] < time_zero[rows]
    entry = np.where(entry_known, table.entry_channel[rows], -1)
    entry_onehot = (entry[:, None] == np.arange(n_ch)[None, :]).astype(float)
    days_arrival = table.arrival[rows] / 86_400.0
    days_zero = time_zero[rows] / 86_400.0
    hours = np.log1p(np.maximum(time_zero[rows] - table.arrival[rows], 0.0) / 3600.0)
    return np.column_stack(
        [reached.astype(float), np.log1p(events), np.log1p(touches), entry_onehot, days_arrival, days_zero, hours]
    )


def _verdict(low: float, high: float) -> str:
    if low > 0:
        return "drives"
    if high < 0:
        return "harms"
    return "no evidence"


def channel_effect(table: CustomerTable, j: int, seed: int) -> tuple[dict[str, Any] | None, list[str]]:
    """The effect row of channel ``j`` (None when there are too few customers to compare), and its notes."""
    channel = table.channels[j]
    exposure = table.touch_times[:, j]
    exposed = ~np.isnan(exposure)
    converted = ~np.isnan(table.first_conversion)
    naive = 100.0 * (converted[exposed].mean() - converted[~exposed].mean()) if (~exposed).any() else float("nan")
    stage = comparison_stage(table, exposure)
    time_zero = table.arrival if stage < 0 else table.stage_times[:, stage]
    eligible = ~np.isnan(time_zero) & ~(table.first_conversion < time_zero)
    exposed_before = eligible & exposed & (exposure < time_zero)
    treated = eligible & exposed & ~(exposure < time_zero)
    control = eligible & ~exposed
    rows = treated | control
    stage_name = ARRIVAL if stage < 0 else table.stages[stage]
    base = {
        "channel": channel,
        "exposed_customers": int(exposed.sum()),
        "naive_difference_pp": float(naive),
        "compared_from": stage_name,
        "analysed_exposed": int(treated.sum()),
        "analysed_unexposed": int(control.sum()),
    }
    notes = []
    if exposed_before.any():
        notes.append(
            f"{channel}: {int(exposed_before.sum()):,} exposed customers were exposed before {stage_name} and left out"
        )
    spread = exposure_spread(table, exposure, treated, stage)
    if spread < 0.8 and treated.any():
        notes.append(
            f"{channel}: only {spread:.0%} of analysed exposures came while {stage_name} was the furthest point "
            "reached; later exposures that target customers who progressed bias the estimate upwards (an "
            "acquisition channel also used for re-engagement): treat it as indicative"
        )
    if treated.sum() < MIN_GROUP or control.sum() < MIN_GROUP:
        notes.append(
            f"{channel}: too few customers to compare from {stage_name} ({int(treated.sum())} exposed, "
            f"{int(control.sum())} unexposed; at least {MIN_GROUP} each are needed)"
        )
        return None, notes
    x = features(table, stage, time_zero, rows)
    estimate = aipw_att(x, treated[rows], converted[rows], seed=seed)
    row = {
        "channel": channel,
        "effect_pp": 100.0 * estimate.att,
        "ci_low_pp": 100.0 * estimate.ci_low,
        "ci_high_pp": 100.0 * estimate.ci_high,
        "naive_difference_pp": base["naive_difference_pp"],
        "exposed_customers": base["exposed_customers"],
        "verdict": _verdict(estimate.ci_low, estimate.ci_high),
        **{k: v for k, v in base.items() if k not in ("channel", "exposed_customers", "naive_difference_pp")},
        "propensity_clipped": estimate.clipped,
        "exposed_at_comparison_stage": spread,
    }
    if estimate.clipped > 0.05 * rows.sum():
        notes.append(
            f"{channel}: {estimate.clipped:,} of {int(rows.sum()):,} customers had a propensity outside "
            f"[{CLIP}, {1 - CLIP}] (clipped): exposed and unexposed customers overlap poorly, so the estimate leans "
            "on the outcome model"
        )
    return row, notes


def estimate_impact(
    dataset: Dataset,
    conversion: str = "purchase",
    stages: tuple[str, ...] | list[str] = ("visit", "product_view", "signup", "pricing", "demo", "purchase"),
    channels: list[str] | None = None,
    seed: int = 7,
) -> ToolResult:
    """Estimate each channel's causal effect on conversion (effect on the exposed, in percentage points).

    Args:
        dataset: the loaded events.
        conversion: the conversion event.
        stages: the ordered funnel stages (the conversion is dropped from them); they define comparison stages.
        channels: channels to analyse (default: every channel in the data).
        seed: seed of the cross-fitting folds.

    Raises:
        ArgumentError: unknown conversion event, stage or channel.
        DataError: the data has no touches.
    """
    dataset.require_events([conversion], what="conversion event")
    known = dataset.channel_counts()
    if not known:
        raise DataError("no touches: no event has a channel, so there is no exposure to analyse")
    chosen = list(channels) if channels else list(known)
    unknown = [c for c in chosen if c not in known]
    if unknown:
        raise ArgumentError(f"channel {unknown[0]!r} does not occur in the data; channels are: {', '.join(known)}")
    event_names = dataset.event_counts()
    stage_list = [s for s in stages if s != conversion and s in event_names]
    table = customer_table(dataset, conversion, stage_list, chosen)
    rows: list[dict[str, Any]] = []
    notes = [
        "causal estimates hold only under the assumptions in the definition (no unmeasured confounding, "
        "positivity, consistency); attribution credit is a different question"
    ]
    for j in range(len(chosen)):
        row, more = channel_effect(table, j, seed)
        notes.extend(more)
        if row is not None:
            rows.append(row)
    rows.sort(key=lambda r: (-r["effect_pp"], r["channel"]))
    missing = [s for s in stages if s != conversion and s not in event_names]
    if missing:
        notes.append(f"stages not in the data, not used as comparison points: {', '.join(missing)}")
    spec = {
        **definition(dataset),
        "conversion": conversion,
        "stages": stage_list,
        "exposure": "a customer's first touch of the channel (conversion events are not touches)",
        "comparison_stage": (
            f"the furthest of (arrival), {', '.join(stage_list)} that at least {ELIGIBILITY_SHARE:.0%} of exposed "
            "customers reached strictly before exposure"
        ),
        "pseudo_exposure_time": (
            "for everyone, the moment the comparison stage was first reached: exposed customers are compared with "
            "never-exposed customers who reached the same stage, measured from that moment"
        ),
        "excluded": "customers who converted before the comparison stage; exposed customers exposed before it",
        "acquisition_channels": (
            "a channel compared from (arrival) brings customers in: its unexposed customers arrived through other "
            "channels, so its effect is relative to them, and nothing before arrival can be adjusted for"
        ),
        "outcome": f"{conversion} at or after the pseudo exposure time",
        "estimand": "average effect on the exposed (ATT), percentage points of conversion probability",
        "method": (
            f"doubly-robust AIPW for the ATT, {FOLDS}-fold cross-fitted scikit-learn logistic regressions for the "
            f"propensity and the unexposed outcome (each fitted on at most {MAX_FIT_ROWS:,} rows), propensities "
            f"clipped to [{CLIP}, {1 - CLIP}]"
        ),
        "features": (
            "before the pseudo exposure time: stages reached, log events, log touches, entry channel, arrival day, "
            "day of the pseudo exposure time, log hours from arrival to it"
        ),
        "interval": "95% normal interval from the estimated influence function",
        "verdict": "drives if the interval is above 0, harms if below 0, else no evidence",
        "naive_difference": "conversion rate of exposed minus never-exposed customers, no adjustment",
        "assumptions": ASSUMPTIONS,
        "seed": seed,
        "causal": True,
    }
    return ToolResult(tool="impact", definition=spec, result={"channels": rows}, notes=notes)


class ImpactArgs(BaseModel):
    """Arguments of the ``impact`` tool."""

    model_config = ConfigDict(extra="forbid")
    channels: list[str] | None = Field(None, description="Channels to analyse (default: every channel).")
    conversion: str | None = Field(None, description="Conversion event name (default from config, e.g. 'purchase').")


def _run(context: ToolContext, args: ImpactArgs) -> ToolResult:
    d = context.defaults
    return estimate_impact(
        context.dataset(),
        conversion=args.conversion or d.conversion,
        stages=d.stages,
        channels=args.channels,
        seed=d.seed,
    )


SPECS = [
    ToolSpec(
        name="impact",
        description=(
            "Causal impact of each marketing channel on conversion: the effect of being exposed on the exposed "
            "customers' conversion probability, in percentage points with a 95% interval, adjusted for what "
            "customers did before exposure (doubly-robust AIPW), beside the naive exposed-vs-unexposed difference, "
            "with a verdict per channel: drives / no evidence / harms. Use it for 'does this channel really drive "
            "purchases?', 'what would we lose without it?', 'is retargeting actually working?'. Not for splitting "
            "credit (that is attribution)."
        ),
        args=ImpactArgs,
        run=_run,
        examples=(
            "which channels really drive purchases?",
            "does retargeting actually cause conversions?",
            "what is the causal effect of email on purchases?",
            "would we lose sales if we cut a channel?",
            "is the channel lift real or just correlation?",
            "which channels have no real effect?",
        ),
    )
]
