"""The user's own example, every number checked against arithmetic done by hand (written next to it).

Stages (per month): Awareness 10,000 -> Consideration 2,500 -> Evaluation 800 -> Purchase 150 -> Retention 52.
"""

from __future__ import annotations

from typing import Any

import pytest
from statsmodels.stats.proportion import proportion_confint

from tools.pasted import analyse_pasted_funnel
from tools.result import ToolResult

EXAMPLE = """Journey Stage Data:
- Awareness: 10,000 visitors/month, 45% bounce rate, avg 1.2 pages viewed
- Consideration: 2,500 content downloads, 15% proceed to product pages, avg 3 touchpoints before progression
- Evaluation: 800 product page visitors, 25% request demos, 40% abandon after pricing page
- Purchase: 150 demo requests, 35% convert to paid customers, avg 28-day sales cycle
- Retention: 52 customers, 85% active usage, 12% churn annually
"""
A_C, C_E, E_P, P_R = (
    "Awareness → Consideration",
    "Consideration → Evaluation",
    "Evaluation → Purchase",
    "Purchase → Retention",
)


@pytest.fixture(scope="module")
def analysis() -> ToolResult:
    return analyse_pasted_funnel(EXAMPLE)


@pytest.fixture(scope="module")
def result(analysis: ToolResult) -> dict[str, Any]:
    return analysis.result


def _row(rows: list[dict[str, Any]], **match: Any) -> dict[str, Any]:
    found = [r for r in rows if all(r.get(k) == v for k, v in match.items())]
    assert len(found) == 1, (match, found)
    return found[0]


def test_stage_counts_and_period(result: dict[str, Any]) -> None:
    assert [(s["stage"], s["count"], s["period"]) for s in result["stages"]] == [
        ("Awareness", 10_000, "month"),
        ("Consideration", 2_500, "month"),  # no period stated: taken from Awareness's "/month"
        ("Evaluation", 800, "month"),
        ("Purchase", 150, "month"),
        ("Retention", 52, "month"),
    ]
    assert result["unit"] == "customers per month"


def test_observed_conversion_with_wilson_intervals(result: dict[str, Any]) -> None:
    rates = {t["transition"]: t for t in result["transitions"]}
    assert rates[A_C]["observed_rate"] == pytest.approx(0.25)  # 2,500 / 10,000
    assert rates[C_E]["observed_rate"] == pytest.approx(0.32)  # 800 / 2,500
    assert rates[E_P]["observed_rate"] == pytest.approx(0.1875)  # 150 / 800
    assert rates[P_R]["observed_rate"] == pytest.approx(52 / 150)  # 0.34667
    for t in rates.values():
        assert t["rate_used"] == t["observed_rate"]  # counts win over stated rates
        low, high = proportion_confint(t["to_count"], t["from_count"], alpha=0.05, method="wilson")
        assert (t["observed_rate_ci_low"], t["observed_rate_ci_high"]) == (pytest.approx(low), pytest.approx(high))
    # stated rates are reported beside the observed ratio
    assert [t["stated_rate"] for t in result["transitions"]] == [None, 0.15, 0.25, 0.35]
    assert result["overall_conversion"] == pytest.approx(0.0052)  # 52 / 10,000
    low, high = proportion_confint(52, 10_000, method="wilson")
    assert result["overall_conversion_ci_low"] == pytest.approx(low)  # ≈ 0.397%
    assert result["overall_conversion_ci_high"] == pytest.approx(high)  # ≈ 0.681%


def test_drop_offs_ranked_by_people_lost(result: dict[str, Any]) -> None:
    rows = result["drop_offs"]
    # lost: 10,000−2,500 = 7,500; 2,500−800 = 1,700; 800−150 = 650; 150−52 = 98; total 9,948 = 10,000 − 52
    assert [(r["transition"], r["lost"]) for r in rows] == [(A_C, 7500), (C_E, 1700), (E_P, 650), (P_R, 98)]
    assert rows[0]["share_of_all_lost"] == pytest.approx(7500 / 9948)
    assert sum(r["share_of_all_lost"] for r in rows) == pytest.approx(1.0)
    assert rows[2]["lost_share"] == pytest.approx(0.8125)  # 650 / 800


