"""Paths on a hand-computed fixture: transitions, top paths from/to an event, paths after a step; CLI."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tools.dataset import Dataset, from_records
from tools.errors import ArgumentError
from tools.paths import paths

BASE = datetime(2024, 1, 1)
JOURNEYS = {
    # Collapsed: visit > page_view > pricing > demo > purchase
    "a": ["visit", "page_view", "page_view", "pricing", "demo", "purchase"],
    # visit > pricing > page_view
    "b": ["visit", "pricing", "page_view"],
    # visit > pricing
    "c": ["visit", "pricing"],
    # page_view > visit > pricing > demo
    "d": ["page_view", "visit", "pricing", "pricing", "demo"],
}


@pytest.fixture(scope="module")
def journeys() -> Dataset:
    rows = [
        {"customer_id": c, "timestamp": BASE + timedelta(hours=i), "event": e}
        for c, events in JOURNEYS.items()
        for i, e in enumerate(events)
    ]
    return from_records(rows)


def table(rows: list[dict[str, Any]], key: str, value: str = "customers") -> dict[Any, Any]:
    return {r[key]: r[value] for r in rows}


def test_transitions_from_an_event(journeys: Dataset) -> None:
    result = paths(journeys, from_event="pricing", depth=2)
    rows = result.result["transitions"]
    assert table(rows, "to", "transitions") == {"demo": 2, "page_view": 1, "(end)": 1}
    assert table(rows, "to", "share") == {"demo": 0.5, "page_view": 0.25, "(end)": 0.25}
    assert rows[0]["from"] == "pricing" and rows[0]["to"] == "demo"


def test_transitions_to_an_event(journeys: Dataset) -> None:
    rows = paths(journeys, to_event="pricing").result["transitions"]
    assert table(rows, "from", "transitions") == {"visit": 3, "page_view": 1}


def test_all_transitions_collapse_repeats(journeys: Dataset) -> None:
    rows = paths(journeys, top=50).result["transitions"]
    pairs = {(r["from"], r["to"]): r["transitions"] for r in rows}
    assert pairs[("visit", "pricing")] == 3 and pairs[("pricing", "demo")] == 2
    assert ("page_view", "page_view") not in pairs and ("pricing", "pricing") not in pairs
    assert sum(pairs.values()) == 10


def test_paths_from_an_event_are_capped_with_an_ellipsis(journeys: Dataset) -> None:
    result = paths(journeys, from_event="pricing", depth=2)
    assert result.result["customers"] == 4
    assert table(result.result["paths"], "path") == {
        "pricing > demo > …": 1,
        "pricing > page_view": 1,
        "pricing": 1,
        "pricing > demo": 1,
    }


def test_paths_to_an_event_start_with_an_ellipsis(journeys: Dataset) -> None:
    rows = paths(journeys, to_event="pricing", depth=2).result["paths"]
    assert table(rows, "path") == {"visit > pricing": 2, "… > page_view > pricing": 1, "… > visit > pricing": 1}
    assert rows[0]["path"] == "visit > pricing" and rows[0]["share"] == 0.5


def test_top_journeys_from_the_start(journeys: Dataset) -> None:
    rows = paths(journeys, depth=3).result["paths"]
    assert table(rows, "path") == {
        "visit > page_view > pricing > …": 1,
        "visit > pricing > page_view": 1,
        "visit > pricing": 1,
        "page_view > visit > pricing > …": 1,
    }


def test_paths_after_a_step_split_converters_and_drop_offs(journeys: Dataset) -> None:
    result = paths(journeys, after="pricing", depth=3, conversion="purchase")
    assert result.result["customers_after_step"] == 4
    assert result.result["converted_after_step"] == 1
    assert result.result["conversion_after_step"] == 0.25
    rows = {(r["outcome"], r["path"]): r["customers"] for r in result.result["paths_after"]}
    assert rows == {
        ("converted", "demo > purchase"): 1,
        ("dropped_off", "page_view"): 1,
        ("dropped_off", "(end)"): 1,
        ("dropped_off", "demo"): 1,
    }
    assert {r["share_of_outcome"] for r in result.result["paths_after"] if r["outcome"] == "dropped_off"} == {1 / 3}


def test_ties_are_ordered_by_event_name() -> None:
    ds = from_records(
        [
            {"customer_id": "x", "timestamp": BASE, "event": "zeta"},
            {"customer_id": "x", "timestamp": BASE, "event": "alpha"},
        ]
    )
    assert paths(ds).result["paths"][0]["path"] == "alpha > zeta"


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"from_event": "pricing", "to_event": "demo"}, "either --from or --to"),
        ({"from_event": "checkout"}, "'checkout' does not occur"),
        ({"depth": 0}, "--depth"),
        ({"top": 0}, "--top"),
        ({"after": "pricing", "conversion": "refund"}, "'refund' does not occur"),
    ],
)
def test_bad_arguments(journeys: Dataset, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ArgumentError, match=message):
        paths(journeys, **kwargs)


def test_registry_entry() -> None:
    from tools.context import ToolContext
    from tools.paths import SPECS
    from tools.registry import invoke

    spec = SPECS[0]
    assert spec.name == "paths" and 4 <= len(spec.examples) <= 8
    assert all(field.description for field in spec.args.model_fields.values())
    ds = from_records([{"customer_id": "a", "timestamp": BASE, "event": "visit"}])
    with pytest.raises(ArgumentError, match="events are: visit"):
        invoke("paths", {"from_event": "pricing"}, ToolContext.for_dataset(ds))


def test_cli_paths_json(tmp_path: Path) -> None:
    import pandas as pd

    from assistant.cli import app

    rows = [
        {"customer_id": c, "timestamp": (BASE + timedelta(hours=i)).isoformat(), "event": e}
        for c, events in JOURNEYS.items()
        for i, e in enumerate(events)
    ]
    path = tmp_path / "events.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    args = ["paths", "--data", str(path), "--from", "pricing", "--after", "pricing", "--depth", "2"]
    out = CliRunner().invoke(app, [*args, "--format", "json"], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    payload = json.loads(out.stdout)
    assert payload["tool"] == "paths" and payload["definition"]["from"] == "pricing"
    assert {"transitions", "paths", "paths_after"} <= set(payload["result"])
    text = CliRunner().invoke(app, ["paths", "--data", str(path), "--to", "demo"], catch_exceptions=False)
    assert text.exit_code == 0 and "demo" in text.stdout
