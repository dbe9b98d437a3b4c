"""Planted truths of the demo data recovered by funnel, friction, paths and patterns."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from tools.funnels import funnel
from tools.paths import MORE, paths
from tools.patterns import patterns


def test_planted_friction_is_the_biggest(demo_dataset: Any, demo_truth: dict[str, Any]) -> None:
    result = funnel(demo_dataset)
    planted = demo_truth["friction"]
    assert result.result["biggest_friction"] == f"{planted['from']} -> {planted['to']}"
    assert result.result["friction"][0]["friction_rank"] == 1
    assert result.result["biggest_friction_extra_final_if_median_rate"] > 0


def test_whole_period_window_recovers_the_planted_stage_counts(demo_dataset: Any, demo_truth: dict[str, Any]) -> None:
    # A window longer than the data period makes the funnel the simulated journeys themselves.
    result = funnel(demo_dataset, steps=demo_truth["stages"], window="60d")
    counts = {row["step"]: row["customers"] for row in result.result["steps"]}
    assert counts == demo_truth["realised"]["customers_reaching_stage"]
    stages = demo_truth["stages"]
    for (a, b), row in zip(pairwise(stages), result.result["steps"][1:], strict=True):
        planted = demo_truth["realised"]["step_conversion"][f"{a}->{b}"]
        assert row["conversion_from_previous"] == pytest.approx(planted, abs=5e-5)
        assert row["ci_low"] <= planted <= row["ci_high"]


def test_demo_funnel_equals_clickhouse(demo_dir: Path, demo_dataset: Any) -> None:
    chdb = pytest.importorskip("chdb")
    stages = ["visit", "product_view", "signup", "pricing", "demo", "purchase"]
    conditions = ", ".join(f"event = '{s}'" for s in stages)
    levels = chdb.query(
        f"SELECT level, count() AS n FROM (SELECT customer_id, windowFunnel(604800)"
        f"(toUInt64(toUnixTimestamp(timestamp)), {conditions}) AS level "
        f"FROM file('{demo_dir / 'events.parquet'}', Parquet) GROUP BY customer_id) GROUP BY level",
        "DataFrame",
    )
    by_level = dict(zip(levels["level"].astype(int), levels["n"].astype(int), strict=True))
    expected = [sum(n for level, n in by_level.items() if level >= k) for k in range(1, 7)]
    result = funnel(demo_dataset, steps=stages, window="7d")
    assert [row["customers"] for row in result.result["steps"]] == expected


def test_breakdown_by_entry_channel(demo_dataset: Any, demo_truth: dict[str, Any]) -> None:
    result = funnel(demo_dataset, by="channel")
    visits = {r["value"]: r["customers"] for r in result.result["breakdown"] if r["step"] == "visit"}
    assert set(demo_truth["entry_channels"]) <= set(visits)
    assert sum(visits.values()) == result.result["customers_entered"]
    values = {row["value"] for row in result.result["time_to_convert"]}
    assert "(all)" in values and set(demo_truth["entry_channels"]) <= values


def test_strict_and_any_bracket_ordered(demo_dataset: Any) -> None:
    counts = {
        order: [r["customers"] for r in funnel(demo_dataset, order=order).result["steps"]]
        for order in ("strict", "ordered", "any")
    }
    for k in range(6):
        assert counts["strict"][k] <= counts["ordered"][k] <= counts["any"][k]


def test_paths_after_pricing_go_through_demo(demo_dataset: Any) -> None:
    result = paths(demo_dataset, from_event="pricing", after="pricing", depth=5, top=10)
    converted = [r for r in result.result["paths_after"] if r["outcome"] == "converted"]
    assert converted and all("demo" in r["path"] or MORE in r["path"] for r in converted)
    assert result.result["conversion_after_step"] < 0.5
    assert result.result["transitions"][0]["from"] == "pricing"


def test_patterns_single_out_the_demo(demo_dataset: Any) -> None:
    result = patterns(demo_dataset, min_support=0.05, max_length=3)
    top = result.result["patterns"][0]
    assert "demo" in top["pattern"] and top["lift"] > 5
    # Every purchase in the simulated world follows a demo; journeys capped at 20 events hide some of them.
    uncapped = patterns(demo_dataset, rank_by="difference", max_events=40).result["patterns"]
    demo = next(r for r in uncapped if r["pattern"] == "demo")
    assert demo["converter_support"] > 0.99
    lifts = [r["lift"] for r in result.result["patterns"]]
    assert lifts == sorted(lifts, reverse=True)


@pytest.mark.slow
def test_funnel_by_segment_when_segments_exist(demo_dataset: Any) -> None:
    import tools.segments

    if not hasattr(tools.segments, "with_segments"):
        pytest.skip("tools.segments.with_segments is not available yet")
    result = funnel(demo_dataset, by="segment")
    assert len({r["value"] for r in result.result["breakdown"]}) >= 2
    assert "k by silhouette, seed 7" in result.definition["segments"]  # how the segments were made
