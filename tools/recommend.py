"""Prioritised recommendations: what to change, what it is worth per week, and the experiment that proves it.

Every recommendation names the metric it moves, its baseline, the assumed improvement and where that assumption
comes from, the expected extra conversions (and revenue) per week, a confidence and an effort, and an A/B test
sized for the expected lift. The inputs are other tools' results; nothing here touches event data.

Rules (printed in the result's ``definition``):

* **Funnel transitions** (the biggest friction, and the transition into the stage with the most negative
  feedback): baseline = the transition's conversion over recent complete cohorts (``friction`` tool); candidate
  targets = a configured benchmark, the best behavioural segment's rate on the same cohorts, and the best recent
  week's same-week rate relative to the trailing average (applied as a relative lift). The most conservative
  candidate above the baseline is assumed; without one, the friction tool's +10% relative what-if.
  Extra conversions per week = entrants per week at the transition x (target - baseline) x the product of the
  downstream conversion rates (extra customers assumed to convert downstream like today's).
* **Anomalies** of the week, one per day: the day's most severe fall in customers reaching a stage; customers
  lost = expected - observed; conversions lost = that x the downstream conversion from that stage. One-off.
* **Channels** that reach customers mid-journey (the impact tool compares them from a stage, not from arrival):
  one that *drives* conversion is extended to the customers at that stage who do not get it (extra conversions
  per week = those customers per week x the effect); one with a large attribution share but *no evidence* of an
  effect ("credited but not causal") gets a holdout test sized to detect the upper end of its 95% interval, and
  no extra conversions are claimed (the saving is its spend, not in the data).
* **Confidence**: benchmark or own best week = medium, best segment or a rule-of-thumb lift = low, an anomaly
  or a null causal estimate = high, extending a driving channel = medium; negative feedback at the same stage
  raises a funnel step one level.
* **Effort** (judgement defaults): fixing a breakage or running a holdout = low, changing a funnel step or
  extending a channel = medium.
* **Priority** = expected extra conversions per week x confidence weight (high 1, medium 0.6, low 0.3) / effort
  weight (low 1, medium 2, high 4); ties keep the order above.
* **Experiments**: sample size per arm for a two-sided two-proportion test at alpha 0.05 and power 0.8
  (Cohen's h, statsmodels ``NormalIndPower``); weeks needed = 2 x per-arm size / eligible customers per week.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tools.recommend_channels import CREDIT_SHARE_THRESHOLD, channel_recommendations, credited_not_causal
from tools.recommend_model import (
    ALPHA,
    POWER,
    Assumption,
    Experiment,
    FunnelFacts,
    Level,
    Recommendation,
    experiment,
    funnel_facts,
    pct,
    raise_level,
    sample_size_per_arm,
    transition_key,
)
from tools.result import ToolResult

__all__ = ["CREDIT_SHARE_THRESHOLD", "credited_not_causal", "prioritise", "recommend", "sample_size_per_arm"]

MIN_SEGMENT_CUSTOMERS = 50
RULE_OF_THUMB_LIFT = 0.10
NEGATIVE_SHARE_THRESHOLD = 0.5
CONFIDENCE_WEIGHT = {"high": 1.0, "medium": 0.6, "low": 0.3}
EFFORT_WEIGHT = {"low": 1.0, "medium": 2.0, "high": 4.0}


def _recent_week(kpis: ToolResult | None, key: str, baseline: float) -> Assumption | None:
    """The best recent week's same-week rate relative to the trailing average, applied to the baseline."""
    if kpis is None:
        return None
    metric = f"rate:{key}"
    row = next((r for r in kpis.result.get("kpis", []) if r["metric"] == metric), None)
    weekly = [(w["week"], w.get(metric)) for w in kpis.result.get("weekly", []) if w.get(metric) is not None]
    if row is None or not weekly or not row.get("trailing_avg"):
        return None
    week, best = max(weekly, key=lambda item: item[1])
    lift = best / row["trailing_avg"]
    if lift <= 1:
        return None
    target = min(baseline * lift, 0.99)
    return Assumption(
        target,
        f"best recent week {week}: {pct(best)} same-week vs {pct(row['trailing_avg'])} trailing average "
        f"(x{lift:.2f}, applied to the baseline)",
        "recent_week",
    )


