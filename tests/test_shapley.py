"""Shapley attribution: a hand-solved game, the definition by permutations, the closed form, invariants."""

from __future__ import annotations

import itertools
from math import factorial

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tools.credit import model_credit
from tools.journeys import PathTable
from tools.shapley import EXACT_LIMIT, channel_masks, sampled_operator, shapley_exact, subset_sums


def table(rows: dict[tuple[str, ...], float]) -> PathTable:
    paths = sorted(rows)
    conv = np.array([rows[p] for p in paths], dtype=float)
    return PathTable(paths, conv, np.ones(len(paths)), conv * 2.0)


def test_two_channel_game_by_hand() -> None:
    # Conversions by distinct set: {A}: 6, {B}: 2, {A,B}: 4 (journey B>A>B has set {A,B}).
    # v({}) = 0, v({A}) = 6, v({B}) = 2, v({A,B}) = 12.
    # phi_A = 1/2 (v(A) - v({})) + 1/2 (v(AB) - v(B)) = 1/2 * 6 + 1/2 * 10 = 8;  phi_B = 1/2 * 2 + 1/2 * 6 = 4.
    t = table({("A",): 6, ("B",): 2, ("B", "A", "B"): 4})
    credit = model_credit(t, "shapley", ["A", "B"])
    assert credit.conversions == pytest.approx([8.0, 4.0])
    assert credit.revenue == pytest.approx([16.0, 8.0])
    assert not credit.approximate


def test_subset_sums() -> None:
    values = np.array([1.0, 2.0, 4.0, 8.0])  # masks 0, {0}, {1}, {0,1}
    assert subset_sums(values, 2).tolist() == [1.0, 3.0, 5.0, 15.0]


def by_permutations(rows: dict[frozenset[str], float], players: list[str]) -> dict[str, float]:
    """The definition: average marginal contribution over all orders of the players."""

    def v(s: set[str]) -> float:
        return sum(c for t, c in rows.items() if t <= s)

    out = dict.fromkeys(players, 0.0)
    for order in itertools.permutations(players):
        seen: set[str] = set()
        for p in order:
            out[p] += v(seen | {p}) - v(seen)
            seen.add(p)
    return {p: x / factorial(len(players)) for p, x in out.items()}


path_rows = st.dictionaries(
    st.lists(st.sampled_from("ABCDE"), min_size=1, max_size=6).map(tuple),
    st.integers(0, 9),
    min_size=1,
    max_size=10,
)


@settings(max_examples=60, deadline=None)
@given(path_rows)
def test_matches_definition_and_closed_form(rows: dict[tuple[str, ...], int]) -> None:
    t = table({p: float(c) for p, c in rows.items()})
    channels = t.channels()
    credit = model_credit(t, "shapley", channels)
    sets: dict[frozenset[str], float] = {}
    for p, c in rows.items():
        sets[frozenset(p)] = sets.get(frozenset(p), 0.0) + c
    players = sorted({c for s, n in sets.items() if n > 0 for c in s})
    expected = by_permutations(sets, players) if players else {}
    # This game is a sum of unanimity games: each journey's conversions split equally over its distinct channels.
    closed = dict.fromkeys(channels, 0.0)
    for s, n in sets.items():
        for c in s:
            closed[c] += n / len(s)
    for i, c in enumerate(channels):
        assert credit.conversions[i] == pytest.approx(expected.get(c, 0.0), abs=1e-9)
        assert credit.conversions[i] == pytest.approx(closed[c], abs=1e-9)
    # Efficiency: the values add up to the total conversions.
    assert credit.conversions.sum() == pytest.approx(t.conversions.sum())


def test_exact_limit_and_sampling() -> None:
    n = EXACT_LIMIT + 2
    channels = [f"ch{i:02d}" for i in range(n)]
    rng = np.random.default_rng(5)
    rows: dict[tuple[str, ...], float] = {}
    for _ in range(200):
        path = tuple(rng.choice(channels, size=int(rng.integers(1, 5))))
        rows[path] = rows.get(path, 0.0) + float(rng.integers(1, 4))
    t = table(rows)
    credit = model_credit(t, "shapley", t.channels(), seed=11)
    assert any("approximated" in note for note in credit.notes) and credit.approximate
    # The sampled estimate is efficient too (every set's value goes to exactly one member per order).
    assert credit.conversions.sum() == pytest.approx(t.conversions.sum())
    again = model_credit(t, "shapley", t.channels(), seed=11)
    assert np.array_equal(credit.conversions, again.conversions)  # seeded
    closed = dict.fromkeys(t.channels(), 0.0)
    for p, c in rows.items():
        for ch in set(p):
            closed[ch] += c / len(set(p))
    assert credit.conversions == pytest.approx([closed[c] for c in t.channels()], rel=0.1, abs=1.0)
    with pytest.raises(ValueError, match="limited"):
        shapley_exact(channel_masks(t.paths, t.channels()), t.conversions, n)


def test_sampled_operator_columns_sum_to_one() -> None:
    masks = np.array([0b1, 0b110, 0b111])
    op = sampled_operator(masks, 3, permutations=50, seed=1)
    assert op.sum(axis=0) == pytest.approx([1.0, 1.0, 1.0])
    assert op[0, 0] == 1.0 and op[0, 1] == 0.0  # a singleton set always credits its member
