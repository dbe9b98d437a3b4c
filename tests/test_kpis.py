"""Weekly KPIs: ISO weeks, hand-computed weekly aggregates, the tests and the BH correction, planted truths."""

from __future__ import annotations

import itertools
import math
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tools.dataset import from_records, load_events
from tools.errors import ArgumentError, DataError
from tools.kpis import weekly_kpis
from tools.significance import Comparison, assess, benjamini_hochberg, poisson_p, two_proportion_p
from tools.weeks import IsoWeek, last_complete_week

STAGES = ("visit", "signup", "purchase")


def test_iso_week_parse_and_arithmetic() -> None:
    week = IsoWeek.parse("2024-W07")
    assert week == IsoWeek.parse("2024w7") == IsoWeek(2024, 7)
    assert week.label == "2024-W07"
    assert week.start == datetime(2024, 2, 12)
    assert week.end == datetime(2024, 2, 19)
    assert week.last_day.isoformat() == "2024-02-18"
    assert week.shift(-7) == IsoWeek(2023, 52)
    assert IsoWeek.of(datetime(2021, 1, 3)) == IsoWeek(2020, 53)  # ISO year differs from the calendar year
    assert IsoWeek.parse("2020-W53").shift(1) == IsoWeek(2021, 1)


@pytest.mark.parametrize("text", ["2024-07", "W07", "2024-W54", "2023-W53", ""])
def test_iso_week_rejects_non_weeks(text: str) -> None:
    with pytest.raises(ArgumentError, match="week"):
        IsoWeek.parse(text)


def test_last_complete_week() -> None:
    first = datetime(2024, 1, 1)
    assert last_complete_week(first, datetime(2024, 2, 18, 23, 59)) == IsoWeek(2024, 7)
    assert last_complete_week(first, datetime(2024, 2, 18, 0, 5)) == IsoWeek(2024, 7)  # Sunday has data
    assert last_complete_week(first, datetime(2024, 2, 17, 23, 0)) == IsoWeek(2024, 6)  # Saturday: week not over
    with pytest.raises(DataError, match="no complete ISO week"):
        last_complete_week(datetime(2024, 1, 3), datetime(2024, 1, 6))


def _events() -> Any:
    """Six customers over ISO weeks 2024-W01..W03 (see the expected numbers in the tests)."""
    rows = [
        ("a", "2024-01-01 10:00", "visit", None),
        ("a", "2024-01-02 10:00", "signup", None),
        ("a", "2024-01-03 10:00", "purchase", 100.0),
        ("b", "2024-01-05 10:00", "visit", None),
        ("b", "2024-01-09 10:00", "signup", None),  # next week: not a same-week conversion of W01
        ("b", "2024-01-20 10:00", "purchase", 50.0),
        ("c", "2024-01-08 10:00", "visit", None),
        ("c", "2024-01-15 09:00", "visit", None),  # a repeat visit is not a first visit
        ("c", "2024-01-15 10:00", "signup", None),
        ("d", "2024-01-14 08:00", "page_view", None),  # first event in W02, first visit in W03
        ("d", "2024-01-16 10:00", "visit", None),
        ("d", "2024-01-16 10:00", "signup", None),  # equal timestamps count
        ("e", "2024-01-17 10:00", "visit", None),
        ("e", "2024-01-18 10:00", "purchase", 10.0),
        ("e", "2024-01-19 10:00", "purchase", 20.0),
        ("f", "2024-01-21 23:00", "page_view", None),
    ]
    return from_records(
        {
            "customer_id": [r[0] for r in rows],
            "timestamp": [r[1] for r in rows],
            "event": [r[2] for r in rows],
            "revenue": [r[3] for r in rows],
        }
    )


@pytest.fixture(scope="module")
def tiny() -> Any:
    return weekly_kpis(_events(), None, STAGES, "purchase", trailing=2)


def _row(result: Any, metric: str) -> dict[str, Any]:
    return next(r for r in result.result["kpis"] if r["metric"] == metric)


def test_weekly_aggregates_by_hand(tiny: Any) -> None:
    assert tiny.result["week"] == "2024-W03"  # the default: the last complete week
    weekly = {w["week"]: w for w in tiny.result["weekly"]}
    assert [weekly[w]["new_customers"] for w in ("2024-W01", "2024-W02", "2024-W03")] == [2, 2, 2]
    assert [weekly[w]["reached:visit"] for w in ("2024-W01", "2024-W02", "2024-W03")] == [2, 1, 2]
    assert [weekly[w]["reached:signup"] for w in ("2024-W01", "2024-W02", "2024-W03")] == [1, 1, 2]
    assert [weekly[w]["reached:purchase"] for w in ("2024-W01", "2024-W02", "2024-W03")] == [1, 0, 2]
    assert [weekly[w]["conversions"] for w in ("2024-W01", "2024-W02", "2024-W03")] == [1, 0, 3]
    assert [weekly[w]["revenue"] for w in ("2024-W01", "2024-W02", "2024-W03")] == [100, 0, 80]
    assert [weekly[w]["rate:visit->signup"] for w in ("2024-W01", "2024-W02", "2024-W03")] == [0.5, 0.0, 0.5]
    assert [weekly[w]["rate:signup->purchase"] for w in ("2024-W01", "2024-W02", "2024-W03")] == [1.0, 0.0, 0.0]


