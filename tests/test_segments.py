"""Behavioural segments: planted segments recovered on the demo data, naming rules, determinism, CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from assistant.cli import app
from tools.context import ToolContext
from tools.errors import ArgumentError, DataError
from tools.registry import get_tool, invoke
from tools.segment_profiles import decode_path, noun, stage_path_codes, typical_paths
from tools.segments import read_assignments, segment, segments, with_segments

STAGES = ("visit", "product_view", "signup", "pricing", "demo", "purchase")


@pytest.fixture(scope="module")
def demo_segments(demo_dataset: Any) -> Any:
    return segments(demo_dataset, k="auto", seed=7, stages=STAGES, conversion="purchase")


@pytest.fixture(scope="module")
def demo_segmentation(demo_dataset: Any, demo_segments: Any) -> Any:
    return segment(demo_dataset, k="auto", seed=7, stages=STAGES, conversion="purchase")  # cached


@pytest.mark.slow
def test_planted_segments_recovered(demo_dir: Path, demo_segmentation: Any) -> None:
    from sklearn.metrics import adjusted_rand_score

    truth = pq.read_table(demo_dir / "segments_truth.parquet").to_pandas().set_index("customer_id")["segment"]
    planted = truth.loc[demo_segmentation.features.customer_ids.astype(str)].to_numpy()
    ari = adjusted_rand_score(planted, demo_segmentation.labels)
    assert demo_segmentation.k == 3
    assert ari >= 0.6, f"adjusted Rand index {ari:.3f}"


@pytest.mark.slow
def test_segment_rows_and_names(demo_segments: Any) -> None:
    rows = demo_segments.result["segments"]
    assert [r["segment"] for r in rows] == [1, 2, 3]
    assert sum(r["customers"] for r in rows) == demo_segments.result["customers"]
    assert sum(r["share"] for r in rows) == pytest.approx(1.0)
    sizes = [r["customers"] for r in rows]
    assert sizes == sorted(sizes, reverse=True)
    assert len({r["name"] for r in rows}) == 3
    by_noun = {r["name"].split()[-1]: r for r in rows}
    # bouncers (largest planted group) reach one stage; the fast converters convert best and are fast
    assert "bouncers" in by_noun and by_noun["bouncers"]["typical_path"] == "visit"
    best = max(rows, key=lambda r: r["conversion_rate"])
    assert best["name"].endswith("converters") and "fast" in best["name"]
    slow = [r for r in rows if "slow" in r["name"]]
    assert slow and slow[0]["conversion_rate"] < best["conversion_rate"]
    for row in rows:
        assert 0 < len(row["profile"]) <= 4
        assert all(isinstance(v, float) for v in row["profile"].values())
    profiles = demo_segments.result["profiles"]
    assert {p["segment"] for p in profiles} == {1, 2, 3}
    assert demo_segments.definition["k_chosen"] == 3


@pytest.mark.slow
def test_deterministic_for_a_seed(demo_dataset: Any, demo_segments: Any) -> None:
    demo_dataset._cache.clear()
    again = segments(demo_dataset, k="auto", seed=7, stages=STAGES, conversion="purchase")
    assert again.model_dump() == demo_segments.model_dump()


@pytest.mark.slow
def test_assignments_and_with_segments(demo_dataset: Any, demo_segmentation: Any, tmp_path: Path) -> None:
    out = tmp_path / "assign.csv"
    result = segments(demo_dataset, k="auto", seed=7, stages=STAGES, conversion="purchase", assignments=out)
    assert result.definition["assignments"] == str(out)
    table = read_assignments(out).to_pandas()
    assert list(table.columns) == ["customer_id", "segment"]
    assert len(table) == demo_segmentation.features.n
    from_file = with_segments(demo_dataset, assignments=out)
    t = from_file.events
    counts = t.group_by("segment").agg(n=t.customer_id.nunique()).to_pandas().set_index("segment")["n"]
    expected = {str(r["segment"]): r["customers"] for r in result.result["segments"]}
    assert counts.to_dict() == expected
    assert int(t.count().to_pyarrow().as_py()) == int(demo_dataset.events.count().to_pyarrow().as_py())
    computed = with_segments(demo_dataset, k="auto", seed=7, stages=STAGES, conversion="purchase")
    labels = computed.events.segment.nunique().to_pyarrow().as_py()
    assert labels == 3
    first = computed.events.select("segment").limit(1).to_pyarrow()["segment"][0].as_py()
    assert " · " in first


def _tiny_world(n_per_group: int = 40, seed: int = 1) -> Any:
    """Two obvious groups: quick converters via email and one-visit bouncers."""
    from tools.dataset import from_records

    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    start = pd.Timestamp("2024-01-01")
    for i in range(n_per_group):
        t0 = start + pd.Timedelta(hours=int(rng.integers(0, 24 * 20)))
        cid = f"q{i:03d}"
        rows.append({"customer_id": cid, "timestamp": t0, "event": "visit", "channel": "email"})
        for j, stage in enumerate(("product_view", "signup", "purchase"), start=1):
            rows.append(
                {
                    "customer_id": cid,
                    "timestamp": t0 + pd.Timedelta(minutes=20 * j),
                    "event": stage,
                    "channel": None,
                    "revenue": 100.0 if stage == "purchase" else None,
                }
            )
        t1 = start + pd.Timedelta(hours=int(rng.integers(0, 24 * 20)))
        rows.append({"customer_id": f"b{i:03d}", "timestamp": t1, "event": "visit", "channel": "social"})
    return from_records(pd.DataFrame(rows))


def test_two_obvious_groups_are_separated_and_named() -> None:
    ds = _tiny_world()
    result = segments(ds, k="auto", seed=3, stages=("visit", "product_view", "signup", "purchase"))
    rows = result.result["segments"]
    assert [r["customers"] for r in rows] == [40, 40]
    rates = sorted(r["conversion_rate"] for r in rows)
    assert rates == [0.0, 1.0]
    names = {r["conversion_rate"]: r["name"] for r in rows}
    assert names[1.0].endswith("converters") and names[0.0].endswith("bouncers")
    paths = {r["conversion_rate"]: r["typical_path"] for r in rows}
    assert paths[1.0] == "visit > product_view > signup > purchase" and paths[0.0] == "visit"


def test_fixed_k_and_bad_arguments() -> None:
    ds = _tiny_world()
    result = segments(ds, k=2, seed=3, stages=("visit", "product_view", "signup", "purchase"))
    assert result.result["k"] == 2
    assert result.result["k_selection"] == [{"k": 2, "silhouette": 1.0, "chosen": True}]
    with pytest.raises(DataError, match="only 2 distinct behaviour profiles"):
        segments(ds, k=3, seed=3)
    with pytest.raises(ArgumentError, match="between 2 and 8"):
        segments(ds, k=9)
    with pytest.raises(ArgumentError, match="'auto'"):
        segments(ds, k="many")
    with pytest.raises(ArgumentError, match="conversion event 'order'"):
        segments(ds, k="auto", conversion="order")


def test_stage_paths_collapse_and_order() -> None:
    stages = ("visit", "product_view", "signup")
    nan = np.nan
    firsts = np.array([[10.0, 20.0, 30.0], [10.0, nan, 5.0], [nan, nan, nan], [7.0, 7.0, nan]])
    codes = stage_path_codes(firsts)
    assert [decode_path(int(c), stages) for c in codes] == [
        "visit > product_view > signup",
        "signup > visit",
        "(no stage)",
        "visit > product_view",  # same instant: configured order
    ]
    labels = np.array([1, 1, 2, 2])
    paths = typical_paths(codes, labels, 2, stages)
    assert paths[0][1] == 0.5 and paths[1][1] == 0.5


def test_noun_rules() -> None:
    assert noun(0.3, 0.1, 4) == "converters"
    assert noun(0.0, 0.1, 1) == "bouncers"
    assert noun(0.02, 0.1, 3) == "non-converters"
    assert noun(0.1, 0.1, 3) == "browsers"


def test_registry_spec_and_invoke() -> None:
    spec = get_tool("segments")
    assert 4 <= len(spec.examples) <= 8
    for name, field in spec.args.model_fields.items():
        assert field.description, name
    result = invoke("segments", {"k": 2, "seed": 1}, ToolContext.for_dataset(_tiny_world()))
    assert result.tool == "segments" and result.result["k"] == 2
    with pytest.raises(ArgumentError):
        invoke("segments", {"clusters": 2}, ToolContext.for_dataset(_tiny_world()))


def test_cli_json_and_assignments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    ds = _tiny_world()
    frame = ds.events.to_pandas()
    data = tmp_path / "events.parquet"
    frame.to_parquet(data)
    out = tmp_path / "a.csv"
    result = CliRunner().invoke(
        app,
        ["segments", "--data", str(data), "--k", "2", "--seed", "3", "--assignments", str(out), "--format", "json"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["tool"] == "segments" and len(payload["result"]["segments"]) == 2
    assert pd.read_csv(out).shape == (80, 2)
    bad = CliRunner().invoke(app, ["segments", "--data", str(data), "--k", "12"], catch_exceptions=False)
    assert bad.exit_code != 0 and "between 2 and 8" in bad.stderr
