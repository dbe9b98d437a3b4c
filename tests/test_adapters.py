"""The GA4 BigQuery export and Segment-spec adapters, with identity stitching."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tools.dataset import load_events
from tools.errors import DataError


def _ga4_row(
    ts_us: int,
    name: str,
    pseudo: str,
    user_id: str | None = None,
    source: str | None = None,
    medium: str | None = None,
    campaign: str | None = None,
    revenue: float | None = None,
) -> dict:
    return {
        "event_date": "20240301",
        "event_timestamp": ts_us,
        "event_name": name,
        "event_params": [{"key": "page_location", "value": {"string_value": "https://x.test/"}}],
        "user_pseudo_id": pseudo,
        "user_id": user_id,
        "device": {"category": "mobile"},
        "geo": {"country": "France"},
        "traffic_source": {"name": "(direct)", "medium": "(none)", "source": "(direct)"},
        "collected_traffic_source": (
            {"manual_source": source, "manual_medium": medium, "manual_campaign_name": campaign, "gclid": None}
            if source or medium
            else None
        ),
        "ecommerce": {"purchase_revenue": revenue, "transaction_id": "t1" if revenue else None},
    }


GA4_ROWS = [
    _ga4_row(1709280000000000, "session_start", "p1", source="google", medium="cpc", campaign="brand"),
    _ga4_row(1709280060000000, "page_view", "p1"),
    _ga4_row(1709283600000000, "sign_up", "p1", user_id="U1"),  # p1 is now known to be U1
    _ga4_row(1709290000000000, "session_start", "p1", user_id="U1", source="newsletter", medium="email"),
    _ga4_row(1709290100000000, "purchase", "p1", user_id="U1", revenue=49.0),
    _ga4_row(1709280000000000, "session_start", "p2", source="facebook", medium="social"),
]


def _frame(ds) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    return ds.events.to_pandas().sort_values(["customer_id", "timestamp"]).reset_index(drop=True)


def _check_ga4(ds) -> None:  # type: ignore[no-untyped-def]
    frame = _frame(ds)
    assert ds.source_format == "ga4"
    u1 = frame[frame.customer_id == "U1"]
    assert len(u1) == 5  # the anonymous page views before sign-up were stitched into U1
    assert u1.event.tolist() == ["session_start", "page_view", "sign_up", "session_start", "purchase"]
    assert u1.channel.tolist()[0] == "paid_search" and u1.channel.tolist()[3] == "email"
    assert pd.isna(u1.channel.tolist()[1])  # no campaign parameters -> not a touch
    assert u1.campaign.tolist()[0] == "brand"
    assert u1.revenue.tolist()[4] == 49.0
    assert u1.timestamp.tolist()[0] == pd.Timestamp("2024-03-01 08:00:00")
    assert frame[frame.customer_id == "p2"].channel.tolist() == ["organic_social"]
    assert {"device", "country", "first_user_source"} <= set(ds.property_columns)
    assert ds.quality.stitched_anonymous_ids == 1


def test_ga4_jsonl_auto_detected(tmp_path: Path) -> None:
    path = tmp_path / "events_20240301.json"
    path.write_text("\n".join(json.dumps(r) for r in GA4_ROWS))
    _check_ga4(load_events(path))


def test_ga4_parquet_auto_detected(tmp_path: Path) -> None:
    path = tmp_path / "events_20240301.parquet"
    pq.write_table(pa.Table.from_pylist(GA4_ROWS), path)
    _check_ga4(load_events(path))


SEGMENT_CALLS = [
    {
        "type": "page",
        "anonymousId": "a1",
        "timestamp": "2024-03-01T10:00:00.000Z",
        "name": "Home",
        "context": {"campaign": {"source": "google", "medium": "cpc", "name": "spring"}},
    },
    {
        "type": "track",
        "anonymousId": "a1",
        "event": "Product Viewed",
        "timestamp": "2024-03-01T10:05:00Z",
        "properties": {"sku": "x"},
    },
    {
        "type": "identify",
        "anonymousId": "a1",
        "userId": "u42",
        "timestamp": "2024-03-01T10:06:00Z",
        "traits": {"email": "someone@example.com"},
    },
    {
        "type": "track",
        "userId": "u42",
        "event": "Order Completed",
        "timestamp": "2024-03-01T12:00:00+01:00",
        "properties": {"revenue": 99.5},
    },
    {
        "type": "track",
        "anonymousId": "a2",
        "event": "Product Viewed",
        "timestamp": "2024-03-02T09:00:00Z",
        "context": {"campaign": {"source": "newsletter", "medium": "email", "name": "weekly"}},
    },
]


def test_segment_jsonl_with_identify_stitching(tmp_path: Path) -> None:
    path = tmp_path / "segment.jsonl"
    path.write_text("\n".join(json.dumps(c) for c in SEGMENT_CALLS))
    ds = load_events(path)
    assert ds.source_format == "segment"
    frame = _frame(ds)
    u42 = frame[frame.customer_id == "u42"]
    assert u42.event.tolist() == ["page_view", "Product Viewed", "Order Completed"]
    assert u42.channel.tolist()[0] == "paid_search" and u42.campaign.tolist()[0] == "spring"
    assert u42.revenue.tolist()[2] == 99.5
    assert u42.timestamp.tolist()[2] == pd.Timestamp("2024-03-01 11:00:00")  # +01:00 honoured
    assert frame[frame.customer_id == "a2"].channel.tolist() == ["email"]
    assert ds.quality.identity_calls == 1
    assert ds.quality.stitched_anonymous_ids == 1
    assert "identify" not in set(frame.event)


def test_segment_conflicting_identities_are_reported(tmp_path: Path) -> None:
    calls = [
        {"type": "track", "anonymousId": "a1", "event": "Viewed", "timestamp": "2024-03-01T10:00:00Z"},
        {"type": "identify", "anonymousId": "a1", "userId": "u1", "timestamp": "2024-03-01T10:01:00Z"},
        {"type": "track", "anonymousId": "a1", "userId": "u2", "event": "Viewed", "timestamp": "2024-03-01T10:02:00Z"},
    ]
    path = tmp_path / "s.jsonl"
    path.write_text("\n".join(json.dumps(c) for c in calls))
    ds = load_events(path, source_format="segment")
    assert ds.quality.stitch_conflicts == 1
    assert any("several customer ids" in note for note in ds.quality.notes())


@pytest.mark.parametrize("fmt", ["ga4", "segment"])
def test_explicit_adapter_format(tmp_path: Path, fmt: str) -> None:
    rows = GA4_ROWS if fmt == "ga4" else SEGMENT_CALLS
    path = tmp_path / "x.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    assert load_events(path, source_format=fmt).source_format == fmt


@pytest.mark.parametrize(("fmt", "what"), [("ga4", "a GA4 BigQuery export"), ("segment", "Segment calls")])
def test_an_adapter_on_other_data_is_one_clear_error(tmp_path: Path, fmt: str, what: str) -> None:
    path = tmp_path / "events.csv"
    path.write_text("customer_id,timestamp,event\nu1,2024-03-01T10:00:00Z,visit\n")
    with pytest.raises(DataError, match=f"this does not look like {what}: no .*columns found: customer_id"):
        load_events(path, source_format=fmt)
