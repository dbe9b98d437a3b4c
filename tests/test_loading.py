"""Every loader path and validation rule of the canonical event table."""

from __future__ import annotations

import gzip
import json
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from tools.dataset import ColumnMap, load_events
from tools.errors import DataError

ROWS = [
    {"customer_id": "001", "timestamp": "2024-03-01T10:00:00Z", "event": "visit", "channel": "email", "revenue": None},
    {"customer_id": "001", "timestamp": "2024-03-01T11:00:00Z", "event": "purchase", "channel": None, "revenue": 9.5},
    {"customer_id": "002", "timestamp": "2024-03-02T09:30:00Z", "event": "visit", "channel": None, "revenue": None},
]


def _write_csv(path: Path, rows: list[dict], sep: str = ",") -> Path:
    pd.DataFrame(rows).to_csv(path, index=False, sep=sep)
    return path


def _events(ds) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    return ds.events.to_pandas().sort_values(["customer_id", "timestamp"]).reset_index(drop=True)


@pytest.mark.parametrize("name", ["e.csv", "e.tsv"])
def test_csv_and_tsv(tmp_path: Path, name: str) -> None:
    path = _write_csv(tmp_path / name, ROWS, sep="\t" if name.endswith("tsv") else ",")
    ds = load_events(path)
    frame = _events(ds)
    assert list(frame.columns[:6]) == ["customer_id", "timestamp", "event", "channel", "campaign", "revenue"]
    assert frame.customer_id.tolist() == ["001", "001", "002"]  # leading zeros kept
    assert frame.timestamp.iloc[0] == pd.Timestamp("2024-03-01 10:00:00")
    assert frame.revenue.iloc[1] == 9.5
    assert ds.source_format == "csv"
    assert ds.quality.rows_loaded == 3


def test_parquet(tmp_path: Path) -> None:
    frame = pd.DataFrame(ROWS)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"])
    frame.to_parquet(tmp_path / "e.parquet")
    ds = load_events(tmp_path / "e.parquet")
    assert ds.source_format == "parquet"
    assert _events(ds).timestamp.tolist()[0] == pd.Timestamp("2024-03-01 10:00:00")


def test_jsonl_plain_and_gzipped(tmp_path: Path) -> None:
    text = "\n".join(json.dumps(r) for r in ROWS) + "\n"
    (tmp_path / "a.jsonl").write_text(text)
    with gzip.open(tmp_path / "b.jsonl.gz", "wt") as handle:
        handle.write(text)
    assert load_events(tmp_path / "a.jsonl").quality.rows_loaded == 3
    assert load_events(tmp_path / "b.jsonl.gz").quality.rows_loaded == 3


def test_glob_and_folder(tmp_path: Path) -> None:
    folder = tmp_path / "parts"
    folder.mkdir()
    _write_csv(folder / "p1.csv", ROWS[:2])
    _write_csv(folder / "p2.csv", ROWS[2:])
    assert load_events(folder).quality.rows_loaded == 3
    assert load_events(str(folder / "p*.csv")).quality.rows_loaded == 3


def test_mixed_formats_in_folder_is_an_error(tmp_path: Path) -> None:
    _write_csv(tmp_path / "a.csv", ROWS)
    pd.DataFrame(ROWS).to_parquet(tmp_path / "b.parquet")
    with pytest.raises(DataError, match="mixes formats"):
        load_events(tmp_path)


def test_missing_file_glob_and_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_events(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="no files match"):
        load_events(str(tmp_path / "*.csv"))
    with pytest.raises(DataError, match="holds no"):
        load_events(tmp_path)


def test_empty_file_and_header_only(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="empty"):
        load_events(tmp_path / "empty.csv")
    (tmp_path / "header.csv").write_text("customer_id,timestamp,event\n")
    with pytest.raises(DataError, match="no rows"):
        load_events(tmp_path / "header.csv")


def test_missing_required_column_names_it_and_lists_columns(tmp_path: Path) -> None:
    _write_csv(tmp_path / "e.csv", [{"user": "a", "timestamp": "2024-01-01", "event": "x"}])
    with pytest.raises(DataError) as info:
        load_events(tmp_path / "e.csv")
    message = str(info.value)
    assert "'customer_id'" in message and "user, timestamp, event" in message and "--map customer_id=" in message


