"""Per-customer journey features, aggregated in the engine, and their robust scaling for clustering.

One row per customer (ordered by ``customer_id`` so that seeded sampling is reproducible):

* ``events_total`` and ``events_<name>``: events of each type (the most frequent ``top_events`` names);
* ``touches_<channel>``: events carrying that channel (the most frequent ``top_channels`` channels);
* ``reached_<stage>`` (0/1): the customer has at least one event named after the configured stage
  (presence, not the ordered funnel), and ``stages_reached``, how many of the stages they have;
* ``hours_<a>_to_<b>``: hours from the first ``a`` to the first ``b`` for consecutive stages; empty (NaN) when
  either is missing or ``b`` came first; ``median_gap_hours``: the customer's median over those gaps (their pace);
* ``duration_days`` (first to last event), ``recency_days`` (last event to the last event of the data);
* ``converted`` (0/1, has the conversion event) and ``revenue`` (sum of revenue over all events).

Segments are *defined* by four behavioural blocks: activity (``events_*``), depth (``stages_reached``), pace
(``median_gap_hours``) and ``duration_days``. In the clustering space every block weighs the same: each of its m
features is multiplied by 1/sqrt(m) after standardisation, so eleven event types count as much as one pace.
The other features *describe* segments without defining them: outcomes (``converted``, ``revenue``, the
conversion event's count), channels (how customers were reached, not how they behave), recency (in a fixed
window it mostly says when a customer arrived), the ``reached_`` flags (restated by the stage counts) and the
per-transition gaps (summarised by the pace).

Only the aggregated table (customers x features) comes back to Python, as numpy ``float32``.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

import ibis
import numpy as np
import pyarrow.compute as pc

from tools.dataset import Dataset

FeatureKind = Literal["count", "binary", "hours", "days", "money"]

# Standardised values beyond this many SDs are clipped so a handful of extreme customers cannot own a cluster.
CLIP_SD = 5.0


def feature_slug(value: str) -> str:
    """A column-name-safe spelling of an event name or channel (``paid search`` -> ``paid_search``)."""
    slug = re.sub(r"[^0-9a-zA-Z]+", "_", str(value)).strip("_").lower()
    return slug or "blank"


@dataclass
class CustomerFeatures:
    """The per-customer feature table.

    Attributes:
        customer_ids: one id per row, sorted.
        names: feature names (columns of ``values``).
        kinds: how each feature is measured (decides its transform and its wording in segment names).
        values: raw values, ``float32``; NaN where a time gap does not exist.
        stages: the configured stages, in order.
        stage_first_seconds: epoch seconds of each customer's first event of each stage (NaN if never), used for
            stage paths.
        blocks: the behavioural block of each feature, or None for descriptive-only features.
        labels: the original event name or channel behind each ``events_``/``touches_`` feature.
        definition: how the features were computed (for a tool's ``definition``).
    """

    customer_ids: np.ndarray
    names: list[str]
    kinds: list[FeatureKind]
    values: np.ndarray
    stages: tuple[str, ...]
    stage_first_seconds: np.ndarray
    blocks: list[str | None] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    definition: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        """Number of customers."""
        return int(self.values.shape[0])

    def column(self, name: str) -> np.ndarray:
        """One feature's raw values."""
        return self.values[:, self.names.index(name)]

    def cluster_columns(self) -> tuple[np.ndarray, np.ndarray]:
        """Indices of the features that define segments, and their block weights (1/sqrt(block size))."""
        index = np.array([j for j, block in enumerate(self.blocks) if block is not None], dtype=np.int64)
        sizes = Counter(block for block in self.blocks if block is not None)
        weights = np.array([1.0 / np.sqrt(sizes[self.blocks[j]]) for j in index], dtype=np.float32)
        return index, weights


def _top(counts: dict[str, int], limit: int, keep: tuple[str, ...] = ()) -> list[str]:
    chosen = [name for name in counts if name in keep]
    for name in counts:
        if len(chosen) >= limit + len(keep):
            break
        if name not in chosen:
            chosen.append(name)
    return chosen


def _unique_slugs(prefix: str, values: list[str]) -> dict[str, str]:
    """Feature name per value; distinct values whose slugs collide get a numeric suffix."""
    out: dict[str, str] = {}
    for value in values:
        name = f"{prefix}_{feature_slug(value)}"
        base, i = name, 2
        while name in out.values():
            name, i = f"{base}_{i}", i + 1
        out[value] = name
    return out


def customer_features(
    dataset: Dataset,
    stages: tuple[str, ...] | list[str],
    conversion: str,
    top_events: int = 20,
    top_channels: int = 12,
) -> CustomerFeatures:
    """Compute the per-customer feature table in the engine.

    Args:
        dataset: the loaded events.
        stages: the ordered journey stages (``[journey] stages``); stages absent from the data are skipped.
        conversion: the conversion event (``converted`` is 1 for customers with at least one).
        top_events: event names beyond the most frequent ``top_events`` get no ``events_`` column of their own
            (stages and the conversion event always do).
        top_channels: likewise for ``touches_`` columns.
    """
    t = dataset.events
    event_counts = dataset.event_counts()
    present_stages = tuple(s for s in stages if s in event_counts)
    kept_events = _top(event_counts, top_events, keep=(*present_stages, conversion))
    kept_events = [e for e in kept_events if e in event_counts]
    kept_channels = _top(dataset.channel_counts(), top_channels)
    event_cols = _unique_slugs("events", kept_events)
    channel_cols = _unique_slugs("touches", kept_channels)

    names: list[str] = ["events_total"]
    kinds: list[FeatureKind] = ["count"]
    aggs: dict[str, Any] = {"events_total": t.count()}
    for event, name in event_cols.items():
        names.append(name)
        kinds.append("count")
        aggs[name] = t.count(where=t.event == event)
    for channel, name in channel_cols.items():
        names.append(name)
        kinds.append("count")
        aggs[name] = t.count(where=t.channel == channel)
    count_names = list(names)
    first_cols = [f"_first_{i}" for i in range(len(present_stages))]
    for stage, col in zip(present_stages, first_cols, strict=True):
        aggs[col] = t.timestamp.min(where=t.event == stage)
    aggs["_first"] = t.timestamp.min()
    aggs["_last"] = t.timestamp.max()
    aggs["_converted"] = t.count(where=t.event == conversion)
    aggs["revenue"] = t.revenue.sum()
    per = t.group_by("customer_id").agg(**aggs)

    data_end = t.timestamp.max().as_scalar()
    derived: dict[str, Any] = {}
    for stage, col in zip(present_stages, first_cols, strict=True):
        derived[f"reached_{feature_slug(stage)}"] = per[col].notnull().cast("int64")
    derived["stages_reached"] = sum(
        (per[col].notnull().cast("int64") for col in first_cols), ibis.literal(0).cast("int64")
    )
    for (a, col_a), (b, col_b) in zip(
        zip(present_stages, first_cols, strict=True),
        zip(present_stages[1:], first_cols[1:], strict=False),
        strict=False,
    ):
        gap = (per[col_b].epoch_seconds() - per[col_a].epoch_seconds()) / 3600.0
        derived[f"hours_{feature_slug(a)}_to_{feature_slug(b)}"] = ibis.cases((gap >= 0, gap), else_=ibis.null())
    derived["median_gap_hours"] = ibis.null("float64")  # filled in numpy from the gaps above
    derived["duration_days"] = (per._last.epoch_seconds() - per._first.epoch_seconds()) / 86400.0
    derived["recency_days"] = (data_end.epoch_seconds() - per._last.epoch_seconds()) / 86400.0
    derived["converted"] = (per._converted > 0).cast("int64")
    derived["revenue"] = per.revenue.fill_null(0.0)
    first_seconds = {col: per[col].epoch_seconds() for col in first_cols}

    for name in derived:
        if name == "revenue":
            continue
        names.append(name)
        kinds.append(_kind(name))
    names.append("revenue")
    kinds.append("money")
    table = per.select("customer_id", *count_names, **derived, **first_seconds)
    # Sorted in Arrow rather than in the engine: sorting the id column alone is far cheaper than a wide sort.
    frame = table.to_pyarrow()
    frame = frame.take(pc.sort_indices(frame["customer_id"]))

    values = np.empty((frame.num_rows, len(names)), dtype=np.float32)
    for j, name in enumerate(names):
        values[:, j] = frame[name].to_numpy(zero_copy_only=False).astype(np.float32)
    gaps = [j for j, name in enumerate(names) if name.startswith("hours_")]
    pace = names.index("median_gap_hours")
    values[:, pace] = row_nanmedian(values[:, gaps]) if gaps else np.nan
    stage_first = np.empty((frame.num_rows, len(first_cols)), dtype=np.float64)
    for j, col in enumerate(first_cols):
        stage_first[:, j] = frame[col].to_numpy(zero_copy_only=False).astype(np.float64)
    outcome = {"converted", "revenue", event_cols.get(conversion)}
    blocks = [None if name in outcome else _block(name) for name in names]
    labels = {name: event for event, name in event_cols.items()}
    labels.update({name: channel for channel, name in channel_cols.items()})
    definition = {
        "features": (
            "per customer: events_total, events_<event> (most frequent event names), touches_<channel> (events "
            "with that channel), reached_<stage> (has the stage event; presence, not the ordered funnel), "
            "stages_reached, hours_<a>_to_<b> (first a to first b for consecutive stages; empty if either is "
            "missing or b came first), median_gap_hours (median of those gaps), duration_days (first to last "
            "event), recency_days (last event to the end of the data), converted (has the conversion event), "
            "revenue (sum)"
        ),
        "stages": list(present_stages),
        "conversion": conversion,
        "defining_blocks": "activity (events_* except the conversion event), depth (stages_reached), pace "
        "(median_gap_hours), duration (duration_days); each block weighs the same",
        "describing_features": "converted, revenue, touches_* (channels), recency_days, reached_*, hours_*: "
        "reported in profiles, not used to form segments",
        "event_features": kept_events,
        "channel_features": kept_channels,
    }
    missing = [s for s in stages if s not in event_counts]
    if missing:
        definition["stages_not_in_data"] = missing
    return CustomerFeatures(
        customer_ids=frame["customer_id"].to_numpy(zero_copy_only=False),
        names=names,
        kinds=kinds,
        values=values,
        stages=present_stages,
        stage_first_seconds=stage_first,
        blocks=blocks,
        labels=labels,
        definition=definition,
    )


def row_nanmedian(values: np.ndarray) -> np.ndarray:
    """Median of each row ignoring NaN (NaN for an all-NaN row); vectorised, without numpy's per-row warnings."""
    ordered = np.sort(values, axis=1)  # NaN sorts last
    valid = (~np.isnan(values)).sum(axis=1)
    lo = np.clip((valid - 1) // 2, 0, None)[:, None]
    hi = np.clip(valid // 2, 0, values.shape[1] - 1)[:, None]
    middle = (np.take_along_axis(ordered, lo, axis=1) + np.take_along_axis(ordered, hi, axis=1))[:, 0] / 2
    return np.where(valid > 0, middle, np.nan).astype(values.dtype)


def _block(name: str) -> str | None:
    """The behavioural block a feature belongs to (None: describes segments, does not define them)."""
    if name.startswith("events_"):
        return "activity"
    return {"stages_reached": "depth", "median_gap_hours": "pace", "duration_days": "duration"}.get(name)


def _kind(name: str) -> FeatureKind:
    if name.startswith("reached_") or name == "converted":
        return "binary"
    if name.startswith("hours_") or name.endswith("_hours"):
        return "hours"
    if name.endswith("_days"):
        return "days"
    if name == "revenue":
        return "money"
    return "count"


@dataclass(frozen=True)
class Scaler:
    """Robust scaling fitted on a sample: log1p for non-negative magnitudes, median imputation, z-scores.

    Attributes:
        log_columns: columns transformed with ``log1p`` (counts, durations, gaps, revenue; not 0/1 flags).
        medians: per-column median of the transformed values, used for missing values (absent time gaps).
        means: per-column mean after imputation.
        stds: per-column standard deviation after imputation (1 where a column is constant).
    """

    log_columns: np.ndarray
    medians: np.ndarray
    means: np.ndarray
    stds: np.ndarray

    def transform(self, values: np.ndarray) -> np.ndarray:
        """log1p + median imputation, unstandardised (the scale effect sizes are measured on)."""
        # Column by column, in place, on a column-major copy: fancy-indexing a million-row table would copy it
        # several times.
        out = np.array(values, dtype=np.float32, order="F", copy=True)
        for j in range(out.shape[1]):
            column = out[:, j]
            if self.log_columns[j]:
                np.clip(column, 0.0, None, out=column)
                np.log1p(column, out=column)
            missing = np.isnan(column)
            if missing.any():
                column[missing] = self.medians[j]
        return out

    def scale(self, values: np.ndarray) -> np.ndarray:
        """The clustering input: transformed, standardised and clipped to +-``CLIP_SD``."""
        out = self.transform(values)
        out -= self.means
        out /= self.stds
        np.clip(out, -CLIP_SD, CLIP_SD, out=out)
        return out


def fit_scaler(features: CustomerFeatures, rows: np.ndarray | None = None) -> Scaler:
    """Fit the robust scaler on the given rows (all customers when ``rows`` is None)."""
    log_columns = np.array([kind != "binary" for kind in features.kinds])
    sample = features.values if rows is None else features.values[rows]
    transformed = np.array(sample, dtype=np.float64, copy=True)
    transformed[:, log_columns] = np.log1p(np.clip(transformed[:, log_columns], 0.0, None))
    with np.errstate(all="ignore"):
        medians = np.nanmedian(transformed, axis=0) if transformed.size else np.zeros(transformed.shape[1])
    medians = np.nan_to_num(medians, nan=0.0)
    missing = np.isnan(transformed)
    if missing.any():
        transformed[missing] = np.take(medians, np.nonzero(missing)[1])
    means = transformed.mean(axis=0)
    stds = transformed.std(axis=0)
    stds[~(stds > 1e-9)] = 1.0
    return Scaler(
        log_columns=log_columns,
        medians=medians.astype(np.float32),
        means=means.astype(np.float32),
        stds=stds.astype(np.float32),
    )
