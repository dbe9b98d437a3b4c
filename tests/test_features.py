"""Per-customer journey features: hand-computed values on a tiny dataset, scaling invariants."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tools.dataset import from_records
from tools.features import customer_features, feature_slug, fit_scaler, row_nanmedian

STAGES = ("visit", "product_view", "signup", "pricing", "purchase")

# a: visit(email) -> product_view 1h later -> signup +1d -> purchase +1d (50); a page_view in between.
# b: visit(paid search) -> product_view 3 days later; nothing else.
# c: signup BEFORE visit (gap visit->product_view and product_view->signup do not exist), visit via social.
ROWS = [
    ("a", "2024-01-01 10:00", "visit", "email", None),
    ("a", "2024-01-01 11:00", "product_view", None, None),
    ("a", "2024-01-01 12:00", "page_view", None, None),
    ("a", "2024-01-02 11:00", "signup", None, None),
    ("a", "2024-01-03 11:00", "purchase", None, 50.0),
    ("b", "2024-01-02 00:00", "visit", "paid search", None),
    ("b", "2024-01-05 00:00", "product_view", None, None),
    ("c", "2024-01-04 00:00", "signup", None, None),
    ("c", "2024-01-05 00:00", "visit", "social", None),
    ("c", "2024-01-05 06:00", "visit", None, None),
]


@pytest.fixture(scope="module")
def tiny() -> Any:
    frame = pd.DataFrame(ROWS, columns=["customer_id", "timestamp", "event", "channel", "revenue"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"])
    return from_records(frame)


@pytest.fixture(scope="module")
def table(tiny: Any) -> pd.DataFrame:
    features = customer_features(tiny, STAGES, "purchase")
    return pd.DataFrame(features.values.astype(float), columns=features.names, index=features.customer_ids)


def test_customers_sorted_and_counted(table: pd.DataFrame) -> None:
    assert list(table.index) == ["a", "b", "c"]
    assert table["events_total"].tolist() == [5, 2, 3]
    assert table["events_visit"].tolist() == [1, 1, 2]
    assert table["events_page_view"].tolist() == [1, 0, 0]


def test_touches_by_channel(table: pd.DataFrame) -> None:
    assert table["touches_email"].tolist() == [1, 0, 0]
    assert table["touches_paid_search"].tolist() == [0, 1, 0]  # slug of "paid search"
    assert table["touches_social"].tolist() == [0, 0, 1]


def test_stages_reached_skip_absent_stage(tiny: Any, table: pd.DataFrame) -> None:
    assert "reached_pricing" not in table.columns  # pricing never occurs: skipped, noted in the definition
    assert table["reached_signup"].tolist() == [1, 0, 1]
    assert table["stages_reached"].tolist() == [4, 2, 2]
    features = customer_features(tiny, STAGES, "purchase")
    assert features.definition["stages_not_in_data"] == ["pricing"]


def test_time_between_stages(table: pd.DataFrame) -> None:
    assert table.loc["a", "hours_visit_to_product_view"] == pytest.approx(1.0)
    assert table.loc["a", "hours_product_view_to_signup"] == pytest.approx(24.0)
    # pricing is absent, so the next consecutive present stage pair is signup -> purchase
    assert table.loc["a", "hours_signup_to_purchase"] == pytest.approx(24.0)
    assert table.loc["b", "hours_visit_to_product_view"] == pytest.approx(72.0)
    assert math.isnan(table.loc["b", "hours_product_view_to_signup"])
    assert math.isnan(table.loc["c", "hours_visit_to_product_view"])  # never viewed a product


def test_duration_recency_conversion_revenue(table: pd.DataFrame) -> None:
    # data ends 2024-01-05 06:00
    assert table.loc["a", "duration_days"] == pytest.approx(2 + 1 / 24, abs=1e-5)
    assert table.loc["a", "recency_days"] == pytest.approx(1 + 19 / 24, abs=1e-5)
    assert table.loc["b", "recency_days"] == pytest.approx(0.25, abs=1e-5)
    assert table.loc["c", "duration_days"] == pytest.approx(1.25, abs=1e-5)
    assert table["converted"].tolist() == [1, 0, 0]
    assert table["revenue"].tolist() == [50, 0, 0]


def test_blocks_define_behaviour_only(tiny: Any) -> None:
    features = customer_features(tiny, STAGES, "purchase")
    blocks = dict(zip(features.names, features.blocks, strict=True))
    for describing in ("converted", "revenue", "events_purchase", "reached_visit", "touches_email", "recency_days"):
        assert blocks[describing] is None, describing
    assert blocks["hours_visit_to_product_view"] is None
    assert blocks["median_gap_hours"] == "pace" and blocks["stages_reached"] == "depth"
    assert blocks["events_page_view"] == "activity" and blocks["duration_days"] == "duration"
    index, weights = features.cluster_columns()
    activity = [j for j, name in enumerate(features.names) if blocks[name] == "activity"]
    # each block weighs the same: squared weights sum to 1 per block
    assert sum(w**2 for i, w in zip(index, weights, strict=True) if i in activity) == pytest.approx(1.0)
    assert sum(w**2 for w in weights) == pytest.approx(4.0)


def test_median_gap(table: pd.DataFrame) -> None:
    assert table.loc["a", "median_gap_hours"] == pytest.approx(24.0)  # median of 1, 24, 24
    assert table.loc["b", "median_gap_hours"] == pytest.approx(72.0)
    assert math.isnan(table.loc["c", "median_gap_hours"])


def test_stage_first_seconds(tiny: Any) -> None:
    features = customer_features(tiny, STAGES, "purchase")
    assert features.stages == ("visit", "product_view", "signup", "purchase")
    c = features.stage_first_seconds[2]
    assert c[2] < c[0]  # c signed up before the first visit
    assert np.isnan(c[1]) and np.isnan(c[3])


def test_scaler_standardises_and_imputes(tiny: Any) -> None:
    features = customer_features(tiny, STAGES, "purchase")
    scaler = fit_scaler(features)
    scaled = scaler.scale(features.values)
    assert not np.isnan(scaled).any()
    assert np.allclose(scaled.mean(axis=0), 0.0, atol=1e-5)
    varying = features.values.std(axis=0) > 0
    assert np.allclose(scaled[:, varying].std(axis=0), 1.0, atol=1e-4)
    transformed = scaler.transform(features.values)
    j = features.names.index("events_total")
    assert transformed[0, j] == pytest.approx(np.log1p(5.0))


def test_slug() -> None:
    assert feature_slug("Paid Search") == "paid_search"
    assert feature_slug("e-mail/news") == "e_mail_news"
    assert feature_slug("__") == "blank"


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.lists(st.one_of(st.none(), st.floats(0, 1e4, width=32)), min_size=5, max_size=5), min_size=1, max_size=20
    )
)
def test_row_nanmedian_matches_numpy(rows: list[list[float | None]]) -> None:
    values = np.array([[np.nan if v is None else v for v in row] for row in rows], dtype=np.float32)
    expected = np.array([np.median(r[~np.isnan(r)]) if (~np.isnan(r)).any() else np.nan for r in values])
    assert np.allclose(row_nanmedian(values), expected, equal_nan=True, rtol=1e-6)
