"""Patterns: the vectorised miner against brute force, hand-computed supports and lift, CLI."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from tools.dataset import Dataset, from_records
from tools.errors import ArgumentError
from tools.patterns import WeightedSequences, mine, patterns, redundant

BASE = datetime(2024, 1, 1)


def make(journeys: dict[str, list[str]]) -> Dataset:
    return from_records(
        [
            {"customer_id": c, "timestamp": BASE + timedelta(hours=i), "event": e}
            for c, events in journeys.items()
            for i, e in enumerate(events)
        ]
    )


def brute_force(
    journeys: dict[str, list[str]], conversion: str, max_length: int, max_events: int
) -> tuple[Counter[tuple[str, ...]], Counter[tuple[str, ...]], int, int]:
    """Every ordered subsequence of every customer's collapsed, cut and capped journey, once per customer."""
    counts: Counter[tuple[str, ...]] = Counter()
    conv: Counter[tuple[str, ...]] = Counter()
    converters = 0
    for events in journeys.values():
        collapsed = [e for i, e in enumerate(events) if i == 0 or events[i - 1] != e]
        converted = conversion in collapsed
        if converted:
            collapsed = collapsed[: collapsed.index(conversion)]
            converters += 1
        seq = collapsed[:max_events]
        found = {
            tuple(seq[i] for i in idx)
            for k in range(1, max_length + 1)
            for idx in itertools.combinations(range(len(seq)), k)
        }
        counts.update(found)
        if converted:
            conv.update(found)
    return counts, conv, converters, len(journeys)


def random_journeys(seed: int, customers: int = 300) -> dict[str, list[str]]:
    rng = np.random.default_rng(seed)
    out = {}
    for i in range(customers):
        n = int(rng.integers(1, 14))
        out[f"u{i}"] = list(rng.choice(["a", "b", "c", "d", "e", "buy"], n, p=[0.3, 0.2, 0.2, 0.15, 0.1, 0.05]))
    return out


@pytest.mark.parametrize("seed,max_length,max_events", [(0, 3, 20), (1, 4, 6), (2, 2, 3)])
def test_patterns_equal_brute_force(seed: int, max_length: int, max_events: int) -> None:
    journeys = random_journeys(seed)
    result = patterns(
        make(journeys),
        min_support=0.04,
        max_length=max_length,
        conversion="buy",
        top=100_000,
        max_events=max_events,
        include_redundant=True,
    )
    counts, conv, converters, customers = brute_force(journeys, "buy", max_length, max_events)
    expected = {
        " > ".join(p): (n, conv[p]) for p, n in counts.items() if n >= 0.04 * customers or conv[p] >= 0.04 * converters
    }
    got = {
        r["pattern"]: (r["customers"], round(r["converter_support"] * converters)) for r in result.result["patterns"]
    }
    assert got == expected
    assert result.result["customers"] == customers and result.result["converters"] == converters


def test_miner_on_weighted_sequences_by_hand() -> None:
    # codes: 0=a 1=b 2=c; sequences "a b c" x3 (2 converters), "c a" x1, "b" x2 (1 converter)
    codes = np.array([[0, 1, 2], [2, 0, -1], [1, -1, -1]], dtype=np.int16)
    seqs = WeightedSequences(codes, np.array([3.0, 1.0, 2.0]), np.array([2.0, 0.0, 1.0]), ["a", "b", "c"])
    found = {p: (n, c) for p, n, c in mine(seqs, min_support=0.5, max_length=3)}
    assert found[(0,)] == (4.0, 2.0)
    assert found[(1,)] == (5.0, 3.0)
    assert found[(0, 1)] == (3.0, 2.0)  # 'a > b' only in "a b c"
    assert found[(0, 1, 2)] == (3.0, 2.0)
    assert (2, 0) not in found  # 'c > a': 1 of 6 customers, 0 of 3 converters
    assert redundant((0, 1), found) is False
    assert redundant((0, 1, 2), found) is True  # same counts as 'a > b'


def test_supports_and_lift_by_hand() -> None:
    journeys = {
        "a": ["visit", "pricing", "demo", "buy"],
        "b": ["visit", "pricing", "buy"],
        "c": ["visit", "pricing"],
        "d": ["visit"],
    }
    result = patterns(make(journeys), min_support=0.25, max_length=2, conversion="buy", include_redundant=True)
    rows = {r["pattern"]: r for r in result.result["patterns"]}
    assert result.result["converters"] == 2 and result.result["customers"] == 4
    pricing = rows["pricing"]
    assert pricing["customers"] == 3 and pricing["support"] == 0.75
    assert pricing["converter_support"] == 1.0 and pricing["non_converter_support"] == 0.5
    assert pricing["lift"] == pytest.approx(1.0 / 0.75)
    assert pricing["difference"] == pytest.approx(0.5)
    assert rows["demo"]["lift"] == pytest.approx(0.5 / 0.25)
    assert "buy" not in " ".join(rows)  # the conversion never appears inside a pattern
    assert result.result["patterns"][0]["pattern"] == "demo"  # ranked by lift


def test_redundant_patterns_are_hidden_by_default() -> None:
    journeys = {"a": ["visit", "pricing", "demo"], "b": ["visit", "pricing"], "c": ["visit"]}
    result = patterns(make(journeys), min_support=0.3, conversion="demo")
    names = [r["pattern"] for r in result.result["patterns"]]
    assert "visit > pricing" not in names and "pricing" in names  # every pricing follows a visit
    assert any("omitted" in note for note in result.notes)


def test_ranking_options() -> None:
    journeys = random_journeys(5, customers=120)
    ds = make(journeys)
    for rank_by in ("support", "difference", "lift"):
        rows = patterns(ds, min_support=0.1, conversion="buy", rank_by=rank_by).result["patterns"]  # type: ignore[arg-type]
        values = [r[rank_by] for r in rows]
        assert values == sorted(values, reverse=True)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"min_support": 0}, "--min-support"),
        ({"min_support": 2}, "--min-support"),
        ({"max_length": 9}, "--max-length"),
        ({"conversion": "refund"}, "'refund' does not occur"),
        ({"rank_by": "magic"}, "rank_by"),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    ds = make({"a": ["visit", "buy"]})
    with pytest.raises(ArgumentError, match=message):
        patterns(ds, **{"conversion": "buy", **kwargs})


def test_registry_entry() -> None:
    from tools.patterns import SPECS

    spec = SPECS[0]
    assert spec.name == "patterns" and 4 <= len(spec.examples) <= 8
    assert all(field.description for field in spec.args.model_fields.values())


def test_cli_patterns_json(tmp_path: Path) -> None:
    from assistant.cli import app

    journeys = random_journeys(3, customers=50)
    rows = [
        {"customer_id": c, "timestamp": (BASE + timedelta(hours=i)).isoformat(), "event": e}
        for c, events in journeys.items()
        for i, e in enumerate(events)
    ]
    path = tmp_path / "events.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    args = ["patterns", "--data", str(path), "--conversion", "buy", "--min-support", "0.1", "--max-length", "2"]
    out = CliRunner().invoke(app, [*args, "--format", "json"], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    payload = json.loads(out.stdout)
    assert payload["tool"] == "patterns" and payload["definition"]["max_length"] == 2
    assert payload["result"]["patterns"] and {"pattern", "lift"} <= set(payload["result"]["patterns"][0])
