"""Journey building in the engine (hand-checked fixtures, DuckDB vs Spark) and the path-export loader."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tools.dataset import from_records
from tools.errors import ArgumentError, DataError
from tools.journeys import PathTable, build_path_table, load_path_table

# customer, timestamp, event, channel, revenue
ROWS = [
    # c1 converts twice. Journey 1: social (day 1), email (day 2) -> purchase day 3.
    ("c1", "2024-01-01 10:00", "visit", "social", None),
    ("c1", "2024-01-02 10:00", "touch", "email", None),
    ("c1", "2024-01-03 10:00", "purchase", None, 100.0),
    # A touch at the very instant of a conversion belongs to the NEXT journey: email (day 3), paid (day 4).
    ("c1", "2024-01-03 10:00", "touch", "email", None),
    ("c1", "2024-01-04 10:00", "touch", "paid", None),
    ("c1", "2024-01-05 10:00", "purchase", None, 50.0),
    # After the last conversion: in no journey.
    ("c1", "2024-01-06 10:00", "touch", "paid", None),
    # c2 never converts: one non-converting journey of all touches (no lookback).
    ("c2", "2024-01-01 10:00", "visit", "social", None),
    ("c2", "2024-01-01 11:00", "touch", "email", None),
    # c3: the paid visit is older than the 30-day lookback; the purchase's own channel is not a touch.
    ("c3", "2023-11-01 10:00", "visit", "paid", None),
    ("c3", "2024-01-01 11:00", "touch", "email", None),
    ("c3", "2024-01-01 12:00", "purchase", "email", 20.0),
    # c4 converts with no touch at all.
    ("c4", "2024-01-01 12:00", "purchase", None, 20.0),
    # c5 repeats a channel: email, email, social -> non-converting, repeats kept.
    ("c5", "2024-01-01 09:00", "touch", "email", None),
    ("c5", "2024-01-01 10:00", "touch", "email", None),
    ("c5", "2024-01-01 11:00", "visit", "social", None),
]


def frame(rows: list[tuple[Any, ...]] = ROWS) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["customer_id", "timestamp", "event", "channel", "revenue"])


def as_dict(table: PathTable) -> dict[tuple[str, ...], tuple[float, float, float]]:
    return {
        p: (float(c), float(n), round(float(r), 9))
        for p, c, n, r in zip(table.paths, table.conversions, table.non_conversions, table.revenue, strict=True)
    }


@pytest.fixture(scope="module")
def dataset() -> Any:
    return from_records(frame())


def test_path_table_by_hand(dataset: Any) -> None:
    table = build_path_table(dataset, "purchase", timedelta(days=30))
    assert as_dict(table) == {
        ("email",): (1.0, 0.0, 20.0),  # c3 (paid visit outside the lookback)
        ("email", "paid"): (1.0, 0.0, 50.0),  # c1 journey 2
        ("social", "email"): (1.0, 1.0, 100.0),  # c1 journey 1 converts; c2 does not
        ("email", "email", "social"): (0.0, 1.0, 0.0),  # c5, repeats kept
    }
    assert table.stats == {
        "conversion_events": 4,
        "conversions_without_touches": 1,  # c4
        "touches_outside_lookback": 1,  # c3's paid visit
        "touches_after_last_conversion": 1,  # c1's last paid touch
        "journeys": 5,
    }
    assert table.channels() == ["email", "paid", "social"]
    assert table.total_conversions == 3


def test_lookback_is_a_parameter(dataset: Any) -> None:
    table = build_path_table(dataset, "purchase", timedelta(days=90))
    assert ("paid", "email") in as_dict(table)  # the old paid visit is now inside the lookback
    assert table.stats["touches_outside_lookback"] == 0


def test_time_decay_credit_computed_in_engine(dataset: Any) -> None:
    table = build_path_table(dataset, "purchase", timedelta(days=30), half_life=timedelta(days=1))
    td = table.time_decay
    assert td is not None
    got = {
        (table.paths[i], c): (round(x, 9), round(r, 6))
        for i, c, x, r in zip(td.path_index, td.channel, td.credit, td.revenue, strict=True)
    }
    # c1 journey 1: ages 2 days and 1 day -> weights 1/4 and 1/2 -> 1/3 and 2/3 of one conversion worth 100.
    assert got[(("social", "email"), "social")] == (round(1 / 3, 9), round(100 / 3, 6))
    assert got[(("social", "email"), "email")] == (round(2 / 3, 9), round(200 / 3, 6))
    # c1 journey 2: email 2 days, paid 1 day before the purchase worth 50.
    assert got[(("email", "paid"), "paid")] == (round(2 / 3, 9), round(100 / 3, 6))
    assert got[(("email",), "email")] == (1.0, 20.0)
    # Non-converting journeys get no credit; every converting journey's weights sum to 1.
    assert sum(td.credit) == pytest.approx(table.total_conversions)


def test_stages_become_states(dataset: Any) -> None:
    table = build_path_table(dataset, "purchase", timedelta(days=30), stages=("visit",))
    paths = as_dict(table)
    # A visit that carries a channel is the touch first, then the stage (kind order at equal times).
    assert ("social", "stage:visit", "email") in paths
    assert table.stages() == ["stage:visit"]
    assert table.channels() == ["email", "paid", "social"]


def test_configurable_conversion_event(dataset: Any) -> None:
    table = build_path_table(dataset, "visit", timedelta(days=30))
    # Visits are now conversions (and no longer touches): c5's two emails precede its visit.
    assert as_dict(table)[("email", "email")] == (1.0, 0.0, 0.0)


def test_unknown_conversion_lists_events(dataset: Any) -> None:
    with pytest.raises(ArgumentError, match="conversion event 'order' does not occur"):
        build_path_table(dataset, "order", timedelta(days=30))


def test_no_touches_is_a_data_error() -> None:
    ds = from_records(frame([("a", "2024-01-01", "visit", None, None), ("a", "2024-01-02", "purchase", None, 5.0)]))
    with pytest.raises(DataError, match="no touches"):
        build_path_table(ds, "purchase", timedelta(days=30))


def test_same_results_run_to_run(dataset: Any) -> None:
    one = build_path_table(dataset, "purchase", timedelta(days=30), half_life=timedelta(days=7))
    two = build_path_table(dataset, "purchase", timedelta(days=30), half_life=timedelta(days=7))
    assert one.to_frame().equals(two.to_frame())
    assert one.time_decay is not None and two.time_decay is not None
    assert np.array_equal(one.time_decay.credit, two.time_decay.credit)


# --- DuckDB and Spark agree ---------------------------------------------------------------------------------


def _on_spark(spark_con: Any, df: pd.DataFrame) -> Any:
    from tools.dataset import load_table

    try:
        return from_records(df, con=spark_con)
    except NotImplementedError:
        # from_records asks Spark for a temporary table, which Ibis' pyspark backend lacks; a view over a
        # memtable is the portable equivalent (reported to the lead as a change to tools/dataset.py).
        import ibis

        raw = spark_con.create_view(ibis.util.gen_name("records"), ibis.memtable(df), overwrite=True)
        return load_table(spark_con, raw)


@pytest.mark.spark
@pytest.mark.slow
def test_identical_path_tables_on_duckdb_and_spark(request: pytest.FixtureRequest) -> None:
    pytest.importorskip("pyspark")
    try:
        spark_con = request.getfixturevalue("spark_con")
    except pytest.FixtureLookupError:
        pytest.skip("no spark_con fixture in conftest")
    df = frame()
    duck = from_records(df)
    spark = _on_spark(spark_con, df)
    # One build exercises everything: conversions, touches, stage states, lookback, time-decay credit.
    a = build_path_table(duck, "purchase", timedelta(days=30), stages=("visit",), half_life=timedelta(days=1))
    b = build_path_table(spark, "purchase", timedelta(days=30), stages=("visit",), half_life=timedelta(days=1))
    pd.testing.assert_frame_equal(a.to_frame(), b.to_frame())
    assert a.stats == b.stats
    assert a.time_decay is not None and b.time_decay is not None
    assert list(a.time_decay.channel) == list(b.time_decay.channel)
    assert np.allclose(a.time_decay.credit, b.time_decay.credit)
    assert np.allclose(a.time_decay.revenue, b.time_decay.revenue)


# --- the aggregated path export -----------------------------------------------------------------------------


def test_path_file_comma_with_value_and_nulls(tmp_path: Path) -> None:
    file = tmp_path / "paths.csv"
    file.write_text(
        "Channel Path,Total Conversions,Total Conversion Value,Total Null\n"
        'email > paid_search,10,"1,000.50",90\n'
        "paid_search,5,200,45\n"
        " email >paid_search ,2,100,0\n"  # the same path again: summed
        ",3,10,0\n"
    )
    table = load_path_table(file)
    assert as_dict(table) == {("email", "paid_search"): (12.0, 90.0, 1100.5), ("paid_search",): (5.0, 45.0, 200.0)}
    assert table.stats["duplicate_path_rows"] == 1
    assert table.stats["empty_paths"] == 1
    assert table.definition["columns_used"]["non_conversions"] == "Total Null"
    assert table.time_decay is None


def test_path_file_tab_and_semicolon(tmp_path: Path) -> None:
    tsv = tmp_path / "paths.tsv"
    tsv.write_text("path\tconversions\trevenue\nsocial>email\t3\t30\nemail\t1\t5\n")
    assert as_dict(load_path_table(tsv)) == {("social", "email"): (3.0, 0.0, 30.0), ("email",): (1.0, 0.0, 5.0)}
    semi = tmp_path / "paths.txt"
    semi.write_text("paths;conversions;conversion_value;non_conversions\nsocial > email;3;1.212,50;7\nemail;1;12,5;0\n")
    assert as_dict(load_path_table(semi)) == {("social", "email"): (3.0, 7.0, 1212.5), ("email",): (1.0, 0.0, 12.5)}


def test_path_file_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_path_table(tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("route,count\na>b,1\n")
    with pytest.raises(DataError, match="has no path column"):
        load_path_table(bad)
    words = tmp_path / "words.csv"
    words.write_text("path,conversions\na>b,many\n")
    with pytest.raises(DataError, match="not a number"):
        load_path_table(words)


def test_stage_states_are_not_counted_as_touches() -> None:
    # Regression: with stages as states, stage events outside the lookback were counted as dropped touches, and a
    # conversion whose journey held only stage states (no channel) was not counted as a conversion without touches.
    rows = [
        *ROWS,
        # c6 converts after a visit (a stage, no channel): no touch, so no channel can be credited.
        ("c6", "2024-01-01 09:00", "visit", None, None),
        ("c6", "2024-01-01 10:00", "purchase", None, 30.0),
    ]
    table = build_path_table(from_records(frame(rows)), "purchase", timedelta(days=30), stages=("visit",))
    assert ("stage:visit",) in as_dict(table)  # kept as a path: stage removal effects need it
    assert table.stats["touches_outside_lookback"] == 1  # c3's paid visit is one touch, not a touch and a stage
    assert table.stats["conversions_without_touches"] == 2  # c4 and c6
    assert table.stats["conversion_events"] == 5


def test_fractional_lookback_is_not_truncated() -> None:
    # Regression: the lookback was cut to whole seconds, so a 1.5 s lookback dropped a touch 1.2 s before.
    rows = [
        ("a", "2024-01-01 00:00:00.300", "touch", "email", None),
        ("a", "2024-01-01 00:00:01.500", "purchase", None, 1.0),
    ]
    table = build_path_table(from_records(frame(rows)), "purchase", timedelta(seconds=1.5))
    assert as_dict(table) == {("email",): (1.0, 0.0, 1.0)}
    assert table.stats["touches_outside_lookback"] == 0
    shorter = build_path_table(from_records(frame(rows)), "purchase", timedelta(seconds=1.1))
    assert shorter.stats["touches_outside_lookback"] == 1
