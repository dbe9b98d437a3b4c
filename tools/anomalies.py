"""``anomalies``: days on which a journey metric moved beyond its normal range, with false-discovery control.

Method (printed in every result's ``definition``), per metric of ``tools.daily``:

1. scale: counts and revenue on the square-root scale (Poisson-like noise becomes roughly constant, sd 1/2 for
   counts), rates as they are;
2. baseline for day d, seasonality-aware and robust, never using day d itself: a *weekday effect*, the median
   over the 8 nearest other days with d's weekday of (value - median of their 7-day block; a block holds one of
   each weekday), 0 when fewer than 3 such days exist; and a *level*, the median of the deseasonalised values
   (value - weekday effect) of the 6 nearest other days. expected = level + weekday effect. Days scoring
   |z| >= 4 in a first pass then leave the other days' baselines and everything is scored again, so one broken
   day does not make its neighbours look unusual;
3. robust score: residual / its noise, divided by a dispersion factor = 1.4826 x median |standardised
   residual| over the testable days. Counts: noise 1/2 (Poisson on the square-root scale) and a dispersion of at
   least 1 (never less noisy than Poisson). Rates: noise proportional to 1/sqrt(n), n = customers at the earlier
   stage that day (days differ in mix, so the binomial noise is only a floor), scaled by the data, at least half
   the binomial noise at the median rate. Revenue: the dispersion alone, at least 1/2. Two-sided p-value from
   Student t with the MAD's effective degrees of freedom (0.37 x (days - 1): the scale is estimated from few
   days), or from the normal distribution when a floor sets the scale;
4. Benjamini–Hochberg over every (metric, day) tested; days with q <= alpha are reported, most extreme first.

Edges: a first or last calendar day that the data covers for less than 23 hours is partial and is neither used
nor tested; the first ``warmup_days`` complete days (ramp-up: few returning customers yet) are used in
baselines but not tested. Metrics with too little volume are not tested (median below 5 per day; rates with a
median denominator below 20).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from tools.context import ToolContext
from tools.daily import DailyMetrics, MetricKind, daily_metrics
from tools.dataset import Dataset, definition
from tools.errors import ArgumentError
from tools.registry import ToolSpec
from tools.result import ToolResult

LEVEL_NEIGHBOURS = 6
WEEKDAY_NEIGHBOURS = 8
MIN_WEEKDAY_DAYS = 3
REFIT_Z = 4.0
MIN_COUNT = 5.0
MIN_DENOMINATOR = 20.0
EDGE_HOURS = 1.0
MAD_TO_SD = 1.4826
# Asymptotic efficiency of the MAD relative to the SD for normal data: its n residuals are worth ~0.37 n.
MAD_EFFICIENCY = 0.3675


def bh_qvalues(p_values: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (q-values), via statsmodels ``multipletests(method="fdr_bh")``."""
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(p_values, dtype=float)
    if p.size == 0:
        return p
    return np.asarray(multipletests(p, method="fdr_bh")[1], dtype=float)


@dataclass(frozen=True)
class SeriesTest:
    """The baseline and score of one metric on every day.

    Attributes:
        expected: the baseline on the metric's own scale (NaN where not computable).
        z: robust scores (NaN where the day is not usable).
        dispersion: the overdispersion factor (or the residual scale for revenue).
        df: degrees of freedom for the p-value: ``MAD_EFFICIENCY x (days used - 1)`` when the scale was estimated
            from the data, ``inf`` (normal) when a floor set it.
    """

    expected: np.ndarray
    z: np.ndarray
    dispersion: float
    df: float


def two_sided_p(z: float, df: float) -> float:
    """Two-sided p-value of a score: normal when ``df`` is infinite, else Student t."""
    from scipy.stats import norm, t

    return float(2.0 * (norm.sf(abs(z)) if not np.isfinite(df) else t.sf(abs(z), df)))


