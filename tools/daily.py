"""Daily series of journey metrics, aggregated in the engine (UTC calendar days).

Metrics (name: meaning):

* ``customers_<stage>``: distinct customers with at least one event of that stage that day;
* ``rate_<a>_to_<b>``: for consecutive stages, of the customers who reached a that day, the share who also
  reached b that day: a proportion in [0, 1] (a ratio of the two day counts could pass 1 when b's customers
  came from earlier days). It is what drops when one step of the journey breaks on a given day; it is not a
  cohort conversion (later days do not count), and it is undefined when no one reached a;
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
    denominators: dict[str, np.ndarray] = {}
    if present:
        # One row per (day, customer) with a flag per stage, then one row per day: the stage counts and, per
        # consecutive pair, the customers with both stages that day.
        staged = t.filter(t.event.isin(present))
        flags = {f"_has{i}": (staged.event == s).any() for i, s in enumerate(present)}
        per_customer = staged.group_by(day=staged.timestamp.date(), customer_id=staged.customer_id).agg(**flags)
        sums: dict[str, Any] = {f"_n{i}": per_customer[f"_has{i}"].sum() for i in range(len(present))}
        for i in range(len(present) - 1):
            sums[f"_both{i}"] = (per_customer[f"_has{i}"] & per_customer[f"_has{i + 1}"]).sum()
        per_day = per_customer.group_by("day").agg(**sums).to_pyarrow()
        rows = [index[_as_date(d)] for d in per_day["day"].to_pylist()]

        def series(column: str) -> np.ndarray:
            out = np.zeros(len(days))
            out[rows] = np.asarray(per_day[column].to_pylist(), dtype=np.float64)
            return out

        for i, s in enumerate(present):
            name = f"customers_{feature_slug(s)}"
            values[name], kinds[name], labels[name] = series(f"_n{i}"), "count", f"customers reaching {s}"
        for i, (a, b) in enumerate(itertools.pairwise(present)):
            name = f"rate_{feature_slug(a)}_to_{feature_slug(b)}"
            num, den = series(f"_both{i}"), values[f"customers_{feature_slug(a)}"]
            with np.errstate(invalid="ignore", divide="ignore"):
                values[name] = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
            kinds[name], denominators[name] = "rate", den
            labels[name] = f"share of the day's {a} customers who reached {b} that day"
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
