"""From parsed stages to numbers: transitions, consistency checks, what-if impact and ranked friction points.

Which rate represents a transition (stage i -> i + 1):

* the observed stage-count ratio ``count[i+1] / count[i]`` when both counts are known (the default);
* otherwise a stated rate that describes the transition: a progression rate at stage i ("25% request
  demos") or a conversion rate at stage i + 1 ("Signups 1,200 (12%)"); the missing count is then estimated
  as ``count[i] × rate`` and marked as estimated.

Stated rates are always reported beside the observed ratio and reconciled with the counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tools.pasted_math import (
    downstream_factor,
    fmt_num,
    fmt_pct,
    monthly_rate,
    wilson_interval,
)
from tools.pasted_parse import Metric, ParsedFunnel, Stage

PERIODS_PER_YEAR = {"day": 365.0, "week": 52.0, "month": 12.0, "quarter": 4.0, "year": 1.0}
PERIOD_DAYS = {"day": 1.0, "week": 7.0, "month": 30.4, "quarter": 91.3, "year": 365.0}
DURATION_DAYS = {
    "minutes": 1 / 1440,
    "hours": 1 / 24,
    "days": 1.0,
    "weeks": 7.0,
    "months": 30.4,
    "years": 365.0,
}
CONFIDENCE_WEIGHT = {"high": 1.0, "medium": 0.7, "low": 0.4}


@dataclass
class Transition:
    """Stage i -> i + 1 with every rate that describes it."""

    index: int
    source: Stage
    target: Stage
    from_count: float | None
    to_count: float | None
    observed: float | None
    interval: tuple[float, float] | None
    stated: Metric | None
    stated_matches: bool
    rate: float | None
    rate_source: str
    leaks: list[Metric] = field(default_factory=list)
    confidence: str = "high"
    confidence_reasons: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """``"Awareness → Consideration"``."""
        return f"{self.source.name} → {self.target.name}"

    @property
    def lost(self) -> float | None:
        """People at this stage who are not counted at the next one (never negative)."""
        if self.from_count is None or self.to_count is None:
            return None
        return max(self.from_count - self.to_count, 0.0)


@dataclass
class FunnelModel:
    """The parsed funnel with counts, rates and periods settled."""

    parsed: ParsedFunnel
    stages: list[Stage]
    counts: list[float | None]
    count_sources: list[str]
    transitions: list[Transition]
    period: str | None
    period_note: str | None
    improvement: float
    value_per_customer: float | None
    targets: dict[int, float]

    @property
    def rates(self) -> list[float | None]:
        """The rate used for each transition."""
        return [t.rate for t in self.transitions]

    @property
    def final(self) -> float | None:
        """The final stage's count."""
        return self.counts[-1] if self.counts else None

    @property
    def unit(self) -> str:
        """How recovered final-stage people are described: ``customers per month``."""
        last = self.stages[-1].count if self.stages else None
        noun = (last.measures if last and last.measures else "customers") if last else "customers"
        return f"{noun} per {self.period}" if self.period else f"{noun} per period"

    def downstream(self, stage_index: int) -> float | None:
        """Share of people at ``stage_index`` who reach the final stage."""
        return downstream_factor(self.rates, stage_index)

    def revenue(self, customers: float | None) -> float | None:
        """Value of extra final-stage customers, when a value per customer is known."""
        if customers is None or self.value_per_customer is None:
            return None
        return customers * self.value_per_customer


def _stem_words(text: str) -> set[str]:
    return {word[:4] for word in re.findall(r"[a-z]{4,}", text.lower())}


def _describes(metric: Metric, target: Stage) -> bool:
    """Whether a progression rate's words name the next stage ("request demos" ~ "150 demo requests")."""
    count = target.count
    words = _stem_words(f"{target.name} {count.measures if count else ''}")
    return bool(_stem_words(metric.measures) & words)