def _nearest(candidates: np.ndarray, d: int, count: int) -> np.ndarray:
    """The ``count`` candidates closest to ``d`` (excluding d; ties: the earlier day first)."""
    others = candidates[candidates != d]
    order = np.lexsort((others, np.abs(others - d)))
    return others[order[:count]]


def score_series(
    values: np.ndarray,
    kind: MetricKind,
    usable: np.ndarray,
    weekdays: np.ndarray,
    eligible: np.ndarray,
    denominators: np.ndarray | None = None,
) -> SeriesTest:
    """Baseline and robust z-score of every usable day of one metric (see the module docstring).

    Args:
        values: the metric per day.
        kind: count, rate or money.
        usable: days that may serve as baseline (complete days with a defined value).
        weekdays: weekday (0-6) of every day.
        eligible: days whose residuals estimate the noise (usable and past the warm-up).
        denominators: for rates, customers at the earlier stage each day.
    """
    x = np.sqrt(np.clip(values, 0.0, None)) if kind in ("count", "money") else values.astype(float)
    usable = usable & ~np.isnan(x)
    first = _score(x, kind, usable, usable, weekdays, eligible, denominators)
    # Second pass: days that stand out (|z| >= REFIT_Z) leave the baselines of the other days, so one broken day
    # does not drag its neighbours' and its weekday's expectations (and make them look unusual in turn).
    outliers = usable & (np.abs(np.nan_to_num(first.z)) >= REFIT_Z)
    if not outliers.any():
        return first
    return _score(x, kind, usable, usable & ~outliers, weekdays, eligible, denominators)


def _expected(x: np.ndarray, base: np.ndarray, weekdays: np.ndarray) -> np.ndarray:
    """The seasonality-aware robust baseline of every day, from ``base`` days other than the day itself.

    1. a rough weekday-neutral level: the median over the 7-day block around each day (one of each weekday);
    2. weekday effect of day d: median of (value - rough level) over the nearest other same-weekday base days;
    3. level of day d: median of the deseasonalised values (value - its weekday effect) over the nearest other
       base days; expected = level + weekday effect of d.
    """
    n = len(x)
    days = np.nonzero(base)[0]
    rough = np.full(n, np.nan)
    for d in range(n):
        start = min(max(d - 3, 0), max(n - 7, 0))
        block = days[(days >= start) & (days < start + 7)]
        if len(block) >= 4:
            rough[d] = np.median(x[block])
    deviation = x - rough
    effect = np.zeros(n)
    for d in range(n):
        same = days[(weekdays[days] == weekdays[d]) & ~np.isnan(deviation[days])]
        near = _nearest(same, d, WEEKDAY_NEIGHBOURS)
        # With fewer than 3 other same-weekday days a median is a mean, and one odd day would leak into it.
        if len(near) >= MIN_WEEKDAY_DAYS:
            effect[d] = float(np.median(deviation[near]))
    deseasonalised = x - effect
    expected = np.full(n, np.nan)
    for d in range(n):
        near = _nearest(days, d, LEVEL_NEIGHBOURS)
        if len(near) >= 3:
            expected[d] = float(np.median(deseasonalised[near])) + effect[d]
    return expected


