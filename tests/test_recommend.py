"""Recommendations: assumptions and their sources, expected impact by hand, experiments, priorities."""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any

import pytest

from tools.friction import friction_summary, friction_table
from tools.recommend import credited_not_causal, recommend, sample_size_per_arm
from tools.result import ToolResult

STEPS = ["visit", "signup", "pricing", "demo", "purchase"]
COUNTS = [1000, 500, 300, 60, 30]  # rates .5, .6, .2, .5 over two weeks of cohorts


def _friction() -> ToolResult:
    rows = friction_table(STEPS, COUNTS)
    return ToolResult(tool="friction", definition={"steps": STEPS}, result={**friction_summary(rows), "friction": rows})


def _kpis(best_week_rate: float = 0.25) -> ToolResult:
    return ToolResult(
        tool="weekly_kpis",
        result={
            "kpis": [{"metric": "rate:pricing->demo", "kind": "rate", "this_week": 0.2, "trailing_avg": 0.2}],
            "weekly": [
                {"week": "2024-W01", "rate:pricing->demo": 0.2, "conversions": 10, "revenue": 1000.0},
                {"week": "2024-W02", "rate:pricing->demo": best_week_rate, "conversions": 10, "revenue": 1000.0},
            ],
        },
    )


def _by_id(result: ToolResult) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in result.result["recommendations"]}


def _h(p1: float, p0: float) -> float:
    return abs(2 * math.asin(math.sqrt(p1)) - 2 * math.asin(math.sqrt(p0)))


def test_sample_size_matches_the_normal_approximation() -> None:
    # two arms of n each: the arcsine-transformed difference has variance 2/n, so n = 2 (z_a/2 + z_b)^2 / h^2
    z = NormalDist().inv_cdf(0.975) + NormalDist().inv_cdf(0.8)
    assert sample_size_per_arm(0.20, 0.25) == math.ceil(2 * (z / _h(0.25, 0.20)) ** 2)
    assert sample_size_per_arm(0.10, 0.12) == math.ceil(2 * (z / _h(0.12, 0.10)) ** 2)
    assert sample_size_per_arm(0.2, 0.2) is None
    assert sample_size_per_arm(0.0, 0.1) is None


def test_friction_recommendation_by_hand() -> None:
    rec = _by_id(recommend(_friction(), cohort_weeks=2, kpis=_kpis()))["transition:pricing->demo"]
    # the best recent week is 25% against a 20% trailing average: x1.25 applied to the 20% baseline
    assert rec["baseline"] == pytest.approx(0.2)
    assert rec["assumed_value"] == pytest.approx(0.25)
    assert "best recent week 2024-W02" in rec["assumption_source"]
    # 300 entered over 2 weeks = 150 a week; +5 pp; downstream demo -> purchase 50%
    assert rec["expected_extra_conversions_per_week"] == pytest.approx(150 * 0.05 * 0.5)
    assert rec["expected_extra_revenue_per_week"] == pytest.approx(150 * 0.05 * 0.5 * 100)
    assert rec["kpi_metric"] == "rate:pricing->demo"
    assert rec["confidence"] == "medium" and rec["effort"] == "medium"
    experiment = rec["experiment"]
    assert experiment["sample_size_per_arm"] == sample_size_per_arm(0.2, 0.25)
    assert experiment["weeks_needed"] == math.ceil(2 * experiment["sample_size_per_arm"] / 150)
    assert (experiment["alpha"], experiment["power"]) == (0.05, 0.8)


def test_most_conservative_source_wins_and_others_are_listed() -> None:
    segments = ToolResult(
        tool="funnel",
        result={
            "breakdown": [
                {
                    "value": "1",
                    "step": "demo",
                    "customers": 40,
                    "dropped_from_previous": 60,
                    "conversion_from_previous": 0.4,
                }
            ]
        },
    )
    result = recommend(
        _friction(),
        2,
        kpis=_kpis(),
        segment_funnel=segments,
        segment_names={"1": "1 · fast converters"},
        benchmarks={"pricing -> demo": 0.22},
    )
    rec = _by_id(result)["transition:pricing->demo"]
    assert rec["assumed_value"] == pytest.approx(0.22)
    assert "benchmark" in rec["assumption_source"]
    assert len(rec["alternatives"]) == 2 and any("fast converters" in a for a in rec["alternatives"])


def test_without_any_source_a_rule_of_thumb_with_low_confidence() -> None:
    rec = _by_id(recommend(_friction(), 2))["transition:pricing->demo"]
    assert rec["assumed_value"] == pytest.approx(0.22)
    assert rec["assumption_source"].startswith("rule of thumb") and rec["confidence"] == "low"