def build_model(
    parsed: ParsedFunnel, improvement: float, targets: dict[int, float], value_per_customer: float | None
) -> FunnelModel:
    """Settle counts (estimating missing ones from stated rates), transition rates, intervals, period."""
    stages = parsed.stages
    counts: list[float | None] = [s.count.value if s.count else None for s in stages]
    sources = ["stated" if c is not None else "missing" for c in counts]
    transitions: list[Transition] = []
    for i in range(len(stages) - 1):
        source, target = stages[i], stages[i + 1]
        stated, matches = _stated_rate(source, target, first=i == 0)
        if counts[i + 1] is None and counts[i] is not None and stated is not None:
            counts[i + 1] = counts[i] * stated.value  # type: ignore[operator]
            sources[i + 1] = f"estimated: {fmt_pct(stated.value)} × {fmt_num(counts[i])}"
        a, b = counts[i], counts[i + 1]
        both_stated = sources[i] == sources[i + 1] == "stated"
        observed = b / a if both_stated and a and b is not None else None
        if observed is not None:
            rate, rate_source = observed, "observed counts"
        elif stated is not None:
            rate, rate_source = stated.value, f"stated: {stated.text}"
        elif a and b is not None:
            rate, rate_source = b / a, "counts (one estimated)"
        else:
            rate, rate_source = None, "unknown (no counts or stated rate)"
        interval = wilson_interval(b, a) if observed is not None and a and b is not None else None
        transitions.append(
            Transition(
                i,
                source,
                target,
                a,
                b,
                observed,
                interval,
                stated,
                matches,
                rate,
                rate_source,
                leaks=source.with_role("leak"),
            )
        )
    period, period_note = _settle_period(stages)
    return FunnelModel(
        parsed,
        stages,
        counts,
        sources,
        transitions,
        period,
        period_note,
        improvement,
        value_per_customer,
        targets,
    )


def _stated_rate(source: Stage, target: Stage, first: bool) -> tuple[Metric | None, bool]:
    candidates = source.with_role("progression") + (source.with_role("conversion") if first else [])
    for metric in candidates:
        if _describes(metric, target):
            return metric, True
    if candidates:
        return candidates[0], False
    arriving = target.with_role("conversion")
    return (arriving[0], True) if arriving else (None, False)


def _settle_period(stages: list[Stage]) -> tuple[str | None, str | None]:
    periods = [s.count.period for s in stages if s.count and s.count.period]
    if not periods:
        return None, None
    period = max(set(periods), key=periods.count)
    unstated = [s.name for s in stages if s.count and not s.count.period]
    note = None
    if unstated:
        stated_at = next(s.name for s in stages if s.count and s.count.period == period)
        note = (
            f"counts without a period ({', '.join(unstated)}) are taken to be per {period}, the period "
            f"stated at {stated_at}"
        )
    return period, note


# ----------------------------------------------------------------------------------------------- checks