def _score(
    x: np.ndarray,
    kind: MetricKind,
    usable: np.ndarray,
    base: np.ndarray,
    weekdays: np.ndarray,
    eligible: np.ndarray,
    denominators: np.ndarray | None,
) -> SeriesTest:
    """One pass of ``score_series`` on the transformed values, with baselines drawn from ``base`` days."""
    n = len(x)
    expected_x = _expected(x, base, weekdays)
    if kind == "rate":
        # A day's share is overdispersed against the binomial (days differ in mix): its noise is taken as
        # proportional to 1/sqrt(customers at the earlier stage), scaled by the data.
        se = 1.0 / np.sqrt(np.maximum(denominators if denominators is not None else 1.0, 1.0))
    elif kind == "count":
        se = np.full(n, 0.5)
    else:
        se = np.ones(n)
    u = (x - expected_x) / se
    pool = u[eligible & usable & ~np.isnan(u)]
    mad = MAD_TO_SD * float(np.median(np.abs(pool))) if pool.size else float("nan")
    # Counts cannot be less noisy than Poisson (dispersion >= 1); rates are given at least half the binomial noise
    # at their median (p capped at 0.95) and revenue at least 1/2 on the square-root scale, so that a series
    # with almost no variation cannot turn a tiny wobble into a huge score.
    if kind == "count":
        floor = 1.0
    elif kind == "rate":
        typical = float(np.nanmedian(x[usable])) if usable.any() else 0.5
        capped = min(max(typical, 0.0), 0.95)
        floor = max(0.5 * float(np.sqrt(capped * (1.0 - capped))), 1e-3)
    else:
        floor = 0.5
    dispersion = max(mad if np.isfinite(mad) else floor, floor)
    # A scale estimated by the MAD is uncertain: Student t with the MAD's effective degrees of freedom.
    df = float("inf") if dispersion == floor or pool.size < 2 else max(MAD_EFFICIENCY * (pool.size - 1), 1.0)
    z = np.where(usable, u / dispersion, np.nan)
    expected = np.clip(expected_x, 0.0, None) ** 2 if kind in ("count", "money") else expected_x
    return SeriesTest(expected=expected, z=z, dispersion=dispersion, df=df)


def _parse_day(text: str | date | None, name: str) -> date | None:
    if text is None or isinstance(text, date):
        return text
    try:
        return date.fromisoformat(str(text).strip()[:10])
    except ValueError as exc:
        raise ArgumentError(f"{name} {text!r} is not a date; write YYYY-MM-DD, e.g. 2024-02-12") from exc


def _select_metrics(available: list[str], requested: list[str] | None) -> list[str]:
    if not requested:
        return available
    chosen: list[str] = []
    for pattern in requested:
        matches = [m for m in available if fnmatch.fnmatchcase(m, pattern)]
        if not matches:
            raise ArgumentError(f"metric {pattern!r} does not exist; metrics are: {', '.join(available)}")
        chosen.extend(m for m in matches if m not in chosen)
    return chosen


def _edges(daily: DailyMetrics) -> tuple[np.ndarray, list[str]]:
    """Complete-day mask: a first/last day covered for less than 23 hours is partial."""
    complete = np.ones(len(daily.days), dtype=bool)
    notes: list[str] = []
    if not daily.days or daily.first_event is None or daily.last_event is None:
        return complete, notes
    start = datetime.combine(daily.days[0], time())
    if daily.first_event - start > timedelta(hours=EDGE_HOURS):
        complete[0] = False
        notes.append(f"{daily.days[0]} is partial (data starts at {daily.first_event:%H:%M} UTC): not used")
    end = datetime.combine(daily.days[-1], time()) + timedelta(days=1)
    if end - daily.last_event > timedelta(hours=EDGE_HOURS) and len(daily.days) > 1:
        complete[-1] = False
        notes.append(f"{daily.days[-1]} is partial (data ends at {daily.last_event:%H:%M} UTC): not used")
    return complete, notes


def _severity(z: float) -> str:
    size = abs(z)
    return "high" if size >= 6 else "medium" if size >= 4 else "low"