def test_what_the_data_says_about_itself(result: dict[str, Any]) -> None:
    checks = result["reconciliation"]
    # 15% of 2,500 = 375, yet 800 reach product pages: 425 come by other entry paths
    content = _row(checks, transition=C_E)
    assert (content["expected"], content["reported"], content["difference"]) == (375, 800, 425)
    assert content["verdict"] == "more than stated"
    assert "other entry paths" in content["message"]
    # 25% of 800 = 200, yet 150 demo requests: 50 fewer
    demos = _row(checks, transition=E_P, stated="25% request demos")
    assert (demos["expected"], demos["reported"], demos["difference"]) == (200, 150, -50)
    # 35% of 150 = 52.5 ≈ 52: within rounding of a whole-percent rate (±0.5% × 150 = ±0.75, +0.5 person)
    paid = _row(checks, transition=P_R)
    assert (paid["expected"], paid["reported"], paid["verdict"]) == (52.5, 52, "consistent")
    assert "52.5 ≈ 52" in paid["message"]
    # at Evaluation 25% + 40% = 65% of 800 = 520 are accounted for; 280 (35%) neither request nor abandon
    accounted = _row(checks, transition=E_P, verdict="partly accounted")
    assert (accounted["stated_rate"], accounted["expected"], accounted["difference"]) == (
        pytest.approx(0.65),
        pytest.approx(520),
        pytest.approx(280),
    )


def test_inconsistencies_with_arithmetic(result: dict[str, Any]) -> None:
    problems = result["inconsistencies"]
    assert [p["check"] for p in problems] == ["rate_mismatch", "rate_mismatch", "mixed_time_units", "cohort_lag"]
    assert _row(problems, check="rate_mismatch", stage="Evaluation")["arithmetic"] == (
        "15% × 2,500 = 375; Evaluation reports 800; 800 − 375 = +425"
    )
    assert _row(problems, check="rate_mismatch", stage="Purchase")["arithmetic"] == (
        "25% × 800 = 200; Purchase reports 150; 150 − 200 = -50"
    )
    mixed = _row(problems, check="mixed_time_units")
    assert "'12% churn annually' at Retention is per year" in mixed["message"]
    assert "'10,000 visitors/month' at Awareness is per month" in mixed["message"]
    # 1 − (1 − 0.12)^(1/12) = 1 − 0.98940 = 1.06% per month
    assert "12% per year ≈ 1.06% per month" in mixed["arithmetic"]
    lag = _row(problems, check="cohort_lag")
    assert lag["stage"] == "Purchase"
    assert lag["arithmetic"] == "28 days ≈ 92.11% of a month"  # 28 / 30.4


@pytest.mark.parametrize(("improvement", "each"), [(0.10, 5.2), (0.25, 13.0)])
def test_relative_lift_adds_the_same_everywhere(improvement: float, each: float) -> None:
    rows = analyse_pasted_funnel(EXAMPLE, improvement=improvement).result["what_if"]
    relative = [r for r in rows if r["scenario"].startswith("raise the rate")]
    # rates multiply, so rate × (1 + x) anywhere gives 52 × x more customers: 52 × 0.10 = 5.2; 52 × 0.25 = 13
    assert [r["extra_final"] for r in relative] == pytest.approx([each] * 4)
    # next-stage gains: 10,000 × 2.5% = 250; 2,500 × 3.2% = 80; 800 × 1.875% = 15; 150 × 3.467% = 5.2 (at +10%)
    if improvement == 0.10:
        assert [r["extra_next_stage"] for r in relative] == pytest.approx([250, 80, 15, 5.2])