def reconcile(model: FunnelModel) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Check stated rates against counts and the data against itself.

    Returns:
        ``reconciliation`` rows (every stated rate checked, consistent or not) and ``inconsistencies`` rows
        (problems only), each with the arithmetic.
    """
    rows: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    for t in model.transitions:
        # a count estimated from this very rate reproduces it trivially, so only given counts are checked
        if (
            t.stated is not None
            and t.from_count
            and t.to_count is not None
            and model.count_sources[t.index + 1] == "stated"
        ):
            rows.append(_reconcile_rate(t, problems, model.counts[0]))
        if t.from_count and t.to_count is not None and t.to_count > t.from_count:
            problems.append(
                _problem(
                    "stage_larger_than_previous",
                    "warning",
                    t.target.name,
                    f"{t.target.name} ({fmt_num(t.to_count)}) is larger than {t.source.name} "
                    f"({fmt_num(t.from_count)}): people enter it by other paths, the stages are not nested, "
                    "or the periods differ",
                    f"{fmt_num(t.to_count)} − {fmt_num(t.from_count)} = +{fmt_num(t.to_count - t.from_count)}",
                )
            )
        rows.extend(_stage_accounting(model, t, problems))
    for stage in model.stages:
        for metric in stage.metrics:
            if metric.kind == "rate" and metric.value > 1:
                problems.append(
                    _problem(
                        "rate_over_100",
                        "error",
                        stage.name,
                        f"'{metric.text}' is over 100%: a share of people cannot exceed all of them",
                        f"{fmt_pct(metric.value)} > 100%",
                    )
                )
    problems.extend(_time_unit_checks(model))
    return rows, problems


def _problem(check: str, severity: str, stage: str, message: str, arithmetic: str) -> dict[str, Any]:
    return {
        "check": check,
        "severity": severity,
        "stage": stage,
        "message": message,
        "arithmetic": arithmetic,
    }


def _reconcile_rate(t: Transition, problems: list[dict[str, Any]], first_count: float | None) -> dict[str, Any]:
    assert t.stated is not None and t.from_count is not None and t.to_count is not None
    stated = t.stated
    arriving = stated.role == "conversion" and stated in t.target.metrics
    expected = t.from_count * stated.value
    difference = t.to_count - expected
    # Rounding tolerance: the rate's last stated digit times the base count, plus half a person.
    tolerance = t.from_count * stated.tolerance + 0.5
    arithmetic = (
        f"{fmt_pct(stated.value)} × {fmt_num(t.from_count)} = {fmt_num(expected)}; {t.target.name} reports "
        f"{fmt_num(t.to_count)}"
    )
    said = f"'{stated.text}' at {t.target.name if arriving else t.source.name}"
    sign = "+" if difference >= 0 else "-"
    signed = f"{fmt_num(t.to_count)} − {fmt_num(expected)} = {sign}{fmt_num(abs(difference))}"
    from_first = first_count * stated.value if first_count and arriving and t.index > 0 else None
    if abs(difference) <= tolerance:
        verdict = "consistent"
        message = f"{said}: {fmt_num(expected)} ≈ {fmt_num(t.to_count)}, consistent within rounding"
    elif (
        from_first is not None and first_count and abs(from_first - t.to_count) <= first_count * stated.tolerance + 0.5
    ):
        # A bare "(0.9%)" after a count may be conversion from the first stage, not from the previous one.
        verdict = "from the first stage"
        message = (
            f"{said} does not reproduce {t.target.name} from {t.source.name} ({fmt_num(expected)}) but "
            f"matches conversion from the first stage: {fmt_pct(stated.value)} × {fmt_num(first_count)} = "
            f"{fmt_num(from_first)} — it is an overall rate, not the step rate"
        )
        problems.append(_problem("rate_from_first_stage", "info", t.target.name, message, f"{arithmetic}; {signed}"))
    elif difference > 0:
        verdict = "more than stated"
        message = (
            f"{said} gives {fmt_num(expected)}, yet {fmt_num(t.to_count)} reach {t.target.name}: "
            f"{fmt_num(difference)} ({fmt_pct(difference / t.to_count)}) arrive by other entry paths — or "
            "the rate measures something else"
        )
        problems.append(_problem("rate_mismatch", "warning", t.target.name, message, f"{arithmetic}; {signed}"))
    else:
        verdict = "fewer than stated"
        message = (
            f"{said} gives {fmt_num(expected)}, but {t.target.name} reports {fmt_num(t.to_count)}: "
            f"{fmt_num(-difference)} fewer (count ratio {fmt_pct(t.to_count / t.from_count)}) — requests not "
            "completed, a different period, or a stricter count at the next stage"
        )
        problems.append(_problem("rate_mismatch", "warning", t.target.name, message, f"{arithmetic}; {signed}"))
    return {
        "transition": t.name,
        "stated": stated.text,
        "stated_rate": stated.value,
        "expected": expected,
        "reported": t.to_count,
        "difference": difference,
        "verdict": verdict,
        "arithmetic": arithmetic,
        "message": message,
    }


def _stage_accounting(model: FunnelModel, t: Transition, problems: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Progression + leak shares of one stage must fit in 100%; leak stayers must cover the next stage."""
    rows: list[dict[str, Any]] = []
    if not t.leaks or t.from_count is None:
        return rows
    leak_total = sum(m.value for m in t.leaks)
    leak_text = " + ".join(f"{fmt_pct(m.value)} {m.measures}" for m in t.leaks)
    if t.stated is not None and t.stated in t.source.metrics:
        share = t.stated.value + leak_total
        people = t.from_count * share
        rest = t.from_count - people
        arithmetic = (
            f"{fmt_pct(t.stated.value)} {t.stated.measures} + {leak_text} = {fmt_pct(share)} of "
            f"{fmt_num(t.from_count)} = {fmt_num(people)}"
        )
        if share > 1 + 1e-9:
            problems.append(
                _problem(
                    "shares_over_100",
                    "error",
                    t.source.name,
                    f"at {t.source.name} the stated shares add up to {fmt_pct(share)}: more than everyone",
                    arithmetic,
                )
            )
        else:
            rows.append(
                {
                    "transition": t.name,
                    "stated": f"{t.stated.text}; {'; '.join(m.text for m in t.leaks)}",
                    "stated_rate": share,
                    "expected": people,
                    "reported": t.from_count,
                    "difference": rest,
                    "verdict": "accounted" if rest < 0.5 else "partly accounted",
                    "arithmetic": arithmetic,
                    "message": f"at {t.source.name} the stated shares cover {fmt_pct(share)} of "
                    f"{fmt_num(t.from_count)}; the other {fmt_num(rest)} ({fmt_pct(1 - share)}) neither "
                    "progress nor leak in the stated ways",
                }
            )
    if t.to_count is not None and leak_total < 1:
        stayers = t.from_count * (1 - leak_total)
        if t.to_count > stayers + 0.5:
            problems.append(
                _problem(
                    "leak_exceeds_loss",
                    "warning",
                    t.source.name,
                    f"{leak_text} leaves {fmt_num(stayers)} at {t.source.name}, but {fmt_num(t.to_count)} "
                    f"reach {t.target.name}: the leak is measured on a different base",
                    f"{fmt_num(t.from_count)} × (1 − {fmt_pct(leak_total)}) = {fmt_num(stayers)} < "
                    f"{fmt_num(t.to_count)}",
                )
            )
    return rows


