"""Funnel chains against independent references: ClickHouse windowFunnel (chdb), brute force, invariants."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tools.dataset import Dataset, from_records
from tools.funnel_engine import FunnelQuery, customer_chains

BASE = datetime(2024, 1, 1)
Events = list[tuple[int, str]]  # (seconds after BASE, event) of one customer


def random_events(seed: int, customers: int = 400, span: int = 40) -> pd.DataFrame:
    """Many ties (whole seconds in a short span), repeats, re-entries and filler events."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 12, customers)
    owner = np.repeat(np.arange(customers), sizes)
    frame = pd.DataFrame(
        {
            "customer_id": [f"u{i}" for i in owner],
            "sec": rng.integers(0, span, len(owner)),
            "event": rng.choice(list("abcdx"), len(owner), p=[0.3, 0.25, 0.2, 0.15, 0.1]),
        }
    )
    return frame.drop_duplicates(ignore_index=True)


def load(frame: pd.DataFrame) -> Dataset:
    stamps = [BASE + timedelta(seconds=int(s)) for s in frame["sec"]]
    return from_records(frame.drop(columns="sec").assign(timestamp=stamps))


def engine_reach(ds: Dataset, steps: tuple[str, ...], window: int, order: str = "ordered") -> dict[str, int]:
    query = FunnelQuery(steps, timedelta(seconds=window), order)  # type: ignore[arg-type]
    rows = customer_chains(ds.events, query).select("customer_id", "_reach").to_pyarrow().to_pylist()
    return {r["customer_id"]: r["_reach"] for r in rows}


def clickhouse_reach(frame: pd.DataFrame, steps: tuple[str, ...], window: int) -> dict[str, int]:
    chdb = pytest.importorskip("chdb")
    conditions = ", ".join(f"event = '{s}'" for s in steps)
    data = frame.sort_values(["customer_id", "sec"], ignore_index=True)  # noqa: F841 - read by chdb's Python()
    out = chdb.query(
        f"SELECT customer_id, windowFunnel({window})(toUInt64(sec), {conditions}) AS level "
        "FROM Python(data) GROUP BY customer_id",
        "DataFrame",
    )
    return {c: int(level) for c, level in zip(out["customer_id"], out["level"], strict=True) if level > 0}


# --- brute-force references, written from the definitions (not from the engine's algorithm) --------------------


def ref_ordered(events: Events, steps: tuple[str, ...], window: int) -> int:
    """Try every chain of distinct events: each step at or after the previous, all within the window."""
    best = 0

    def extend(chain: list[int], k: int) -> None:
        nonlocal best
        best = max(best, k)
        if k == len(steps):
            return
        start, last = events[chain[0]][0], events[chain[-1]][0]
        for i, (t, e) in enumerate(events):
            if i not in chain and e == steps[k] and last <= t <= start + window:
                extend([*chain, i], k + 1)

    for i, (_, e) in enumerate(events):
        if e == steps[0]:
            extend([i], 1)
    return best


def ref_strict(events: Events, steps: tuple[str, ...], window: int) -> int:
    """From any step-1 event, skip repeats of the current event; the next different event must be the next step."""
    rank: dict[str, int] = {}
    for i, name in enumerate(steps):
        rank.setdefault(name, i)
    seq = sorted(events, key=lambda x: (x[0], rank.get(x[1], len(steps)), x[1]))
    best = 0
    for i, (start, e) in enumerate(seq):
        if e != steps[0]:
            continue
        current, level = i, 1
        while level < len(steps):
            nxt = current + 1
            while nxt < len(seq) and seq[nxt][1] == seq[current][1]:
                nxt += 1
            if nxt < len(seq) and seq[nxt][1] == steps[level] and seq[nxt][0] <= start + window:
                current, level = nxt, level + 1
            else:
                break
        best = max(best, level)
    return best


def ref_any(events: Events, steps: tuple[str, ...], window: int) -> int:
    """From any step-1 event, steps 2..k each occur somewhere in [start, start + window]."""
    best = 0
    for start, e in events:
        if e != steps[0]:
            continue
        level = 1
        while level < len(steps) and any(name == steps[level] and start <= t <= start + window for t, name in events):
            level += 1
        best = max(best, level)
    return best


REFERENCES = {"ordered": ref_ordered, "strict": ref_strict, "any": ref_any}


def reference_reach(frame: pd.DataFrame, steps: tuple[str, ...], window: int, order: str) -> dict[str, int]:
    out = {}
    for customer, group in frame.groupby("customer_id"):
        events = list(zip(group["sec"].tolist(), group["event"].tolist(), strict=True))
        level = REFERENCES[order](events, steps, window)
        if level:
            out[str(customer)] = level
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("steps", [("a", "b", "c", "d"), ("b", "a"), ("c", "a", "b", "d", "x")])
def test_ordered_equals_clickhouse_window_funnel(seed: int, steps: tuple[str, ...]) -> None:
    frame = random_events(seed)
    ds = load(frame)
    for window in (0, 3, 10, 100):
        assert engine_reach(ds, steps, window) == clickhouse_reach(frame, steps, window), (seed, steps, window)


@pytest.mark.parametrize("order", ["ordered", "strict", "any"])
def test_engine_equals_brute_force(order: str) -> None:
    frame = random_events(7, customers=250, span=30)
    ds = load(frame)
    step_lists = [("a", "b", "c"), ("d", "a"), ("a", "x", "b", "c")]
    if order != "any":
        step_lists.append(("a", "b", "a", "c"))  # a repeated step name
    for steps in step_lists:
        for window in (0, 4, 12):
            assert engine_reach(ds, steps, window, order) == reference_reach(frame, steps, window, order), (
                order,
                steps,
                window,
            )


customers_strategy = st.lists(
    st.lists(st.tuples(st.integers(0, 20), st.sampled_from("abcx")), min_size=1, max_size=8),
    min_size=1,
    max_size=25,
)


def _frame(population: list[Events]) -> pd.DataFrame:
    rows = [{"customer_id": f"u{i}", "sec": t, "event": e} for i, events in enumerate(population) for t, e in events]
    return pd.DataFrame(rows).drop_duplicates(ignore_index=True)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(population=customers_strategy, window=st.integers(0, 15), extra=st.integers(1, 10))
def test_invariants(population: list[Events], window: int, extra: int) -> None:
    from tools.funnels import compute_funnel

    ds = load(_frame(population))
    steps = ("a", "b", "c")
    if not set(steps) <= set(ds.event_counts()):
        return
    ordered = engine_reach(ds, steps, window)
    strict = engine_reach(ds, steps, window, "strict")
    anyway = engine_reach(ds, steps, window, "any")
    wider = engine_reach(ds, steps, window + extra)
    for customer, level in ordered.items():
        assert strict.get(customer, 0) <= level <= anyway[customer]  # strict <= ordered <= any
        assert level <= wider[customer]  # a wider window never loses a step
    counts = [r["customers"] for r in compute_funnel(ds, steps, f"{max(window, 1)}s", survival=False).steps]
    assert counts == sorted(counts, reverse=True)  # never increases along the funnel


def test_reference_helpers_agree_on_a_hand_case() -> None:
    events: Events = [(0, "a"), (5, "x"), (6, "b"), (20, "a"), (21, "c"), (22, "b")]
    assert ref_ordered(events, ("a", "b", "c"), 10) == 2
    assert ref_strict(events, ("a", "b"), 10) == 1
    assert ref_any(events, ("a", "b", "c"), 10) == 3