def test_recovering_lost_people_through_downstream_rates(result: dict[str, Any]) -> None:
    rows = {r["transition"]: r for r in result["what_if"] if r["scenario"].startswith("recover")}
    # 10% of the lost come back; they continue at the observed downstream rates (final / next count)
    assert rows[A_C]["extra_next_stage"] == pytest.approx(750)  # 7,500 × 10%
    assert rows[A_C]["extra_final"] == pytest.approx(15.6)  # 750 × 52/2,500
    assert rows[C_E]["extra_next_stage"] == pytest.approx(170)  # 1,700 × 10%
    assert rows[C_E]["extra_final"] == pytest.approx(11.05)  # 170 × 52/800
    assert rows[E_P]["extra_next_stage"] == pytest.approx(65)  # 650 × 10%
    assert rows[E_P]["extra_final"] == pytest.approx(22.5333, abs=1e-4)  # 65 × 52/150
    assert rows[E_P]["new_rate"] == pytest.approx(0.26875)  # 18.75% + 10% × 81.25%
    assert rows[P_R]["extra_final"] == pytest.approx(9.8)  # 98 × 10%, already the final stage


def test_within_stage_leaks(result: dict[str, Any]) -> None:
    rows = {r["scenario"]: r for r in result["what_if"]}
    # bounce 45% → 40.5%: 10,000 × 4.5% = 450 kept; they proceed like non-bouncers, 2,500 / 5,500 = 45.45%
    bounce = rows["cut 'bounce rate' from 45% to 40.5%"]
    assert bounce["extra_next_stage"] == pytest.approx(450 * 2500 / 5500)  # 204.5
    assert bounce["extra_final"] == pytest.approx(450 * 2500 / 5500 * 52 / 2500)  # 4.25
    halved = rows["halve 'bounce rate' (45% → 22.5%)"]
    assert halved["extra_final"] == pytest.approx(2250 * 2500 / 5500 * 52 / 2500)  # 1,022.7 downloads → 21.27
    # pricing abandonment 40% → 36%: 800 × 4% = 32 kept × 150/480 (demo rate of non-abandoners) = 10 demos
    pricing = rows["cut 'abandon after pricing page' from 40% to 36%"]
    assert pricing["extra_next_stage"] == pytest.approx(10)
    assert pricing["extra_final"] == pytest.approx(10 * 52 / 150)  # 3.47
    halved = rows["halve 'abandon after pricing page' (40% → 20%)"]
    assert halved["extra_next_stage"] == pytest.approx(50)  # 160 kept × 150/480
    assert halved["extra_final"] == pytest.approx(50 * 52 / 150)  # 17.33
    # churn at the last stage keeps customers of each monthly cohort of 52 instead
    assert rows["cut 'churn' from 12% to 10.8%"]["extra_final"] == pytest.approx(52 * 0.012)  # 0.624
    assert rows["halve 'churn' (12% → 6%)"]["extra_final"] == pytest.approx(52 * 0.06)  # 3.12


def test_friction_points_ranked_by_recoverable_customers(result: dict[str, Any]) -> None:
    ranked = [(f["friction"], round(f["recoverable_final"], 4)) for f in result["friction"]]
    assert ranked == [
        (E_P, 22.5333),
        (A_C, 15.6),
        (C_E, 11.05),
        (P_R, 9.8),
        ("45% bounce rate (Awareness)", 4.2545),
        ("40% abandon after pricing page (Evaluation)", 3.4667),
        ("12% churn (Retention)", 0.624),
    ]
    top = result["friction"][0]
    # the 40% pricing-page abandonment is the largest identified leak at Evaluation: 320 of the 650 lost
    assert top["identified_causes"] == (
        "largest identified leak here: 40% abandon after pricing page = 320 people (49.23% of the 650 lost)"
    )
    assert top["recoverable_final_if_halved"] == pytest.approx(325 * 52 / 150)  # half of 650 → 112.7


def test_top_three_issues_combined(result: dict[str, Any]) -> None:
    assert [i["friction"] for i in result["top_issues"]] == [E_P, A_C, C_E]
    # separately: 22.533 + 15.6 + 11.05 = 49.183
    assert result["top_issues_sum_extra_final"] == pytest.approx(49.1833, abs=1e-4)
    # together the lifts multiply: 52 × (1 + 65/150) × (1 + 750/2,500) × (1 + 170/800) − 52
    combined = 52 * (1 + 65 / 150) * (1 + 750 / 2500) * (1 + 170 / 800) - 52
    assert result["top_issues_combined_extra_final"] == pytest.approx(combined)  # 65.48
    assert combined == pytest.approx(65.4832, abs=1e-4)


