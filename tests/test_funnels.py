"""Funnel semantics on hand-computed fixtures: every corner of ordered, strict and any-order chains."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from tools.dataset import Dataset, from_records
from tools.errors import ArgumentError
from tools.funnel_engine import FunnelQuery, customer_chains
from tools.funnels import funnel

BASE = datetime(2024, 1, 1)
STEPS = ("visit", "signup", "purchase")


def at(days: float = 0, hours: float = 0, seconds: float = 0) -> datetime:
    return BASE + timedelta(days=days, hours=hours, seconds=seconds)


def make(rows: list[tuple[Any, ...]]) -> Dataset:
    """(customer, time, event[, channel]) rows -> a Dataset."""
    return from_records(
        [{"customer_id": r[0], "timestamp": r[1], "event": r[2], "channel": r[3] if len(r) > 3 else None} for r in rows]
    )


def reach(ds: Dataset, order: str = "ordered", steps: tuple[str, ...] = STEPS, window: float = 7, **kw: Any) -> dict:
    """Customer -> number of steps reached (customers without a step-1 event are absent)."""
    query = FunnelQuery(steps, timedelta(days=window), order, **kw)  # type: ignore[arg-type]
    frame = customer_chains(ds.events, query).select("customer_id", "_reach").to_pyarrow().to_pylist()
    return {row["customer_id"]: row["_reach"] for row in frame}


# One customer per corner; expected steps reached for (ordered, strict, any) with visit > signup > purchase, 7d.
CORNERS: dict[str, tuple[list[tuple[Any, ...]], tuple[int, int, int]]] = {
    "straight": ([(at(0), "visit"), (at(hours=1), "signup"), (at(hours=2), "purchase")], (3, 3, 3)),
    # Re-entry: the first visit's window closes on day 7; the chain from the day-9 visit converts.
    "reentry": (
        [(at(0), "visit"), (at(9), "visit"), (at(10), "signup"), (at(11), "purchase")],
        (3, 3, 3),
    ),
    # Another event between the steps: fine for ordered and any, breaks strict.
    "between": ([(at(0), "visit"), (at(hours=1), "page_view"), (at(hours=2), "signup")], (2, 1, 2)),
    # Equal timestamps, written in the "wrong" order: a step may share the previous step's time.
    "tie": ([(at(hours=5), "signup"), (at(hours=5), "visit")], (2, 2, 2)),
    # Exactly at the window boundary (inclusive), and one second past it.
    "boundary": ([(at(0), "visit"), (at(7), "signup")], (2, 2, 2)),
    "past_boundary": ([(at(0), "visit"), (at(7, seconds=1), "signup")], (1, 1, 1)),
    # Out of order: purchase before signup; only 'any' accepts it.
    "out_of_order": ([(at(0), "visit"), (at(hours=1), "purchase"), (at(hours=2), "signup")], (2, 1, 3)),
    # A step before step 1 does not count in any mode.
    "before_start": ([(at(0), "signup"), (at(hours=1), "visit")], (1, 1, 1)),
    # Missing step: purchase without signup reaches only step 1.
    "missing": ([(at(0), "visit"), (at(hours=1), "purchase")], (1, 1, 1)),
    # Repeats count as one in strict: visit, visit, signup, signup, purchase.
    "repeats": (
        [
            (at(0), "visit"),
            (at(hours=1), "visit"),
            (at(hours=2), "signup"),
            (at(hours=3), "signup"),
            (at(hours=4), "purchase"),
        ],
        (3, 3, 3),
    ),
    # Strict starts a run of visits at its last one: day 0 and day 9 visits, signup day 10.
    "strict_run_start": ([(at(0), "visit"), (at(9), "visit"), (at(10), "signup")], (2, 2, 2)),
    # No step-1 event at all: not in the funnel.
    "no_start": ([(at(0), "signup"), (at(hours=1), "purchase")], (0, 0, 0)),
}


@pytest.fixture(scope="module")
def corners() -> Dataset:
    rows = [(name, t, e) for name, (events, _) in CORNERS.items() for (t, e) in events]
    return make(rows)


@pytest.mark.parametrize("order,index", [("ordered", 0), ("strict", 1), ("any", 2)])
def test_every_corner(corners: Dataset, order: str, index: int) -> None:
    got = reach(corners, order)
    expected = {name: want[index] for name, (_, want) in CORNERS.items() if want[index]}
    assert got == expected


def test_funnel_counts_and_rates_on_corners(corners: Dataset) -> None:
    result = funnel(corners, steps="visit,signup,purchase", window="7d")
    counts = [row["customers"] for row in result.result["steps"]]
    ordered = reach(corners)
    assert counts == [sum(1 for r in ordered.values() if r >= k) for k in (1, 2, 3)]
    first, second, third = result.result["steps"]
    assert first["conversion_from_previous"] is None and first["conversion_from_start"] == 1.0
    assert second["conversion_from_previous"] == pytest.approx(counts[1] / counts[0])
    assert third["conversion_from_start"] == pytest.approx(counts[2] / counts[0])
    assert second["dropped_from_previous"] == counts[0] - counts[1]
    assert second["ci_low"] < second["conversion_from_previous"] < second["ci_high"]
    assert result.definition["steps"] == list(STEPS) and result.definition["window"] == "1w"
    assert "windowFunnel" in result.definition["order_rule"]


def test_repeated_step_names_never_reuse_one_event() -> None:
    # ClickHouse windowFunnel would let the single 'a' fill steps 1 and 3.
    ds = make([("u", at(0), "a"), ("u", at(0), "b"), ("v", at(0), "a"), ("v", at(0), "b"), ("v", at(hours=1), "a")])
    assert reach(ds, steps=("a", "b", "a")) == {"u": 2, "v": 3}
    assert reach(ds, "strict", steps=("a", "b", "a")) == {"u": 2, "v": 3}


def test_time_between_steps_median_and_p90() -> None:
    ds = make(
        [
            ("a", at(0), "visit"),
            ("a", at(hours=1), "signup"),
            ("b", at(0), "visit"),
            ("b", at(hours=3), "signup"),
            ("c", at(0), "visit"),
        ]
    )
    row = funnel(ds, steps="visit,signup").result["steps"][1]
    assert row["median_seconds_from_previous"] == pytest.approx(2 * 3600)
    assert row["p90_seconds_from_previous"] == pytest.approx(3600 + 0.9 * 2 * 3600)  # linear interpolation
    assert row["median_time_from_previous"] == "2.0 h"


def test_times_are_measured_on_the_best_chain() -> None:
    # Visit day 0 (window missed), visit day 9, signup day 10: one day, not ten.
    ds = make([("a", at(0), "visit"), ("a", at(9), "visit"), ("a", at(10), "signup")])
    row = funnel(ds, steps="visit,signup").result["steps"][1]
    assert row["median_seconds_from_previous"] == pytest.approx(86400)


def test_breakdown_takes_the_value_of_the_best_chains_start() -> None:
    ds = make(
        [
            ("a", at(0), "visit", "email"),  # this start never converts
            ("a", at(20), "visit", "search"),
            ("a", at(21), "signup"),
            ("b", at(0), "visit", "email"),
            ("c", at(0), "visit"),
        ]
    )
    result = funnel(ds, steps="visit,signup", by="channel")
    rows = {(r["value"], r["step"]): r["customers"] for r in result.result["breakdown"]}
    assert rows == {
        ("search", "visit"): 1,
        ("search", "signup"): 1,
        ("email", "visit"): 1,
        ("email", "signup"): 0,
        ("(none)", "visit"): 1,
        ("(none)", "signup"): 0,
    }
    assert result.definition["by"] == "channel"


def test_since_until_filter_the_step1_event() -> None:
    ds = make(
        [
            ("early", at(0), "visit"),
            ("early", at(3), "signup"),
            ("inside", at(5), "visit"),
            ("inside", at(12), "signup"),  # after --until: later steps still count
            ("late", at(20), "visit"),
        ]
    )
    result = funnel(ds, steps="visit,signup", since="2024-01-02", until="2024-01-10")
    assert [r["customers"] for r in result.result["steps"]] == [1, 1]
    assert result.definition["since"] == "2024-01-02T00:00:00"
    assert result.definition["until_exclusive"] == "2024-01-11T00:00:00"  # a bare date includes that day
    assert reach(ds, steps=("visit", "signup"), since=at(1), until=at(10)) == {"inside": 2}


@pytest.mark.parametrize("order", ["ordered", "strict", "any"])
def test_a_run_straddling_since_is_entered_inside_the_range(order: str) -> None:
    # Visits on day 0 and day 2 with nothing between form one strict run; with --since day 1 the customer
    # enters step 1 on day 2 in every mode, so time to convert is 1 day, never 3.
    ds = make([("c", at(0), "visit"), ("c", at(2), "visit"), ("c", at(3), "signup")])
    query = FunnelQuery(("visit", "signup"), timedelta(days=7), order, since=at(1))  # type: ignore[arg-type]
    rows = customer_chains(ds.events, query).select("_reach", "_first").to_pyarrow().to_pylist()
    assert rows == [{"_reach": 2, "_first": at(2)}]
    result = funnel(ds, steps="visit,signup", order=order, since="2024-01-02")
    assert result.result["time_to_convert"][0]["median_days_to_convert"] == 1.0


def test_window_from_defaults_and_other_units() -> None:
    ds = make([("a", at(0), "visit"), ("a", at(hours=30), "signup")])
    assert [r["customers"] for r in funnel(ds, steps="visit,signup", window="1d").result["steps"]] == [1, 0]
    assert [r["customers"] for r in funnel(ds, steps="visit,signup", window="36h").result["steps"]] == [1, 1]
    assert funnel(ds, steps="visit,signup").definition["window"] == "1w"  # JourneyDefaults: 7 days


def test_default_steps_are_the_configured_stages() -> None:
    from tools.context import JourneyDefaults

    ds = make([("a", at(0), "visit"), ("a", at(1), "buy")])
    result = funnel(ds, defaults=JourneyDefaults(stages=("visit", "buy")))
    assert result.definition["steps"] == ["visit", "buy"]


def test_unknown_step_lists_known_events() -> None:
    ds = make([("a", at(0), "visit"), ("a", at(1), "signup")])
    with pytest.raises(ArgumentError, match=r"'demo' does not occur.*events are: .*visit"):
        funnel(ds, steps="visit,demo")


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"steps": "visit"}, "at least two steps"),
        ({"steps": "visit,signup", "window": "soon"}, "not a duration"),
        ({"steps": "visit,signup", "order": "sideways"}, "--order"),
        ({"steps": "visit,signup", "by": "nope"}, "column 'nope'"),
        ({"steps": "visit,signup", "since": "yesterday"}, "not a date"),
        ({"steps": "visit,signup", "since": "2024-02-01", "until": "2024-01-01"}, "not after"),
        ({"steps": "visit,signup,visit", "order": "any"}, "distinct steps"),
    ],
)
def test_bad_arguments_are_explained(kwargs: dict[str, Any], message: str) -> None:
    ds = make([("a", at(0), "visit"), ("a", at(1), "signup")])
    with pytest.raises(ArgumentError, match=message):
        funnel(ds, **kwargs)


def test_segment_breakdown_uses_the_segments_tool(monkeypatch: pytest.MonkeyPatch) -> None:
    import tools.segments

    ds = make([("a", at(0), "visit"), ("a", at(1), "signup"), ("b", at(0), "visit")])

    def with_segments(dataset: Dataset, **_: Any) -> Dataset:
        events = dataset.events.mutate(segment=(dataset.events.customer_id == "a").ifelse("keen", "cool"))
        return Dataset(dataset.con, events, dataset.source)

    monkeypatch.setattr(tools.segments, "with_segments", with_segments, raising=False)
    rows = funnel(ds, steps="visit,signup", by="segment").result["breakdown"]
    assert {(r["value"], r["step"]): r["customers"] for r in rows} == {
        ("keen", "visit"): 1,
        ("keen", "signup"): 1,
        ("cool", "visit"): 1,
        ("cool", "signup"): 0,
    }


def test_empty_date_range_gives_an_empty_funnel_with_a_note() -> None:
    ds = make([("a", at(0), "visit"), ("a", at(1), "signup")])
    result = funnel(ds, steps="visit,signup", since="2025-01-01")
    assert [r["customers"] for r in result.result["steps"]] == [0, 0]
    assert any("empty" in note for note in result.notes)


def test_registry_specs_are_complete() -> None:
    from tools.funnels import SPECS

    names = {spec.name for spec in SPECS}
    assert names == {"funnel", "friction", "time_to_convert"}
    for spec in SPECS:
        assert 4 <= len(spec.examples) <= 8
        for field_name, field in spec.args.model_fields.items():
            assert field.description, f"{spec.name}.{field_name} has no description"


def test_registry_runs_the_funnel_and_reports_unknown_steps() -> None:
    from tools.context import ToolContext
    from tools.registry import invoke

    ds = make([("a", at(0), "visit"), ("a", at(hours=1), "signup"), ("b", at(0), "visit")])
    context = ToolContext.for_dataset(ds)
    result = invoke("funnel", {"steps": ["visit", "signup"], "window": "2d"}, context)
    assert [r["customers"] for r in result.result["steps"]] == [2, 1]
    assert invoke("friction", {"steps": ["visit", "signup"]}, context).result["biggest_friction"] == "visit -> signup"
    ttc = invoke("time_to_convert", {"steps": ["visit", "signup"]}, context)
    assert ttc.result["time_to_convert"][0]["converted"] == 1
    with pytest.raises(ArgumentError, match="events are"):
        invoke("funnel", {"steps": ["visit", "checkout"]}, context)


@pytest.fixture()
def events_file(tmp_path: Any) -> str:
    import pandas as pd

    rows = [
        {"customer_id": c, "timestamp": t.isoformat(), "event": e, "channel": ch}
        for c, t, e, ch in [
            ("a", at(0), "visit", "email"),
            ("a", at(hours=2), "signup", None),
            ("a", at(hours=5), "purchase", None),
            ("b", at(1), "visit", "search"),
            ("b", at(2), "signup", None),
            ("c", at(2), "visit", "email"),
        ]
    ]
    path = tmp_path / "events.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return str(path)


def test_cli_funnel_json_is_one_object(events_file: str) -> None:
    from assistant.cli import app

    args = ["funnel", "--data", events_file, "--steps", "visit,signup,purchase", "--window", "7d", "--format", "json"]
    out = CliRunner().invoke(app, [*args, "--by", "channel"], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    payload = json.loads(out.stdout)
    assert payload["tool"] == "funnel"
    assert [r["customers"] for r in payload["result"]["steps"]] == [3, 2, 1]
    assert payload["definition"]["order"] == "ordered" and payload["definition"]["by"] == "channel"
    assert {"steps", "breakdown", "friction", "time_to_convert"} <= set(payload["result"])


def test_cli_funnel_table_and_errors(events_file: str) -> None:
    from assistant.cli import app

    runner = CliRunner()
    out = runner.invoke(app, ["funnel", "--data", events_file, "--steps", "visit,signup", "--order", "strict"])
    assert out.exit_code == 0 and "signup" in out.stdout
    bad = runner.invoke(app, ["funnel", "--data", events_file, "--steps", "visit,demo"])
    assert bad.exit_code != 0
    assert "'demo' does not occur" in bad.stderr and "visit" in bad.stderr