def _time_unit_checks(model: FunnelModel) -> list[dict[str, Any]]:
    problems: list[dict[str, Any]] = []
    period = model.period
    flows = [(s, m) for s in model.stages for m in s.metrics if m.kind in ("count", "rate") and m.period]
    distinct = sorted({m.period for _, m in flows if m.period}, key=lambda p: PERIODS_PER_YEAR[p], reverse=True)
    if len(distinct) > 1:
        described = "; ".join(f"'{m.text}' at {s.name} is per {m.period}" for s, m in flows)
        steps = []
        for _, metric in flows:
            if period and metric.period != period and metric.kind == "rate":
                per = PERIODS_PER_YEAR[period] / PERIODS_PER_YEAR[metric.period]  # type: ignore[index]
                converted = monthly_rate(metric.value, per)
                steps.append(
                    f"{fmt_pct(metric.value)} per {metric.period} ≈ {fmt_pct(converted)} per {period} (1 − "
                    f"(1 − {fmt_pct(metric.value)})^(1/{fmt_num(per)}))"
                )
            elif period and metric.period != period:
                factor = PERIODS_PER_YEAR[metric.period] / PERIODS_PER_YEAR[period]  # type: ignore[index]
                steps.append(
                    f"{fmt_num(metric.value)} per {metric.period} ≈ {fmt_num(metric.value * factor)} per "
                    f"{period} (× {fmt_num(factor)})"
                )
        problems.append(
            _problem(
                "mixed_time_units",
                "warning",
                ", ".join(sorted({s.name for s, _ in flows})),
                f"{described}: compare like with like",
                "; ".join(steps) or "no common period to convert to",
            )
        )
    if period:
        for stage in model.stages:
            for metric in stage.with_role("duration"):
                days = metric.value * DURATION_DAYS.get(metric.unit or "", 0.0)
                if days >= 0.25 * PERIOD_DAYS[period]:
                    problems.append(
                        _problem(
                            "cohort_lag",
                            "info",
                            stage.name,
                            f"'{metric.text}' at {stage.name} is long next to counts per {period}: people "
                            f"counted at the next stage this {period} mostly entered {stage.name} earlier, "
                            f"so ratios after {stage.name} mix cohorts",
                            f"{fmt_num(days)} days ≈ {fmt_pct(days / PERIOD_DAYS[period])} of a {period}",
                        )
                    )
    return problems


# ---------------------------------------------------------------------------------------- confidence


def assess_confidence(model: FunnelModel, problems: list[dict[str, Any]]) -> None:
    """Set each transition's confidence (high/medium/low) and reasons from the checks and sample sizes."""
    for t in model.transitions:
        score = 3
        reasons: list[str] = []
        for problem in problems:
            if problem["check"] == "rate_mismatch" and problem["stage"] == t.target.name:
                if "other entry paths" in problem["message"]:
                    score -= 2
                    reasons.append("the next stage has other entry paths, so the observed ratio mixes sources")
                else:
                    score -= 1
                    reasons.append("the stated rate disagrees with the counts")
            elif problem["check"] == "stage_larger_than_previous" and problem["stage"] == t.target.name:
                score -= 2
                reasons.append("the next stage is larger than this one")
            elif problem["check"] == "cohort_lag" and problem["stage"] == t.source.name:
                score -= 1
                reasons.append("a long cycle at this stage mixes cohorts in the ratio")
        if t.rate_source.startswith("stated"):
            score -= 1
            reasons.append("the rate is a stated figure, not a count ratio")
        if t.from_count is not None and t.from_count < 30:
            score -= 1
            reasons.append(f"only {fmt_num(t.from_count)} people at {t.source.name}")
        elif t.interval and t.observed and (t.interval[1] - t.interval[0]) / 2 > 0.5 * t.observed:
            score -= 1
            reasons.append("the 95% interval is wide")
        if t.rate is None:
            score = 1
            reasons.append("no rate is known for this transition")
        t.confidence = "high" if score >= 3 else "medium" if score == 2 else "low"
        t.confidence_reasons = reasons or [
            "no stated figure contradicts the counts, and the counts are large enough for a narrow interval"
        ]