def _best_segment(
    segment_funnel: ToolResult | None, names: Mapping[str, str], to_step: str, baseline: float
) -> Assumption | None:
    if segment_funnel is None:
        return None
    best: tuple[float, str] | None = None
    for row in segment_funnel.result.get("breakdown", []):
        if row.get("step") != to_step or row.get("conversion_from_previous") is None:
            continue
        entered = (row.get("customers") or 0) + (row.get("dropped_from_previous") or 0)
        if entered < MIN_SEGMENT_CUSTOMERS:
            continue
        rate = float(row["conversion_from_previous"])
        if best is None or rate > best[0]:
            best = (rate, str(row.get("value")))
    if best is None or best[0] <= baseline:
        return None
    name = names.get(best[1], best[1])
    return Assumption(min(best[0], 0.99), f"best segment {name}: {pct(best[0])} on the same cohorts", "segment")


def _benchmark(benchmarks: Mapping[str, float], key: str) -> Assumption | None:
    for name, value in benchmarks.items():
        if transition_key(name) == key and 0 < float(value) < 1:
            return Assumption(float(value), f"benchmark in config ([memo.benchmarks] {name!r} = {value})", "benchmark")
    return None


def _negative_stages(feedback: ToolResult | None) -> dict[str, dict[str, Any]]:
    """Stages whose feedback is mostly negative (by ``negative_share``), with their row."""
    if feedback is None:
        return {}
    out = {}
    for row in feedback.result.get("by_stage", []):
        share = row.get("negative_share")
        if share is not None and share >= NEGATIVE_SHARE_THRESHOLD and row.get("stage"):
            out[str(row["stage"])] = row
    return out


def _transition_recommendation(
    facts: FunnelFacts,
    key: str,
    kpis: ToolResult | None,
    segment_funnel: ToolResult | None,
    segment_names: Mapping[str, str],
    benchmarks: Mapping[str, float],
    negative: dict[str, dict[str, Any]],
    value_per_conversion: float | None,
) -> Recommendation | None:
    row = facts.rows.get(key)
    if (
        row is None
        or row.get("conversion") is None
        or key not in {f"{a}->{b}" for a, b in zip(facts.steps, facts.steps[1:], strict=False)}
    ):
        return None
    a, b = key.split("->")
    baseline = float(row["conversion"])
    per_week = float(row["entered"]) / facts.weeks
    candidates = [
        c
        for c in (
            _benchmark(benchmarks, key),
            _recent_week(kpis, key, baseline),
            _best_segment(segment_funnel, segment_names, b, baseline),
        )
        if c is not None and c.target > baseline
    ]
    candidates.sort(key=lambda c: c.target)
    if candidates:
        chosen, others = candidates[0], candidates[1:]
    else:
        chosen = Assumption(
            min(baseline * (1 + RULE_OF_THUMB_LIFT), 0.99),
            "rule of thumb: +10% relative (the friction tool's what-if); no benchmark, segment or recent week beats "
            "the baseline",
            "rule_of_thumb",
        )
        others = []
    downstream = facts.downstream(facts.steps.index(b))
    extra = per_week * (chosen.target - baseline) * downstream if downstream is not None else None
    confidence: Level = "medium" if chosen.kind in ("benchmark", "recent_week") else "low"
    evidence = [
        f"{a} -> {b} converts {pct(baseline)} over the last {facts.weeks:g} complete weeks of cohorts "
        f"({int(row['entered']):,} entered, {int(row['lost']):,} lost)"
    ]
    if key == facts.biggest:
        evidence.append("it is the biggest friction in the funnel (lowest step conversion)")
    why = "the biggest friction in the funnel" if key == facts.biggest else "a weak step"
    for stage in (b, a):
        if stage in negative:
            share = negative[stage]["negative_share"]
            evidence.append(f"feedback at {stage} is {pct(share)} negative")
            why += f", and customers complain at {stage}"
            confidence = raise_level(confidence)
            break
    action = f"Improve the {a} -> {b} step"
    if b in negative:
        action += f" (start with what customers say about {b})"
    return Recommendation(
        id=f"transition:{key}",
        kind="transition",
        action=action,
        why=why,
        metric=f"{a} -> {b} conversion",
        kpi_metric=f"rate:{key}",
        baseline=baseline,
        assumed_value=chosen.target,
        assumed_improvement=f"{pct(baseline)} -> {pct(chosen.target)} (+{(chosen.target - baseline) * 100:.1f} pp)",
        assumption_source=chosen.source,
        alternatives=[f"{pct(c.target)} from {c.source}" for c in others],
        expected_extra_conversions_per_week=extra,
        expected_extra_revenue_per_week=extra * value_per_conversion
        if extra is not None and value_per_conversion is not None
        else None,
        confidence=confidence,
        effort="medium",
        experiment=experiment(
            f"A/B test the changed {b} step against today's, randomising customers who reach {a}",
            f"{a} -> {b} conversion within the funnel window",
            baseline,
            chosen.target,
            per_week,
        ),
        evidence=evidence,
    )


