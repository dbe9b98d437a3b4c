"""Wilson intervals, Kaplan–Meier time to convert and the friction rule, against references and by hand."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

from tools.dataset import from_records
from tools.friction import friction_summary, friction_table
from tools.funnels import funnel, time_to_convert
from tools.survival import kaplan_meier, wilson_interval

BASE = datetime(2024, 1, 1)


@pytest.mark.parametrize("successes,trials", [(0, 10), (3, 10), (10, 10), (655, 1000), (1, 3), (39188, 58184)])
def test_wilson_matches_statsmodels(successes: int, trials: int) -> None:
    from statsmodels.stats.proportion import proportion_confint

    low, high = proportion_confint(successes, trials, alpha=0.05, method="wilson")
    ours = wilson_interval(successes, trials)
    assert ours == pytest.approx((low, high), abs=1e-12)


def test_wilson_without_trials() -> None:
    assert wilson_interval(0, 0) == (None, None)


def test_kaplan_meier_matches_statsmodels() -> None:
    from statsmodels.duration.survfunc import SurvfuncRight

    rng = np.random.default_rng(3)
    durations = rng.integers(1, 30, 200).astype(float)
    events = rng.random(200) < 0.4
    ours = kaplan_meier(durations, events)
    ref = SurvfuncRight(durations, events.astype(int))
    assert ours.times == pytest.approx(ref.surv_times)
    assert ours.survival == pytest.approx(ref.surv_prob)


def test_kaplan_meier_weights_equal_repeated_rows() -> None:
    durations, events, weights = [1.0, 2.0, 2.0, 5.0], [True, False, True, False], [3, 1, 2, 4]
    repeated = kaplan_meier(np.repeat(durations, weights), np.repeat(events, weights))
    weighted = kaplan_meier(durations, events, weights)
    assert weighted.survival == pytest.approx(repeated.survival)
    assert weighted.subjects == 10 and weighted.events == 5


def test_kaplan_meier_by_hand() -> None:
    # 4 subjects: converted at 1 and 3, censored at 2 and 4.
    curve = kaplan_meier([1, 2, 3, 4], [1, 0, 1, 0])
    assert curve.cumulative(0.5) == 0.0
    assert curve.cumulative(1) == pytest.approx(0.25)  # 1 of 4 at risk
    assert curve.cumulative(3) == pytest.approx(1 - 0.75 * 0.5)  # then 1 of 2 at risk
    assert curve.final() == pytest.approx(0.625)
    assert curve.quantile_of_converters(0.5) == 3.0  # half of 62.5% is reached at t=3 only
    assert curve.time_to_share(0.2) == 1.0 and curve.time_to_share(0.9) is None


def test_time_to_convert_censors_recent_customers() -> None:
    # Data end = day 20. a converts after 1 day, b after 3 days; c entered on day 2 and never converted
    # (censored at 18 days); d entered on day 17, within 7 days of the end (censored at 3 days, still open).
    rows = [
        ("a", 0, "visit"),
        ("a", 1, "buy"),
        ("b", 0, "visit"),
        ("b", 3, "buy"),
        ("c", 2, "visit"),
        ("d", 17, "visit"),
        ("e", 20, "other"),
    ]
    ds = from_records([{"customer_id": c, "timestamp": BASE + timedelta(days=d), "event": e} for c, d, e in rows])
    result = time_to_convert(ds, steps="visit,buy", window="7d")
    overall = result.result["time_to_convert"][0]
    assert overall["customers"] == 4 and overall["converted"] == 2 and overall["still_in_window"] == 1
    # KM: at day 1, 4 at risk -> 1/4; at day 3 (d censored at 3 counts as at risk), 3 at risk -> S = 3/4 * 2/3.
    assert overall["converted_by_day_1"] == pytest.approx(0.25)
    assert overall["converted_by_day_3"] == pytest.approx(0.5)
    assert overall["converted_by_day_14"] == pytest.approx(0.5)
    assert overall["converted_by_day_30"] is None  # beyond the longest follow-up (18 days)
    assert overall["median_days_to_convert"] == pytest.approx(1.0)
    assert overall["p90_days_to_convert"] == pytest.approx(3.0)
    assert result.result["median_days_to_convert"] == pytest.approx(1.0)
    assert "censored" in result.definition["time_to_convert"]


def test_friction_rule_and_what_if_by_hand() -> None:
    steps = ["visit", "view", "pricing", "demo", "buy"]
    counts = [1000, 600, 300, 60, 30]  # rates 0.6, 0.5, 0.2, 0.5
    rows = friction_table(steps, counts)
    worst = rows[0]
    assert worst["transition"] == "pricing -> demo" and worst["friction_rank"] == 1
    assert worst["conversion"] == pytest.approx(0.2) and worst["lost"] == 240
    # Win back 10% of the 240 lost: rate 0.2 + 0.1 * 0.8 = 0.28; 300 * 0.28 * 0.5 = 42 final customers, 12 more.
    assert worst["extra_final_if_recover_10pct"] == 12
    # A relative lift would not rank: +10% on any step adds the same 3 (30 * 0.1); winning back 10% of the
    # losses does: visit -> view (rate 0.6 -> 0.64) adds 1000 * 0.64 * 0.5 * 0.2 * 0.5 - 30 = 2.
    assert next(r for r in rows if r["transition"] == "visit -> view")["extra_final_if_recover_10pct"] == 2
    # To the median of the others (0.6, 0.5, 0.5 -> 0.5): 300 * 0.5 * 0.5 = 75, 45 more.
    assert worst["median_other_rate"] == pytest.approx(0.5)
    assert worst["extra_final_if_median_rate"] == 45
    summary = friction_summary(rows)
    assert summary["biggest_friction"] == "pricing -> demo"
    assert summary["most_customers_lost"] == "visit -> view" and summary["most_customers_lost_count"] == 400
    assert sum(r["share_of_all_lost"] for r in rows) == pytest.approx(1.0)


def test_friction_with_an_empty_step() -> None:
    rows = friction_table(["a", "b", "c"], [10, 0, 0])
    assert rows[0]["transition"] == "a -> b" and rows[0]["conversion"] == 0.0
    assert rows[1]["conversion"] is None and rows[0]["extra_final_if_recover_10pct"] is None


def test_funnel_result_carries_friction_and_survival() -> None:
    rows = []
    for i in range(10):
        rows.append({"customer_id": f"c{i}", "timestamp": BASE, "event": "visit"})
        if i < 8:
            rows.append({"customer_id": f"c{i}", "timestamp": BASE + timedelta(hours=1), "event": "pricing"})
        if i < 2:
            rows.append({"customer_id": f"c{i}", "timestamp": BASE + timedelta(hours=2), "event": "demo"})
    result = funnel(from_records(rows), steps="visit,pricing,demo")
    assert result.result["biggest_friction"] == "pricing -> demo"
    assert result.result["biggest_friction_lost"] == 6
    assert result.result["customers_converted"] == 2 and result.result["overall_conversion"] == pytest.approx(0.2)
    assert result.result["time_to_convert"][0]["converted"] == 2
    assert "friction_rule" in result.definition and "what_if" in result.definition