def test_rows_compare_with_last_week_and_trailing(tiny: Any) -> None:
    rate = _row(tiny, "rate:visit->signup")
    assert (rate["this_week_successes"], rate["this_week_trials"]) == (1, 2)
    assert (rate["last_week_successes"], rate["last_week_trials"]) == (0, 1)
    assert rate["trailing_avg"] == pytest.approx(1 / 3)  # pooled over W01 and W02
    assert rate["change_vs_last_week_pp"] == pytest.approx(50.0)
    count = _row(tiny, "new_customers")
    assert (count["this_week"], count["last_week"], count["trailing_avg"]) == (2, 2, 2)
    assert count["change_vs_last_week_pct"] == 0
    revenue = _row(tiny, "revenue")
    assert revenue["kind"] == "amount" and revenue["p_vs_last_week"] is None
    assert tiny.definition["trailing_weeks"] == ["2024-W01", "2024-W02"]


def test_one_benjamini_hochberg_family_over_every_comparison(tiny: Any) -> None:
    pairs = [
        (r[f"p_{s}"], r[f"q_{s}"])
        for r in tiny.result["kpis"]
        for s in ("vs_last_week", "vs_trailing")
        if r[f"p_{s}"] is not None
    ]
    assert len(pairs) >= 10
    expected = benjamini_hochberg([p for p, _ in pairs])
    assert [q for _, q in pairs] == pytest.approx(expected)
    assert tiny.result["nothing_significant"] is True
    assert "nothing significant changed" in tiny.notes[0]


def test_two_proportion_p_matches_the_textbook_formula() -> None:
    x1, n1, x0, n0 = 45, 100, 30, 100
    pooled = (x1 + x0) / (n1 + n0)
    z = (x1 / n1 - x0 / n0) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
    assert two_proportion_p(x1, n1, x0, n0) == pytest.approx(math.erfc(abs(z) / math.sqrt(2)))
    assert two_proportion_p(0, 10, 0, 12) == 1.0
    assert two_proportion_p(3, 0, 1, 5) is None


def test_poisson_p() -> None:
    assert poisson_p(100, 1, 100, 1) == pytest.approx(1.0)
    assert poisson_p(100, 1, 400, 4) == pytest.approx(1.0)  # same rate per week
    assert poisson_p(150, 1, 100, 1) < 0.01
    assert poisson_p(0, 1, 0, 1) == 1.0


def test_benjamini_hochberg_by_hand() -> None:
    # sorted p: 0.01, 0.02, 0.03, 0.5 -> m/i * p: 0.04, 0.04, 0.04, 0.5 (then running minimum from the top)
    assert benjamini_hochberg([0.03, 0.5, 0.01, 0.02]) == pytest.approx([0.04, 0.5, 0.04, 0.04])


@given(st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=40))
def test_bh_invariants(p_values: list[float]) -> None:
    q = benjamini_hochberg(p_values)
    assert all(qi >= pi - 1e-12 and qi <= 1.0 + 1e-12 for pi, qi in zip(p_values, q, strict=True))
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    assert all(q[a] <= q[b] + 1e-12 for a, b in itertools.pairwise(order))


def test_assess_mixes_rates_and_counts() -> None:
    tested = assess(
        [
            Comparison("r", "last_week", "rate", 300, 1000, 200, 1000),
            Comparison("c", "last_week", "count", 1000, 1, 1010, 1),
            Comparison("u", "last_week", "rate", 1, 0, 1, 0),
        ]
    )
    assert tested[0].significant and not tested[1].significant
    assert tested[2].p_value is None and tested[2].q_value is None


def test_bad_arguments_name_the_fix() -> None:
    data = _events()
    with pytest.raises(ArgumentError, match="'demo' does not occur"):
        weekly_kpis(data, None, ("visit", "demo"), "purchase")
    with pytest.raises(ArgumentError, match="outside the data"):
        weekly_kpis(data, "2024-W30", STAGES, "purchase")
    with pytest.raises(ArgumentError, match="distinct stages"):
        weekly_kpis(data, None, ("visit", "visit"), "purchase")


def test_planted_anomaly_week_is_significant(demo_dataset: Any) -> None:
    result = weekly_kpis(demo_dataset)
    assert result.result["week"] == "2024-W07"
    significant = {r["metric"]: r for r in result.result["kpis"] if r["significant"]}
    assert "reached:signup" in significant and "rate:product_view->signup" in significant
    assert significant["reached:signup"]["change_vs_last_week_pct"] < 0
    assert significant["rate:product_view->signup"]["change_vs_last_week_pp"] < 0
    assert not result.result["nothing_significant"]


def test_calm_week_has_nothing_significant(calm_demo_dir: Path) -> None:
    result = weekly_kpis(load_events(calm_demo_dir / "events.parquet"))
    assert result.result["week"] == "2024-W07"
    assert result.result["nothing_significant"], [r["metric"] for r in result.result["kpis"] if r["significant"]]