def _stage_of(metric: str, steps: Sequence[str]) -> str | None:
    """The stage a daily metric counts (``customers_<stage>`` in ``tools.daily``), if any."""
    from tools.features import feature_slug

    return next((s for s in steps if metric in (s, f"customers_{feature_slug(s)}")), None)


def _anomaly_recommendations(
    facts: FunnelFacts, anomalies: Sequence[Mapping[str, Any]], value_per_conversion: float | None
) -> list[Recommendation]:
    """One recommendation per day with a drop: the day's most severe fall in customers reaching a stage."""
    by_day: dict[str, list[Mapping[str, Any]]] = {}
    for row in anomalies:
        value, expected = row.get("value"), row.get("expected")
        if value is not None and expected is not None and float(value) < float(expected):
            by_day.setdefault(str(row.get("date"))[:10], []).append(row)
    out = []
    for day, rows in sorted(by_day.items()):
        counted = [r for r in rows if _stage_of(str(r.get("metric")), facts.steps)]
        row = max(counted or rows, key=lambda r: abs(float(r.get("score") or 0.0)))
        metric = str(row.get("metric"))
        label = str(row.get("label") or metric)
        stage = _stage_of(metric, facts.steps)
        value, expected = float(row["value"]), float(row["expected"])
        lost = expected - value
        downstream = facts.downstream(facts.steps.index(stage)) if stage else None
        extra = lost * downstream if downstream is not None else None
        others = [str(r.get("label") or r.get("metric")) for r in rows if r is not row]
        evidence = [f"{lost:,.0f} fewer than expected on {day} ({label})"] if stage else []
        if extra is not None:
            evidence.append(f"about {extra:,.1f} conversions lost at the downstream conversion rates of recent cohorts")
        if others:
            evidence.append(f"also unusual that day: {', '.join(others)}")
        out.append(
            Recommendation(
                id=f"anomaly:{day}:{metric}",
                kind="anomaly",
                action=f"Find and fix what broke {stage or label} on {day}",
                why=f"{label} fell to {value:,.0f} against {expected:,.0f} expected that day"
                if stage
                else f"{label} fell well below its expected range that day",
                metric=f"daily {label}",
                kpi_metric=f"reached:{stage}" if stage else None,
                baseline=expected if stage else None,
                assumed_value=expected if stage else None,
                assumed_improvement=f"back to about {expected:,.0f} a day" if stage else "back to its normal range",
                assumption_source="the anomaly tool's expected value for that day (seasonal baseline)",
                alternatives=[],
                expected_extra_conversions_per_week=extra,
                expected_extra_revenue_per_week=extra * value_per_conversion
                if extra is not None and value_per_conversion is not None
                else None,
                confidence="high",
                effort="low",
                experiment=Experiment(
                    "no experiment: a breakage to find and fix; then check the daily metric is back in its range",
                    f"daily {label}",
                    None,
                    None,
                    None,
                    None,
                    None,
                ),
                evidence=evidence,
            )
        )
    return out