def anomalies(
    dataset: Dataset,
    metrics: list[str] | None = None,
    since: str | date | None = None,
    until: str | date | None = None,
    alpha: float = 0.05,
    stages: tuple[str, ...] | list[str] = ("visit", "product_view", "signup", "pricing", "demo", "purchase"),
    warmup_days: int = 7,
) -> ToolResult:
    """Find days on which journey metrics were unusual, controlling the false discovery rate.

    Args:
        dataset: the loaded events.
        metrics: metric names or glob patterns (``customers_*``); all metrics when omitted.
        since: first day to test (YYYY-MM-DD, inclusive); baselines still use every complete day.
        until: last day to test (inclusive).
        alpha: the false discovery rate for Benjamini–Hochberg across every (metric, day) tested.
        stages: the ordered journey stages.
        warmup_days: complete days at the start used for baselines only (ramp-up).
    """
    if not 0.0 < alpha < 1.0:
        raise ArgumentError(f"alpha must be between 0 and 1 (e.g. 0.05), got {alpha}")
    if warmup_days < 0:
        raise ArgumentError(f"warmup_days must be 0 or more, got {warmup_days}")
    first_day, last_day = _parse_day(since, "since"), _parse_day(until, "until")
    if first_day is not None and last_day is not None and first_day > last_day:
        raise ArgumentError(f"--since {first_day} is after --until {last_day}; swap them")
    daily = daily_metrics(dataset, tuple(stages))
    chosen = _select_metrics(list(daily.values), metrics)
    complete, notes = _edges(daily)
    days = np.array(daily.days, dtype="datetime64[D]")
    weekdays = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday (weekday 3)
    eligible = complete.copy()
    eligible[np.nonzero(complete)[0][:warmup_days]] = False
    window = eligible.copy()
    if first_day is not None:
        window &= days >= np.datetime64(first_day)
    if last_day is not None:
        window &= days <= np.datetime64(last_day)

    if (first_day is not None or last_day is not None) and not (window & complete).any() and daily.days:
        raise ArgumentError(
            f"no complete day of the data ({daily.days[0]} to {daily.days[-1]}) lies in the range "
            f"{first_day or '…'} to {last_day or '…'}; choose dates inside the data"
        )
    tests: list[tuple[str, int, float, float, float, float]] = []
    skipped: list[str] = []
    for metric in chosen:
        values, kind = daily.values[metric], daily.kinds[metric]
        den = daily.denominators.get(metric)
        volume = den if den is not None else values
        floor = MIN_DENOMINATOR if kind == "rate" else MIN_COUNT if kind == "count" else 0.0
        if not eligible.any() or float(np.median(volume[eligible])) < floor or not np.any(values[eligible]):
            skipped.append(metric)
            continue
        result = score_series(values, kind, complete, weekdays, eligible, den)
        for day in np.nonzero(window & ~np.isnan(result.z))[0].tolist():
            z = float(result.z[day])
            expected = float(result.expected[day])
            tests.append((metric, day, float(values[day]), expected, z, two_sided_p(z, result.df)))

    p = np.array([t[5] for t in tests])
    q = bh_qvalues(p)
    rows: list[dict[str, Any]] = []
    for (metric, d, value, expected, score, p_value), q_value in zip(tests, q, strict=True):
        if q_value > alpha:
            continue
        rows.append(
            {
                "date": daily.days[d].isoformat(),
                "metric": metric,
                "value": round(value, 4),
                "expected": round(expected, 4),
                "change": round(value / expected - 1.0, 4) if expected else None,
                "score": round(score, 2),
                "p_value": float(p_value),
                "q_value": float(q_value),
                "direction": "down" if score < 0 else "up",
                "severity": _severity(score),
            }
        )
    # Most severe first: the largest robust score (scores share one scale across metrics), then the q-value.
    rows.sort(key=lambda r: (-abs(r["score"]), r["q_value"], r["date"], r["metric"]))
    tested_days = sorted({t[1] for t in tests})
    if skipped:
        notes.append(f"not tested (too little volume): {', '.join(skipped)}")
    if warmup_days:
        notes.append(f"the first {warmup_days} complete days are the warm-up: used for baselines, not tested")
    status = "nothing unusual" if not rows else f"{len(rows)} unusual metric-days"
    if not rows:
        notes.append(f"nothing unusual: no metric-day passes the {alpha:.0%} false-discovery threshold")
    return ToolResult(
        tool="anomalies",
        definition={
            **definition(dataset),
            "method": "each day vs a robust weekday-aware baseline (medians of other days, the day itself "
            "excluded); robust z-scores; Benjamini–Hochberg false-discovery control across all metric-days at "
            f"alpha {alpha:g}",
            "metrics": chosen,
            "metric_definitions": {m: daily.labels.get(m, m) for m in chosen},
            "days": "UTC calendar days",
            "rate": "of the customers who reached stage a that day, the share who also reached stage b that day",
            "baseline": f"weekday effect (median over the {WEEKDAY_NEIGHBOURS} nearest other same-weekday days of "
            f"value minus its 7-day block median) + level (median of the deseasonalised values of the "
            f"{LEVEL_NEIGHBOURS} nearest other days); the day itself is never used, and days scoring "
            f"|z| >= {REFIT_Z:g} in a first pass are left out of the other days' baselines",
            "scale": "square root for counts and revenue; rates as they are",
            "score": "residual / noise (counts: 1/2, Poisson on the square-root scale; rates: 1/sqrt(customers "
            "at the earlier stage)) / dispersion (1.4826 x median |standardised residual|; at least 1 for counts, "
            "half the binomial noise for rates, 1/2 for revenue)",
            "p_value": "two-sided; Student t with 0.37 x (days - 1) degrees of freedom when the noise scale is "
            "estimated by the MAD, normal when the floor sets it",
            "multiple_testing": "Benjamini–Hochberg (statsmodels fdr_bh) across every metric-day tested",
            "alpha": alpha,
            "since": first_day.isoformat() if first_day else None,
            "until": last_day.isoformat() if last_day else None,
            "warmup_days": warmup_days,
            "edges": "a first/last day covered for less than 23 hours is partial: not used",
            "stages": list(stages),
        },
        result={
            "status": status,
            "tested": len(tests),
            "metrics_tested": len({t[0] for t in tests}),
            "first_day_tested": daily.days[tested_days[0]].isoformat() if tested_days else None,
            "last_day_tested": daily.days[tested_days[-1]].isoformat() if tested_days else None,
            "anomalies": rows,
        },
        notes=notes,
    )