def test_negative_feedback_adds_its_transition_and_raises_confidence() -> None:
    feedback = ToolResult(
        tool="feedback_summary",
        result={"by_stage": [{"stage": "signup", "negative_share": 0.7}, {"stage": "demo", "negative_share": 0.6}]},
    )
    recs = _by_id(recommend(_friction(), 2, kpis=_kpis(), feedback=feedback))
    assert recs["transition:pricing->demo"]["confidence"] == "high"
    assert any("feedback at demo" in e for e in recs["transition:pricing->demo"]["evidence"])
    assert "transition:visit->signup" in recs  # the step into the other negative stage


def test_anomaly_one_recommendation_per_day_with_lost_conversions() -> None:
    anomalies = [
        {"date": "2024-01-10", "metric": "rate_visit_to_signup", "value": 0.1, "expected": 0.3, "score": -5.0},
        {
            "date": "2024-01-10",
            "metric": "customers_signup",
            "value": 10.0,
            "expected": 50.0,
            "score": -8.0,
            "label": "customers reaching signup",
        },
    ]
    recs = [
        r for r in recommend(_friction(), 2, anomalies=anomalies).result["recommendations"] if r["kind"] == "anomaly"
    ]
    assert len(recs) == 1
    rec = recs[0]
    assert rec["action"] == "Find and fix what broke signup on 2024-01-10"
    assert rec["expected_extra_conversions_per_week"] == pytest.approx(40 * 0.6 * 0.2 * 0.5)
    assert rec["kpi_metric"] == "reached:signup" and rec["confidence"] == "high" and rec["effort"] == "low"


def _channels() -> tuple[ToolResult, ToolResult]:
    attribution = ToolResult(
        tool="attribution",
        result={
            "by_model": {
                "last": [
                    {"channel": "retargeting", "share": 0.3},
                    {"channel": "social", "share": 0.5},
                    {"channel": "email", "share": 0.2},
                ],
                "first": [
                    {"channel": "retargeting", "share": 0.0},
                    {"channel": "social", "share": 0.9},
                    {"channel": "email", "share": 0.1},
                ],
            }
        },
    )
    impact = ToolResult(
        tool="impact",
        result={
            "channels": [
                {
                    "channel": "email",
                    "effect_pp": 8.0,
                    "ci_low_pp": 6.0,
                    "ci_high_pp": 10.0,
                    "verdict": "drives",
                    "compared_from": "signup",
                    "exposed_customers": 300,
                    "analysed_unexposed": 200,
                },
                {
                    "channel": "retargeting",
                    "effect_pp": 0.2,
                    "ci_low_pp": -1.0,
                    "ci_high_pp": 1.5,
                    "verdict": "no evidence",
                    "compared_from": "pricing",
                    "exposed_customers": 400,
                    "naive_difference_pp": 20.0,
                },
                {
                    "channel": "social",
                    "effect_pp": -0.1,
                    "ci_low_pp": -1.0,
                    "ci_high_pp": 0.8,
                    "verdict": "no evidence",
                    "compared_from": "(arrival)",
                    "exposed_customers": 500,
                },
            ]
        },
    )
    return attribution, impact


def test_credited_but_not_causal() -> None:
    attribution, impact = _channels()
    flagged = credited_not_causal(attribution, impact)
    assert [r["channel"] for r in flagged] == ["social", "retargeting"]  # largest credit first
    assert flagged[1]["max_credit_share"] == pytest.approx(0.3)
    assert credited_not_causal(attribution, None) == []


def test_channel_recommendations() -> None:
    attribution, impact = _channels()
    recs = _by_id(recommend(_friction(), 2, attribution=attribution, impact=impact, weeks_of_data=2))
    assert "holdout:social" not in recs  # an acquisition channel is not withheld per customer
    holdout = recs["holdout:retargeting"]
    assert holdout["expected_extra_conversions_per_week"] == 0
    assert holdout["baseline"] == pytest.approx(0.2 * 0.5)  # pricing -> purchase today
    assert holdout["experiment"]["target"] == pytest.approx(0.1 + 0.015)  # upper end of the interval
    assert "credited but not causal" in holdout["why"]
    scale = recs["scale:email"]
    assert scale["expected_extra_conversions_per_week"] == pytest.approx(100 * 0.08)


def test_priorities_rank_by_weighted_conversions() -> None:
    attribution, impact = _channels()
    rows = recommend(_friction(), 2, kpis=_kpis(), attribution=attribution, impact=impact, weeks_of_data=2).result[
        "recommendations"
    ]
    assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
    scores = [r["priority_score"] for r in rows]
    assert scores == sorted(scores, reverse=True)
    assert rows[0]["id"] == "scale:email"  # 8 a week x 0.6 / 2 beats 3.75 x 0.6 / 2
