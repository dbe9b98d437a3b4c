"""The same funnel, paths and patterns code on PySpark local mode gives exactly what DuckDB gives."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tools.dataset import Dataset, from_records, load_events
from tools.funnels import funnel
from tools.paths import paths
from tools.patterns import patterns

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    sizes = rng.integers(1, 9, 80)
    owner = np.repeat(np.arange(80), sizes)
    return pd.DataFrame(
        {
            "customer_id": [f"u{i}" for i in owner],
            "timestamp": [datetime(2024, 1, 1) + timedelta(hours=int(h)) for h in rng.integers(0, 300, len(owner))],
            "event": rng.choice(["visit", "signup", "pricing", "purchase", "page_view"], len(owner)),
            "channel": rng.choice(["email", "search", None], len(owner)),
        }
    )


@pytest.fixture()
def spark(request: pytest.FixtureRequest) -> Any:
    try:
        return request.getfixturevalue("spark_con")
    except pytest.FixtureLookupError:
        pytest.skip("no spark_con fixture (PySpark local mode) in this run")


def spark_dataset(frame: pd.DataFrame, con: Any, tmp_path: Path) -> Dataset:
    try:
        return from_records(frame, con=con)
    except NotImplementedError:
        # Older tools.dataset.from_records could not register a pandas frame on Spark; a file always works.
        path = tmp_path / "events.parquet"
        frame.to_parquet(path)
        return load_events(path, con=con)


def test_funnel_paths_and_patterns_match_duckdb(frame: pd.DataFrame, spark: Any, tmp_path: Path) -> None:
    duck = from_records(frame)
    sparked = spark_dataset(frame, spark, tmp_path)
    for order in ("ordered", "strict", "any"):
        kwargs = {"steps": "visit,signup,pricing,purchase", "window": "3d", "order": order, "by": "channel"}
        expected, got = funnel(duck, **kwargs).result, funnel(sparked, **kwargs).result
        assert got["steps"] == expected["steps"], order
        assert got["breakdown"] == expected["breakdown"], order
        assert got["time_to_convert"] == expected["time_to_convert"], order
    kwargs = {"from_event": "signup", "after": "signup", "conversion": "purchase"}
    assert paths(sparked, **kwargs).result == paths(duck, **kwargs).result
    kwargs = {"conversion": "purchase", "min_support": 0.1}
    assert patterns(sparked, **kwargs).result == patterns(duck, **kwargs).result
