"""The same loading code and a simple aggregate on PySpark local mode give what DuckDB gives."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tools.dataset import load_events

pytestmark = [pytest.mark.spark, pytest.mark.slow]

ROWS = [
    {
        "customer_id": "001",
        "timestamp": "2024-03-01T10:00:00+02:00",
        "event": "visit",
        "channel": "email",
        "revenue": "",
    },
    {"customer_id": "001", "timestamp": "2024-03-01 11:00:00", "event": "purchase", "channel": "", "revenue": "9.5"},
    {"customer_id": "001", "timestamp": "2024-03-01 11:00:00", "event": "purchase", "channel": "", "revenue": "9.5"},
    {"customer_id": "002", "timestamp": "1709373000", "event": "visit", "channel": "", "revenue": ""},
    {"customer_id": "003", "timestamp": "nonsense", "event": "visit", "channel": "", "revenue": ""},
    {"customer_id": "", "timestamp": "2024-03-02 10:00:00", "event": "visit", "channel": "", "revenue": ""},
]


def _canonical(ds: Any) -> list[tuple]:
    frame = ds.events.select("customer_id", "timestamp", "event", "channel", "revenue").to_pandas()
    frame = frame.astype(object).where(frame.notna(), None)
    return sorted(tuple(row) for row in frame.itertuples(index=False))


def _daily(ds: Any) -> dict:
    t = ds.events
    agg = t.group_by(day=t.timestamp.date()).agg(events=t.count(), customers=t.customer_id.nunique())
    frame = agg.to_pandas()
    return {str(pd.Timestamp(r.day).date()): (int(r.events), int(r.customers)) for r in frame.itertuples()}


def test_csv_loading_and_aggregate_match_duckdb(tmp_path: Path, spark_con: Any) -> None:
    path = tmp_path / "e.csv"
    pd.DataFrame(ROWS).to_csv(path, index=False)
    duck = load_events(path, timezone="Europe/Berlin")
    spark = load_events(path, timezone="Europe/Berlin", con=spark_con)
    assert _canonical(spark) == _canonical(duck)
    assert spark.quality.as_dict() | {"load_seconds": 0} == duck.quality.as_dict() | {"load_seconds": 0}
    assert _daily(spark) == _daily(duck)
    assert spark.summary()["customers"] == duck.summary()["customers"] == 2


def test_jsonl_segment_adapter_on_spark(tmp_path: Path, spark_con: Any) -> None:
    calls = [
        {
            "type": "track",
            "anonymousId": "a1",
            "event": "Viewed",
            "timestamp": "2024-03-01T10:00:00Z",
            "context": {"campaign": {"source": "google", "medium": "cpc", "name": "spring"}},
        },
        {"type": "identify", "anonymousId": "a1", "userId": "u1", "timestamp": "2024-03-01T10:01:00Z"},
        {
            "type": "track",
            "userId": "u1",
            "event": "Order Completed",
            "timestamp": "2024-03-01T11:00:00Z",
            "properties": {"revenue": 20.0},
        },
    ]
    path = tmp_path / "s.jsonl"
    path.write_text("\n".join(json.dumps(c) for c in calls))
    duck = load_events(path)
    spark = load_events(path, con=spark_con)
    assert _canonical(spark) == _canonical(duck)
    assert spark.quality.stitched_anonymous_ids == duck.quality.stitched_anonymous_ids == 1