class AnomaliesArgs(BaseModel):
    """Arguments of the ``anomalies`` tool."""

    model_config = ConfigDict(extra="forbid")
    metrics: list[str] | None = Field(
        None,
        description="Metric names or patterns to test, e.g. ['customers_signup', 'rate_*', 'touches_email']; "
        "all when omitted. Metrics: customers_<stage>, rate_<a>_to_<b>, touches_<channel>, revenue.",
    )
    since: str | None = Field(None, description="First day to test, YYYY-MM-DD (inclusive).")
    until: str | None = Field(None, description="Last day to test, YYYY-MM-DD (inclusive).")
    alpha: float = Field(0.05, gt=0.0, lt=1.0, description="False discovery rate (Benjamini–Hochberg).")


def _run(context: ToolContext, args: AnomaliesArgs) -> ToolResult:
    return anomalies(
        context.dataset(),
        metrics=args.metrics,
        since=args.since,
        until=args.until,
        alpha=args.alpha,
        stages=context.defaults.stages,
    )


SPECS = [
    ToolSpec(
        name="anomalies",
        description=(
            "Unusual days in daily journey metrics: customers reaching each stage, same-day stage-to-stage "
            "rates, touches per channel and revenue, each compared with a robust weekday-aware baseline; "
            "p-values are corrected for testing many metric-days (Benjamini–Hochberg). Returns the unusual days, "
            "most extreme first, with value, expected value, score and q-value, or 'nothing unusual'. Use it for "
            "'did anything break / change on a particular day' questions."
        ),
        args=AnomaliesArgs,
        run=_run,
        examples=(
            "did anything unusual happen this week?",
            "were there any anomalies in signups?",
            "which days looked abnormal?",
            "did something break in the funnel recently?",
            "why did conversions drop on a particular day?",
            "any spikes or drops in our journey metrics?",
        ),
    )
]