def test_confidence_and_priorities(result: dict[str, Any]) -> None:
    confidence = {t["transition"]: t["confidence"] for t in result["transitions"]}
    assert confidence == {A_C: "high", C_E: "low", E_P: "medium", P_R: "medium"}
    recs = result["recommendations"]
    # priority = impact × confidence weight ÷ effort points
    assert [(r["title"].split(":")[0], r["effort"], round(r["priority_score"], 4)) for r in recs] == [
        (E_P, "low", round(22.5333 * 0.7 / 1, 4)),  # 15.7733
        (A_C, "low", 15.6),  # 15.6 × 1.0 ÷ 1
        (C_E, "low", 4.42),  # 11.05 × 0.4 ÷ 1
        (P_R, "medium", 3.43),  # 9.8 × 0.7 ÷ 2
        ("12% churn (Retention)", "high", round(0.624 * 0.4 / 3, 4)),  # 0.0832
    ]
    assert recs[0]["action"].startswith("Start with the 40% 'abandon after pricing page' (320 people")
    assert [q["rank"] for q in result["quick_wins"]] == [1, 2, 3]


def test_underutilised_touchpoints_and_segments(result: dict[str, Any]) -> None:
    content = result["underutilised"][0]
    # only 15% of 2,500 = 375 proceed, i.e. 375/800 = 46.88% of product-page visitors
    assert content["evidence"] == (
        "only 15% of 2,500 content downloads proceed to product pages (375), yet 800 reach Evaluation: "
        "this path supplies 46.88% of them"
    )
    # +10% relative: 15% → 16.5% of 2,500 = +37.5 visitors × 52/800 = 2.44 customers
    assert content["potential_extra_final"] == pytest.approx(37.5 * 52 / 800)
    entry = _row(result["segments"], segment="Evaluation by entry path")
    assert entry["evidence"] == (
        "800 reach Evaluation but only 375 come from content downloads: 425 arrive by other entry paths"
    )
    assert any("7.8" in u["evidence"] for u in result["underutilised"])  # 15% of 52 customers not active


def test_targets_and_revenue() -> None:
    result = analyse_pasted_funnel(EXAMPLE, targets={"evaluation": 0.25}, value_per_customer=12_000).result
    target = _row(result["what_if"], scenario="reach the target rate 25%")
    assert target["extra_next_stage"] == pytest.approx(50)  # 800 × (25% − 18.75%)
    assert target["extra_final"] == pytest.approx(50 * 52 / 150)  # 17.33
    assert target["extra_revenue"] == pytest.approx(50 * 52 / 150 * 12_000)  # 208,000
    assert result["friction"][0]["recoverable_revenue"] == pytest.approx(65 * 52 / 150 * 12_000)  # 270,400


def test_narrative_states_the_numbers(analysis: ToolResult) -> None:
    text = analysis.result["narrative"]
    for expected in [
        "**10,000** at Awareness become **52** at Retention per month: **0.52%** overall",
        "15% × 2,500 = 375; Evaluation reports 800",
        "425 (53.13%) arrive by other entry paths",
        "25% × 800 = 200; Purchase reports 150",
        "52.5 ≈ 52, consistent within rounding",
        "12% per year ≈ 1.06% per month",
        "**+22.5 customers per month**",
        "largest identified leak here: 40% abandon after pricing page = 320 people",
        "halving 'abandon after pricing page' alone: 50 more at Purchase → 17.3 customers per month",
        "**+65.5 customers per month** if all are addressed at once",
        "+49.2 if each is counted on its own",
        "## 5. Quick wins for this quarter",
        'line 1: "Journey Stage Data:" — heading or text without numbers',
    ]:
        assert expected in text, expected