def test_column_mapping_and_properties_kept(tmp_path: Path) -> None:
    rows = [{"uid": "u1", "ts": "2024-01-01 00:00:00", "action": "visit", "src": "email", "device": "mobile"}]
    _write_csv(tmp_path / "e.csv", rows)
    ds = load_events(
        tmp_path / "e.csv", columns=ColumnMap(customer_id="uid", timestamp="ts", event="action", channel="src")
    )
    frame = _events(ds)
    assert frame.loc[0, "customer_id"] == "u1" and frame.loc[0, "channel"] == "email"
    assert ds.property_columns == ["device"]
    assert "optional column 'campaign' not in the data; treated as empty" in ds.quality.notes()


def test_timestamps_offsets_naive_timezone_and_epochs(tmp_path: Path) -> None:
    rows = [
        {"customer_id": "a", "timestamp": "2024-01-15T10:00:00+02:00", "event": "offset"},
        {"customer_id": "a", "timestamp": "2024-01-15 10:00:00", "event": "naive_winter"},  # EST = UTC-5
        {"customer_id": "a", "timestamp": "2024-07-15 10:00:00", "event": "naive_summer"},  # EDT = UTC-4
        {"customer_id": "a", "timestamp": "1705312800", "event": "epoch_s"},
        {"customer_id": "a", "timestamp": "1705312800250", "event": "epoch_ms"},
        {"customer_id": "a", "timestamp": "1705312800250999", "event": "epoch_us"},
        {"customer_id": "a", "timestamp": "2024-01-15T10:00:00Z", "event": "zulu"},
    ]
    _write_csv(tmp_path / "e.csv", rows)
    ds = load_events(tmp_path / "e.csv", timezone="America/New_York")
    got = dict(zip(*[ds.events.to_pandas()[c] for c in ("event", "timestamp")], strict=True))
    assert got["offset"] == pd.Timestamp("2024-01-15 08:00:00")
    assert got["naive_winter"] == pd.Timestamp("2024-01-15 15:00:00")
    assert got["naive_summer"] == pd.Timestamp("2024-07-15 14:00:00")
    assert got["epoch_s"] == pd.Timestamp("2024-01-15 10:00:00")
    assert got["epoch_ms"] == pd.Timestamp("2024-01-15 10:00:00.250")
    assert got["epoch_us"] == pd.Timestamp("2024-01-15 10:00:00.250")  # kept to the millisecond
    assert got["zulu"] == pd.Timestamp("2024-01-15 10:00:00")


def test_dst_ambiguous_local_time_takes_first_occurrence(tmp_path: Path) -> None:
    # 2024-11-03 01:30 happens twice in New York; the first (EDT, UTC-4) is chosen, like zoneinfo fold=0.
    _write_csv(tmp_path / "e.csv", [{"customer_id": "a", "timestamp": "2024-11-03 01:30:00", "event": "x"}])
    ds = load_events(tmp_path / "e.csv", timezone="America/New_York")
    assert ds.events.to_pandas().timestamp[0] == pd.Timestamp("2024-11-03 05:30:00")


def test_native_epoch_integers_in_parquet(tmp_path: Path) -> None:
    pd.DataFrame({"customer_id": ["a"], "timestamp": [1705312800000], "event": ["x"]}).to_parquet(
        tmp_path / "e.parquet"
    )
    ds = load_events(tmp_path / "e.parquet")
    assert ds.events.to_pandas().timestamp[0] == datetime(2024, 1, 15, 10, 0)