def _value_per_conversion(kpis: ToolResult | None) -> float | None:
    """Revenue per conversion event over the weeks in the KPI result."""
    if kpis is None:
        return None
    weekly = kpis.result.get("weekly", [])
    conversions = sum(float(w.get("conversions") or 0) for w in weekly)
    revenue = sum(float(w.get("revenue") or 0) for w in weekly)
    return revenue / conversions if conversions else None


def prioritise(recommendations: list[Recommendation]) -> list[Recommendation]:
    """Score, sort (highest first, stable) and rank."""
    for rec in recommendations:
        extra = rec.expected_extra_conversions_per_week or 0.0
        rec.priority_score = extra * CONFIDENCE_WEIGHT[rec.confidence] / EFFORT_WEIGHT[rec.effort]
    ordered = sorted(recommendations, key=lambda r: -r.priority_score)
    for rank, rec in enumerate(ordered, start=1):
        rec.rank = rank
    return ordered


def recommend(
    friction: ToolResult,
    cohort_weeks: float,
    kpis: ToolResult | None = None,
    segment_funnel: ToolResult | None = None,
    segment_names: Mapping[str, str] | None = None,
    attribution: ToolResult | None = None,
    impact: ToolResult | None = None,
    anomalies: Sequence[Mapping[str, Any]] = (),
    feedback: ToolResult | None = None,
    benchmarks: Mapping[str, float] | None = None,
    weeks_of_data: float = 1.0,
    limit: int = 5,
) -> ToolResult:
    """Prioritised recommendations from the memo's tool results.

    Args:
        friction: a ``friction`` (or ``funnel``) result over recent complete cohorts.
        cohort_weeks: how many weeks of cohorts ``friction`` covers (to get per-week figures).
        kpis: the ``weekly_kpis`` result (recent-week lifts, revenue per conversion).
        segment_funnel: a ``funnel`` result with ``by="segment"`` over the same cohorts as ``friction``.
        segment_names: segment value -> a name for people (e.g. ``"1" -> "1 · fast converters"``).
        attribution: an ``attribution`` result (credit shares).
        impact: an ``impact`` result (causal effects and verdicts).
        anomalies: this week's anomaly rows (``date``, ``metric``, ``value``, ``expected``).
        feedback: a feedback summary with ``by_stage`` rows (``stage``, ``negative_share``).
        benchmarks: transition -> conversion rate (``"pricing->demo" = 0.35``), e.g. ``[memo.benchmarks]``.
        weeks_of_data: weeks the attribution/impact data covers (to get per-week figures).
        limit: at most this many recommendations.
    """
    facts = funnel_facts(friction, cohort_weeks)
    value = _value_per_conversion(kpis)
    negative = _negative_stages(feedback)
    keys: list[str] = []
    if facts.biggest:
        keys.append(facts.biggest)
    for stage in negative:
        if stage in facts.steps[1:]:
            i = facts.steps.index(stage)
            key = f"{facts.steps[i - 1]}->{stage}"
            if key not in keys:
                keys.append(key)
    recs: list[Recommendation] = []
    for key in keys:
        rec = _transition_recommendation(
            facts, key, kpis, segment_funnel, segment_names or {}, benchmarks or {}, negative, value
        )
        if rec is not None:
            recs.append(rec)
    recs += _anomaly_recommendations(facts, anomalies, value)
    recs += channel_recommendations(facts, attribution, impact, weeks_of_data, value)
    ranked = prioritise(recs)[:limit]
    notes = [
        "expected figures assume the extra customers behave like today's downstream; they are planning estimates, "
        "to be confirmed by the experiment listed with each",
    ]
    if value is None:
        notes.append("no revenue per conversion in the data: revenue impact not estimated")
    return ToolResult(
        tool="recommendations",
        definition={
            "rules": __doc__.split("Rules (printed in the result's ``definition``):", 1)[1].strip() if __doc__ else "",
            "alpha": ALPHA,
            "power": POWER,
            "cohort_weeks": cohort_weeks,
            "weeks_of_data": weeks_of_data,
            "benchmarks": dict(benchmarks or {}),
            "revenue_per_conversion": value,
        },
        result={"recommendations": [r.as_row() for r in ranked]},
        notes=notes,
    )
