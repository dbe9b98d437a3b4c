"""The pasted-funnel arithmetic: intervals against statsmodels, what-if identities, formatting."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.proportion import proportion_confint

from tools.pasted_math import (
    combined_lift,
    downstream_factor,
    fmt_num,
    fmt_pct,
    fmt_signed,
    leak_lift,
    lift_rate,
    monthly_rate,
    recover_lost,
    relative_lift,
    wilson_interval,
)


@settings(max_examples=200, deadline=None)
@given(trials=st.integers(1, 10_000_000), data=st.data())
def test_wilson_matches_statsmodels(trials: int, data: st.DataObject) -> None:
    successes = data.draw(st.integers(0, trials))
    low, high = proportion_confint(successes, trials, alpha=0.05, method="wilson")
    interval = wilson_interval(successes, trials)
    assert interval is not None
    assert interval == (pytest.approx(low, abs=1e-12), pytest.approx(high, abs=1e-12))


def test_wilson_refuses_non_proportions() -> None:
    assert wilson_interval(5, 0) is None
    assert wilson_interval(12, 10) is None  # more "successes" than trials: the next stage is larger


@settings(max_examples=200, deadline=None)
@given(
    count=st.floats(1, 1e7),
    rate=st.floats(0.001, 0.9),
    improvement=st.floats(0.01, 0.1),
    downstream=st.floats(0.001, 1.0),
)
def test_relative_lift_adds_final_times_improvement(
    count: float, rate: float, improvement: float, downstream: float
) -> None:
    lift = relative_lift(count, rate, improvement, downstream)
    final = count * rate * downstream
    assert not lift.capped
    assert lift.extra_final == pytest.approx(final * improvement)  # the same at every step of a chain


@settings(max_examples=200, deadline=None)
@given(count=st.floats(1, 1e7), rate=st.floats(0.0, 1.0), improvement=st.floats(0.0, 1.0))
def test_recovering_lost_people(count: float, rate: float, improvement: float) -> None:
    lift = recover_lost(count, rate, improvement, 1.0)
    assert lift.extra_next == pytest.approx(count * (1 - rate) * improvement, abs=1e-6)
    assert lift.new_rate <= 1.0 + 1e-12


def test_lift_is_capped_at_everyone() -> None:
    lift = lift_rate(100, 0.8, 1.2, 0.5)
    assert (lift.new_rate, lift.extra_next, lift.extra_final, lift.capped) == (
        1.0,
        pytest.approx(20),
        pytest.approx(10),
        True,
    )
    assert relative_lift(100, 0.5, 0.1, None).extra_final is None  # unknown downstream rate


def test_leak_lift_and_chain_helpers() -> None:
    # 40% abandon cut to 36%: (0.40 − 0.36) / (1 − 0.40) = 6.67% more progress
    assert leak_lift(0.40, 0.36) == pytest.approx(0.04 / 0.6)
    assert leak_lift(1.0, 0.5) is None
    assert downstream_factor([0.25, 0.32, 0.1875, 52 / 150], 1) == pytest.approx(52 / 2500)
    assert downstream_factor([0.5, None], 0) is None
    assert downstream_factor([0.5], 1) == 1.0  # from the final stage
    assert combined_lift([0.3, 0.2125]) == pytest.approx(1.3 * 1.2125 - 1)
    # 12% a year at a constant hazard: 1 − 0.88^(1/12) = 1.0596% a month
    assert monthly_rate(0.12, 12) == pytest.approx(0.010596, abs=1e-6)


@pytest.mark.parametrize(
    ("value", "text"),
    [(10_000, "10,000"), (22.5333, "22.5"), (3.4667, "3.47"), (0.624, "0.62"), (11.05, "11.1"), (204.545, "205"),
     (52.5, "52.5"), (9.8, "9.8"), (0.125, "0.13"), (None, "—"), (float("nan"), "—")],
)  # fmt: skip
def test_fmt_num(value: float | None, text: str) -> None:
    assert fmt_num(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.1875, "18.75%"), (0.25, "25%"), (0.0052, "0.52%"), (0.53125, "53.13%"), (52 / 150, "34.67%"), (None, "—")],
)
def test_fmt_pct(value: float | None, text: str) -> None:
    assert fmt_pct(value) == text


def test_fmt_signed() -> None:
    assert (fmt_signed(22.5333), fmt_signed(-50), fmt_signed(None)) == ("+22.5", "-50", "—")