def test_bad_rows_are_counted_reported_and_excluded(tmp_path: Path) -> None:
    rows = [
        {"customer_id": "a", "timestamp": "2024-01-01 10:00:00", "event": "visit", "revenue": "12.5"},
        {"customer_id": "a", "timestamp": "2024-01-01 10:00:00", "event": "visit", "revenue": "12.5"},  # duplicate
        {"customer_id": "", "timestamp": "2024-01-01 10:00:00", "event": "visit", "revenue": None},  # no id
        {"customer_id": "b", "timestamp": "not a time", "event": "visit", "revenue": None},  # unparseable
        {"customer_id": "b", "timestamp": None, "event": "visit", "revenue": None},  # no timestamp
        {"customer_id": "b", "timestamp": "2024-01-02 10:00:00", "event": "", "revenue": None},  # no event
        {"customer_id": "b", "timestamp": "2024-01-03 10:00:00", "event": "buy", "revenue": "lots"},  # bad revenue
    ]
    _write_csv(tmp_path / "e.csv", rows)
    ds = load_events(tmp_path / "e.csv")
    q = ds.quality
    assert (q.rows_read, q.rows_loaded) == (7, 2)
    assert (q.null_customer_id, q.unparseable_timestamp, q.null_timestamp, q.null_event) == (1, 1, 1, 1)
    assert q.duplicate_events == 1
    assert q.unparseable_revenue == 1
    assert (q.unusable_rows, q.rows_excluded, q.as_dict()["rows_excluded"]) == (4, 5, 5)
    notes = " | ".join(q.notes())
    for phrase in ("no customer id", "could not be parsed", "no timestamp", "no event name", "duplicate", "revenue"):
        assert phrase in notes


def test_a_row_with_several_problems_is_excluded_once(tmp_path: Path) -> None:
    rows = [
        {"customer_id": "a", "timestamp": "2024-01-01 10:00:00", "event": "visit"},
        {"customer_id": "", "timestamp": None, "event": ""},  # no id, no timestamp, no event: one row
    ]
    q = load_events(_write_csv(tmp_path / "e.csv", rows)).quality
    assert (q.null_customer_id, q.null_timestamp, q.null_event) == (1, 1, 1)
    assert (q.unusable_rows, q.duplicate_events, q.rows_excluded, q.rows_loaded) == (1, 0, 1, 1)
    assert any("1 rows excluded in all" in note for note in q.notes())


def test_malformed_csv_lines_are_counted_and_excluded(tmp_path: Path) -> None:
    good = [f"u{i},2024-03-01T10:00:00Z,visit" for i in range(3000)]
    lines = ["customer_id,timestamp,event", *good, "ux,2024-03-01T10:00:00Z,visit,extra", "uy,2024-03-01T11:00:00Z"]
    path = tmp_path / "ragged.csv"
    path.write_text("\n".join([*lines, "v1,2024-03-01T12:00:00Z,signup"]) + "\n")
    q = load_events(path).quality
    assert (q.rows_read, q.malformed_lines, q.rows_loaded, q.rows_excluded) == (3003, 2, 3001, 2)
    assert q.malformed_example is not None and q.malformed_example.startswith("line 3002: ")
    assert any(note.startswith("2 malformed CSV line(s) excluded (first: line 3002") for note in q.notes())
    # A short file whose malformed line would confuse the header sniffer still loads by name.
    small = tmp_path / "small.csv"
    small.write_text("customer_id,timestamp,event\nu1,2024-03-01T10:00:00Z,visit\nu3,2024-03-01T10:00:00Z\n")
    assert load_events(small).quality.malformed_lines == 1


def test_all_rows_unusable_is_a_clear_error(tmp_path: Path) -> None:
    _write_csv(tmp_path / "e.csv", [{"customer_id": "a", "timestamp": "garbage", "event": "x"}])
    with pytest.raises(DataError, match="no usable events"):
        load_events(tmp_path / "e.csv")


def test_unknown_source_format(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "e.csv", ROWS)
    with pytest.raises(DataError, match="unknown --source-format 'xml'"):
        load_events(path, source_format="xml")


def test_explicit_format_overrides_extension(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "events.data", ROWS)
    assert load_events(path, source_format="csv").quality.rows_loaded == 3
    with pytest.raises(DataError, match="cannot tell the format"):
        load_events(path)


def test_generic_anonymous_id_stitching(tmp_path: Path) -> None:
    rows = [
        {"customer_id": "", "anonymous_id": "anon1", "timestamp": "2024-01-01 09:00:00", "event": "visit"},
        {"customer_id": "user1", "anonymous_id": "anon1", "timestamp": "2024-01-01 10:00:00", "event": "signup"},
        {"customer_id": "", "anonymous_id": "anon2", "timestamp": "2024-01-01 11:00:00", "event": "visit"},
    ]
    _write_csv(tmp_path / "e.csv", rows)
    ds = load_events(tmp_path / "e.csv")
    frame = _events(ds)
    assert sorted(frame.customer_id.unique()) == ["anon2", "user1"]
    assert ds.quality.stitched_anonymous_ids == 1
    assert "anonymous_id" not in frame.columns
