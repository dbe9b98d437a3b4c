"""Anomalies: BH by hand, the robust weekday-aware score on synthetic series, planted truth, edges, CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from assistant.cli import app
from tools.anomalies import anomalies, bh_qvalues, score_series, two_sided_p
from tools.context import ToolContext
from tools.daily import daily_metrics
from tools.dataset import from_records, load_events
from tools.errors import ArgumentError
from tools.registry import get_tool, invoke


def test_bh_by_hand() -> None:
    # sorted p: .005 .01 .03 .04 -> p*m/rank: .02 .02 .04 .04 -> running minimum from the top: same
    q = bh_qvalues(np.array([0.01, 0.04, 0.03, 0.005]))
    assert q == pytest.approx([0.02, 0.04, 0.04, 0.02])
    # step-up: a larger p can pull smaller ones down (0.5*3/3 = 0.5; 0.2*3/2 = 0.3; 0.1*3/1 = 0.3)
    assert bh_qvalues(np.array([0.1, 0.2, 0.5])) == pytest.approx([0.3, 0.3, 0.5])
    assert bh_qvalues(np.array([])).size == 0


@given(st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=60))
def test_bh_invariants(p_values: list[float]) -> None:
    p = np.array(p_values)
    q = bh_qvalues(p)
    assert np.all(q >= p - 1e-12) and np.all(q <= 1.0 + 1e-12)
    order = np.argsort(p, kind="stable")
    assert np.all(np.diff(q[order]) >= -1e-12)  # q is monotone in p
    assert q.min() == pytest.approx(min(1.0, float(np.min(p * len(p) / (np.argsort(np.argsort(p)) + 1)))))


def test_two_sided_p() -> None:
    assert two_sided_p(1.959964, float("inf")) == pytest.approx(0.05, abs=1e-6)
    assert two_sided_p(-2.0, 10.0) == pytest.approx(0.0734, abs=1e-3)  # Student t, 10 df


def _weekly_counts(rng: np.random.Generator, days: int = 56, base: float = 300.0) -> tuple[np.ndarray, np.ndarray]:
    weekdays = np.arange(days) % 7
    mean = base * np.where(weekdays >= 5, 0.6, 1.0) * np.linspace(0.8, 1.2, days)  # weekends and a trend
    return rng.poisson(mean).astype(float), weekdays


@pytest.mark.parametrize("seed", range(5))
def test_weekly_pattern_and_trend_are_not_anomalies(seed: int) -> None:
    values, weekdays = _weekly_counts(np.random.default_rng(seed))
    usable = np.ones(len(values), dtype=bool)
    eligible = usable.copy()
    eligible[:7] = False
    result = score_series(values, "count", usable, weekdays, eligible)
    assert np.nanmax(np.abs(result.z[eligible])) < 4.5
    # the baseline follows the weekend dip instead of flagging it
    weekend = eligible & (weekdays >= 5)
    assert np.nanmedian(result.expected[weekend] / values[weekend]) == pytest.approx(1.0, abs=0.1)


def test_planted_drop_scores_far_below_everything_else() -> None:
    values, weekdays = _weekly_counts(np.random.default_rng(11))
    values[40] *= 0.4
    usable = np.ones(len(values), dtype=bool)
    eligible = usable.copy()
    eligible[:7] = False
    result = score_series(values, "count", usable, weekdays, eligible)
    assert int(np.nanargmin(result.z)) == 40
    assert result.z[40] < -8
    others = np.delete(result.z[eligible], 40 - 7)
    assert np.nanmax(np.abs(others)) < 4.5


def test_rate_uses_the_denominator() -> None:
    rng = np.random.default_rng(3)
    den = rng.integers(200, 400, 56).astype(float)
    num = rng.binomial(den.astype(int), 0.3).astype(float)
    num[30] = round(den[30] * 0.1)
    usable = np.ones(56, dtype=bool)
    eligible = usable.copy()
    eligible[:7] = False
    result = score_series(num / den, "rate", usable, np.arange(56) % 7, eligible, den)
    assert int(np.nanargmin(result.z)) == 30 and result.z[30] < -4
    assert result.expected[30] == pytest.approx(0.3, abs=0.03)


def _events(days: int = 28, start: str = "2024-01-01 00:10", drop_day: int | None = None) -> pd.DataFrame:
    """Per day: 40 visitors, 20 of them sign up (5 on the drop day); the first event of the data at 00:10."""
    rows = []
    t0 = pd.Timestamp(start)
    for d in range(days):
        signups = 5 if d == drop_day else 20
        for i in range(40):
            cid = f"d{d}c{i}"
            at = t0 + pd.Timedelta(days=d, minutes=30 * i)
            rows.append({"customer_id": cid, "timestamp": at, "event": "visit", "channel": "email"})
            if i < signups:
                rows.append({"customer_id": cid, "timestamp": at + pd.Timedelta(minutes=5), "event": "signup"})
    return pd.DataFrame(rows)


def test_daily_metrics_hand_counts() -> None:
    ds = from_records(_events(days=3, drop_day=1))
    daily = daily_metrics(ds, ("visit", "signup", "purchase"))
    assert [d.isoformat() for d in daily.days] == ["2024-01-01", "2024-01-02", "2024-01-03"]
    assert daily.values["customers_visit"].tolist() == [40, 40, 40]
    assert daily.values["customers_signup"].tolist() == [20, 5, 20]
    assert daily.values["rate_visit_to_signup"] == pytest.approx([0.5, 0.125, 0.5])
    assert daily.values["touches_email"].tolist() == [40, 40, 40]
    assert "customers_purchase" not in daily.values and "revenue" not in daily.values


def test_same_day_rate_is_a_share_of_the_days_customers_never_above_one() -> None:
    # Day 1: a and b visit, a signs up. Day 2: c visits; a and b sign up (their visits were yesterday), c does not.
    # Stage counts on day 2: 1 visitor, 2 sign-ups; the day's visitors who signed up that day: 0 of 1.
    rows = [
        ("a", "2024-01-01 09:00", "visit"),
        ("a", "2024-01-01 09:10", "signup"),
        ("b", "2024-01-01 10:00", "visit"),
        ("c", "2024-01-02 09:00", "visit"),
        ("a", "2024-01-02 11:00", "signup"),
        ("b", "2024-01-02 12:00", "signup"),
        ("b", "2024-01-02 12:05", "signup"),
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "timestamp", "event"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"])
    daily = daily_metrics(from_records(frame), ("visit", "signup"))
    assert daily.values["customers_visit"].tolist() == [2, 1]
    assert daily.values["customers_signup"].tolist() == [1, 2]
    assert daily.values["rate_visit_to_signup"].tolist() == [0.5, 0.0]
    assert daily.denominators["rate_visit_to_signup"].tolist() == [2, 1]


def test_small_dataset_planted_drop_and_edges() -> None:
    ds = from_records(_events(days=28, drop_day=20))
    result = anomalies(ds, stages=("visit", "signup"))
    top = result.result["anomalies"][0]
    assert top["date"] == "2024-01-21" and top["direction"] == "down"
    assert top["metric"] in ("customers_signup", "rate_visit_to_signup")
    assert {row["date"] for row in result.result["anomalies"]} == {"2024-01-21"}
    # the last day ends at 19:40: partial, so not used
    assert result.result["last_day_tested"] == "2024-01-27"
    assert any("2024-01-28 is partial" in note for note in result.notes)
    assert result.result["first_day_tested"] == "2024-01-08"  # 7 warm-up days


def test_since_until_metric_filter_and_errors() -> None:
    ds = from_records(_events(days=28, drop_day=20))
    result = anomalies(ds, metrics=["customers_*"], since="2024-01-15", until="2024-01-22", stages=("visit", "signup"))
    assert result.definition["metrics"] == ["customers_visit", "customers_signup"]
    assert result.result["first_day_tested"] == "2024-01-15" and result.result["last_day_tested"] == "2024-01-22"
    assert [r["metric"] for r in result.result["anomalies"]] == ["customers_signup"]
    calm = anomalies(ds, since="2024-01-22", stages=("visit", "signup"))
    assert calm.result["status"] == "nothing unusual" and calm.result["anomalies"] == []
    assert any("nothing unusual" in note for note in calm.notes)
    with pytest.raises(ArgumentError, match="metrics are: customers_visit"):
        anomalies(ds, metrics=["signups"], stages=("visit", "signup"))
    with pytest.raises(ArgumentError, match="YYYY-MM-DD"):
        anomalies(ds, since="last week")
    with pytest.raises(ArgumentError, match="alpha"):
        anomalies(ds, alpha=1.5)
    # An empty or reversed range is an error, not a calm week.
    with pytest.raises(ArgumentError, match=r"no complete day of the data .* lies in the range 2025-01-01"):
        anomalies(ds, since="2025-01-01", stages=("visit", "signup"))
    with pytest.raises(ArgumentError, match="--since 2024-02-01 is after --until 2024-01-01"):
        anomalies(ds, since="2024-02-01", until="2024-01-01", stages=("visit", "signup"))


@pytest.mark.slow
def test_demo_planted_anomaly_ranked_first(demo_dataset: Any, demo_truth: dict[str, Any]) -> None:
    result = anomalies(demo_dataset, stages=tuple(demo_truth["stages"]))
    rows = result.result["anomalies"]
    planted = demo_truth["anomaly"]["date"]
    assert rows and rows[0]["date"] == planted
    signup = [r for r in rows if r["metric"] == "customers_signup"]
    assert signup[0]["date"] == planted and signup[0]["direction"] == "down"
    assert signup[0]["value"] < 0.5 * signup[0]["expected"]
    assert all(r["q_value"] <= 0.05 for r in rows)
    assert [abs(r["score"]) >= 0 for r in rows]


@pytest.mark.slow
def test_calm_demo_reports_nothing(calm_demo_dir: Path) -> None:
    result = anomalies(load_events(calm_demo_dir / "events.parquet"))
    assert result.result["status"] == "nothing unusual"
    assert result.result["anomalies"] == []
    assert result.result["tested"] > 500


def test_registry_spec_and_invoke() -> None:
    spec = get_tool("anomalies")
    assert 4 <= len(spec.examples) <= 8
    for name, field in spec.args.model_fields.items():
        assert field.description, name
    context = ToolContext.for_dataset(from_records(_events(days=28, drop_day=20)))
    result = invoke("anomalies", {"metrics": ["customers_visit"]}, context)
    assert result.tool == "anomalies" and result.result["status"] == "nothing unusual"


def test_cli_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "events.parquet"
    _events(days=28, drop_day=20).to_parquet(data)
    result = CliRunner().invoke(
        app,
        ["anomalies", "--data", str(data), "--metric", "customers_signup", "--format", "json"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["tool"] == "anomalies"
    assert [r["date"] for r in payload["result"]["anomalies"]] == ["2024-01-21"]
    bad = CliRunner().invoke(app, ["anomalies", "--data", str(data), "--metric", "nope"], catch_exceptions=False)
    assert bad.exit_code != 0 and "metrics are:" in bad.stderr


@pytest.mark.spark
@pytest.mark.slow
def test_daily_metrics_match_on_spark(spark_con: Any, tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    _events(days=10, drop_day=4).to_csv(path, index=False)
    duck = daily_metrics(load_events(path), ("visit", "signup"))
    spark = daily_metrics(load_events(path, con=spark_con), ("visit", "signup"))
    assert spark.days == duck.days
    assert set(spark.values) == set(duck.values)
    for name, values in duck.values.items():
        assert spark.values[name] == pytest.approx(values), name


@pytest.mark.spark
@pytest.mark.slow
def test_segments_and_with_segments_on_spark(spark_con: Any, tmp_path: Path) -> None:
    from test_segments import _tiny_world

    from tools.segments import segments, with_segments

    path = tmp_path / "events.parquet"
    _tiny_world().events.to_pandas().to_parquet(path)
    stages = ("visit", "product_view", "signup", "purchase")
    duck = segments(load_events(path), k=2, seed=3, stages=stages)
    spark_ds = load_events(path, con=spark_con)
    spark = segments(spark_ds, k=2, seed=3, stages=stages)
    assert spark.result == duck.result
    joined = with_segments(spark_ds, k=2, seed=3, stages=stages).events
    counts = joined.group_by("segment").agg(n=joined.customer_id.nunique()).to_pandas()
    assert sorted(counts["n"].tolist()) == [40, 40]
