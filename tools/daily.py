"""Daily series of journey metrics, aggregated in the engine (UTC calendar days).

Metrics (name: meaning):

* ``customers_<stage>``: distinct customers with at least one event of that stage that day;
* ``rate_<a>_to_<b>``: for consecutive stages, ``customers_<b> / customers_<a>`` on the same day. This is a
  same-day activity ratio, not a cohort conversion: it compares the day's flow into b with the day's flow into a,
  which is what moves when one step of the journey breaks on a given day (undefined when no one reached a);
* ``touches_<channel>``: events carrying that channel;
* ``revenue``: the sum of revenue over all events.

Only one row per (day, stage) and (day, channel) comes back to Python.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

import numpy as np

from tools.dataset import Dataset
from tools.features import feature_slug

MetricKind = Literal["count", "rate", "money"]


@dataclass
class DailyMetrics:
    """Every metric as one value per calendar day.

    Attributes:
        days: every UTC day from the first to the last event, gaps included (zero activity is a value).
        values: metric name -> values per day (float; NaN where a rate is undefined).
        kinds: metric name -> count | rate | money (decides the noise model of the anomaly test).
        denominators: for rates, the customers at the earlier stage each day.
        first_event, last_event: the data's first and last timestamps (to spot partial edge days).
        labels: metric name -> the stage pair or channel it measures, for people.
    """

    days: list[date]
    values: dict[str, np.ndarray]
    kinds: dict[str, MetricKind]
    denominators: dict[str, np.ndarray] = field(default_factory=dict)
    first_event: datetime | None = None
    last_event: datetime | None = None
    labels: dict[str, str] = field(default_factory=dict)


def _as_date(value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _span(dataset: Dataset) -> dict[str, Any]:
    """First and last timestamps and total revenue (the dataset's cached summary when there is one; else a
    cheaper aggregate than ``Dataset.summary``, which also counts distinct customers)."""
    cached = dataset._cache.get("summary")
    if cached is not None:
        return dict(cached)
    t = dataset.events
    row = t.aggregate(first=t.timestamp.min(), last=t.timestamp.max(), revenue=t.revenue.sum()).to_pyarrow()
    return dict(row.to_pylist()[0])


def daily_metrics(dataset: Dataset, stages: tuple[str, ...] | list[str], max_channels: int = 12) -> DailyMetrics:
    """Compute the daily metric series in the engine.

    Args:
        dataset: the loaded events.
        stages: the ordered journey stages; stages that never occur are skipped.
        max_channels: only the most frequent channels get a ``touches_`` series.
    """
    t = dataset.events
    known = dataset.event_counts()
    present = [s for s in stages if s in known]
    channels = list(dataset.channel_counts())[:max_channels]
    summary = _span(dataset)
    first, last = summary["first"], summary["last"]
    if first is None or last is None:
        return DailyMetrics(days=[], values={}, kinds={})
    days = [first.date() + timedelta(days=i) for i in range((last.date() - first.date()).days + 1)]
    index = {d: i for i, d in enumerate(days)}
    values: dict[str, np.ndarray] = {}
    kinds: dict[str, MetricKind] = {}
    labels: dict[str, str] = {}

    day = t.timestamp.date()
    if present:
        staged = t.filter(t.event.isin(present))
        per_stage = (
            staged.group_by(day=staged.timestamp.date(), event=staged.event)
            .agg(customers=staged.customer_id.nunique())
            .to_pyarrow()
        )
        stage_series = {s: np.zeros(len(days)) for s in present}
        for d, event, n in zip(
            per_stage["day"].to_pylist(),
            per_stage["event"].to_pylist(),
            per_stage["customers"].to_pylist(),
            strict=True,
        ):
            stage_series[event][index[_as_date(d)]] = n
        for s in present:
            name = f"customers_{feature_slug(s)}"
            values[name], kinds[name], labels[name] = stage_series[s], "count", f"customers reaching {s}"
    denominators: dict[str, np.ndarray] = {}
    for a, b in itertools.pairwise(present):
        name = f"rate_{feature_slug(a)}_to_{feature_slug(b)}"
        num, den = values[f"customers_{feature_slug(b)}"], values[f"customers_{feature_slug(a)}"]
        with np.errstate(invalid="ignore", divide="ignore"):
            values[name] = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
        kinds[name], denominators[name], labels[name] = "rate", den, f"same-day {b} / {a} customers"
    if channels:
        touched = t.filter(t.channel.isin(channels))
        per_channel = (
            touched.group_by(day=touched.timestamp.date(), channel=touched.channel).agg(n=touched.count()).to_pyarrow()
        )
        channel_series = {c: np.zeros(len(days)) for c in channels}
        for d, channel, n in zip(
            per_channel["day"].to_pylist(),
            per_channel["channel"].to_pylist(),
            per_channel["n"].to_pylist(),
            strict=True,
        ):
            channel_series[channel][index[_as_date(d)]] = n
        for c in channels:
            name = f"touches_{feature_slug(c)}"
            values[name], kinds[name], labels[name] = channel_series[c], "count", f"{c} touches"
    if summary.get("revenue"):
        per_day = t.group_by(day=day).agg(revenue=t.revenue.sum()).to_pyarrow()
        revenue = np.zeros(len(days))
        for d, r in zip(per_day["day"].to_pylist(), per_day["revenue"].to_pylist(), strict=True):
            revenue[index[_as_date(d)]] = r or 0.0
        values["revenue"], kinds["revenue"], labels["revenue"] = revenue, "money", "revenue"
    return DailyMetrics(
        days=days,
        values=values,
        kinds=kinds,
        denominators=denominators,
        first_event=first,
        last_event=last,
        labels=labels,
    )
