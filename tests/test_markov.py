"""Markov removal effects: a chain solved by hand, an independent reference solver, and invariants."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tools.credit import model_credit
from tools.journeys import PathTable
from tools.markov import MarkovChain


def table(rows: dict[tuple[str, ...], tuple[float, float]]) -> PathTable:
    paths = sorted(rows)
    conv = np.array([rows[p][0] for p in paths], dtype=float)
    return PathTable(paths, conv, np.array([rows[p][1] for p in paths], dtype=float), conv * 10.0)


# A 3-channel chain solved by hand.
#
# Journeys: A>B>C converts, A>C does not, B>C converts, C does not  (4 journeys, 2 conversions).
# Transition counts: start->A 2, start->B 1, start->C 1; A->B 1, A->C 1; B->C 2; C->conv 2, C->null 2.
# Probabilities:     start: A 1/2, B 1/4, C 1/4;  A: B 1/2, C 1/2;  B: C 1;  C: conv 1/2, null 1/2.
# Absorption x(s) = P(conversion from s), the solution of (I - Q) x = r:
#     x(C) = 1/2;  x(B) = x(C) = 1/2;  x(A) = 1/2 x(B) + 1/2 x(C) = 1/2;
#     x(start) = 1/2 x(A) + 1/4 x(B) + 1/4 x(C) = 1/2          (= 2 conversions / 4 journeys).
# Remove A (start->A goes to null): x(start) = 1/4 x(B) + 1/4 x(C) = 1/4        -> effect 1 - (1/4)/(1/2) = 1/2.
# Remove B (start->B and A->B go to null): x(A) = 1/2 x(C) = 1/4,
#     x(start) = 1/2 * 1/4 + 1/4 * 1/2 = 1/4                                    -> effect 1/2.
# Remove C: every journey passes through C, x(start) = 0                         -> effect 1.
# Credit = effects normalised to the 2 conversions: A 0.5/2*2 = 0.5, B 0.5, C 1.0.
HAND = {("A", "B", "C"): (1.0, 0.0), ("A", "C"): (0.0, 1.0), ("B", "C"): (1.0, 0.0), ("C",): (0.0, 1.0)}


def test_three_channel_chain_by_hand() -> None:
    t = table(HAND)
    solution = MarkovChain(t.paths, 1, ["A", "B", "C"]).solve(t.conversions, t.non_conversions)
    assert solution.p_conversion == pytest.approx(0.5)
    assert solution.p_without == pytest.approx([0.25, 0.25, 0.0])
    assert solution.removal_effect == pytest.approx([0.5, 0.5, 1.0])
    credit = model_credit(t, "markov", ["A", "B", "C"])
    assert credit.conversions == pytest.approx([0.5, 0.5, 1.0])
    assert credit.revenue == pytest.approx([5.0, 5.0, 10.0])  # total revenue 20, same split
    assert credit.removal_effect is not None


def test_order_two_by_hand() -> None:
    # A>B converts, C>B does not. Order 1 merges both B's: removing A leaves C>B converting half the time.
    # Order 2 tells (A,B) from (C,B): (A,B) always converts, (C,B) never, so C carries no conversion at all.
    t = table({("A", "B"): (1.0, 0.0), ("C", "B"): (0.0, 1.0)})
    first = MarkovChain(t.paths, 1, ["A", "B", "C"]).solve(t.conversions, t.non_conversions)
    # Order 1: x(B) = 1/2, x(start) = 1/2; without A: 1/2 * x(B) = 1/4 -> 1/2; without C: 1/4 -> 1/2.
    assert first.removal_effect == pytest.approx([0.5, 1.0, 0.5])
    second = MarkovChain(t.paths, 2, ["A", "B", "C"]).solve(t.conversions, t.non_conversions)
    assert second.removal_effect == pytest.approx([1.0, 1.0, 0.0])


def reference(rows: dict[tuple[str, ...], tuple[float, float]], order: int, removed: str | None) -> float:
    """An independent solver: dictionaries of K-gram states and the explicit fundamental matrix N = (I - Q)^-1."""
    counts: dict[tuple, dict[tuple, float]] = {}
    for path, (conv, null) in rows.items():
        n = conv + null
        prev: tuple = ("(start)",)
        for i in range(len(path)):
            state = tuple(path[max(0, i - order + 1) : i + 1])
            counts.setdefault(prev, {}).setdefault(state, 0.0)
            counts[prev][state] += n
            prev = state
        counts.setdefault(prev, {})
        counts[prev][("(conversion)",)] = counts[prev].get(("(conversion)",), 0.0) + conv
        counts[prev][("(null)",)] = counts[prev].get(("(null)",), 0.0) + null
    states = sorted(counts, key=repr)
    index = {s: i for i, s in enumerate(states)}
    q = np.zeros((len(states), len(states)))
    r = np.zeros(len(states))
    for s, outs in counts.items():
        total = sum(outs.values())
        for target, c in outs.items():
            if target == ("(conversion)",):
                r[index[s]] += c / total
            elif target != ("(null)",) and not (removed is not None and removed in target):
                q[index[s], index[target]] += c / total
    fundamental = np.linalg.inv(np.eye(len(states)) - q)
    return float((fundamental @ r)[index[("(start)",)]])


path_rows = st.dictionaries(
    st.lists(st.sampled_from("ABCD"), min_size=1, max_size=5).map(tuple),
    st.tuples(st.integers(0, 5), st.integers(0, 5)).filter(lambda x: sum(x) > 0),
    min_size=1,
    max_size=8,
)


@settings(max_examples=60, deadline=None)
@given(path_rows, st.integers(1, 3))
def test_matches_independent_reference(rows: dict[tuple[str, ...], tuple[int, int]], order: int) -> None:
    t = table({p: (float(c), float(n)) for p, (c, n) in rows.items()})
    channels = t.channels()
    solution = MarkovChain(t.paths, order, channels).solve(t.conversions, t.non_conversions)
    assert solution.p_conversion == pytest.approx(reference(t_rows(t), order, None), abs=1e-9)
    for i, c in enumerate(channels):
        assert solution.p_without[i] == pytest.approx(reference(t_rows(t), order, c), abs=1e-9)


def t_rows(t: PathTable) -> dict[tuple[str, ...], tuple[float, float]]:
    return {p: (float(c), float(n)) for p, c, n in zip(t.paths, t.conversions, t.non_conversions, strict=True)}


@settings(max_examples=60, deadline=None)
@given(path_rows, st.integers(1, 4))
def test_invariants(rows: dict[tuple[str, ...], tuple[int, int]], order: int) -> None:
    t = table({p: (float(c), float(n)) for p, (c, n) in rows.items()})
    channels = t.channels()
    credit = model_credit(t, "markov", channels, order=order)
    solution = MarkovChain(t.paths, order, channels).solve(t.conversions, t.non_conversions)
    # P(conversion) of a chain fitted to the journeys equals the observed conversion rate (flow conservation).
    assert solution.p_conversion == pytest.approx(t.conversions.sum() / (t.conversions + t.non_conversions).sum())
    # Credit adds up to the total conversions; removal effects are probabilities.
    assert credit.conversions.sum() == pytest.approx(t.conversions.sum())
    assert np.all((solution.removal_effect >= 0) & (solution.removal_effect <= 1))
    # Deterministic: the same input gives the same numbers, bit for bit.
    again = model_credit(t, "markov", channels, order=order)
    assert np.array_equal(credit.conversions, again.conversions)


def collapse(path: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(k for k, _ in itertools.groupby(path))


@settings(max_examples=60, deadline=None)
@given(path_rows, st.lists(st.integers(1, 3), min_size=5, max_size=5))
def test_order_one_ignores_consecutive_repeats(rows: dict[tuple[str, ...], tuple[int, int]], times: list[int]) -> None:
    """Repeating a channel adds a self-loop; a self-loop only delays the walk, so absorption is unchanged."""
    collapsed: dict[tuple[str, ...], tuple[float, float]] = {}
    repeated: dict[tuple[str, ...], tuple[float, float]] = {}
    for path, (c, n) in rows.items():
        short = collapse(path)
        acc = collapsed.get(short, (0.0, 0.0))
        collapsed[short] = (acc[0] + c, acc[1] + n)
        long = tuple(s for i, s in enumerate(path) for _ in range(times[i % len(times)]))
        acc = repeated.get(long, (0.0, 0.0))
        repeated[long] = (acc[0] + c, acc[1] + n)
    a, b = table(collapsed), table(repeated)
    channels = a.channels()
    effect_a = MarkovChain(a.paths, 1, channels).solve(a.conversions, a.non_conversions).removal_effect
    effect_b = MarkovChain(b.paths, 1, channels).solve(b.conversions, b.non_conversions).removal_effect
    assert effect_a == pytest.approx(effect_b, abs=1e-9)


def test_no_conversions_gives_zero_effects() -> None:
    t = table({("A",): (0.0, 3.0), ("B", "A"): (0.0, 1.0)})
    credit = model_credit(t, "markov", ["A", "B"])
    assert credit.conversions.tolist() == [0.0, 0.0]
    assert credit.p_conversion == 0.0


def test_large_state_space_uses_sparse_solver() -> None:
    rng = np.random.default_rng(3)
    letters = [f"c{i}" for i in range(12)]
    rows: dict[tuple[str, ...], tuple[float, float]] = {}
    for _ in range(3000):
        path = tuple(rng.choice(letters, size=int(rng.integers(1, 6))))
        rows[path] = (float(rng.integers(0, 3)), float(rng.integers(1, 4)))
    t = table(rows)
    chain = MarkovChain(t.paths, 3, t.channels())
    assert chain.n_states > 1500  # above the dense limit
    solution = chain.solve(t.conversions, t.non_conversions)
    assert solution.p_conversion == pytest.approx(t.conversions.sum() / (t.conversions + t.non_conversions).sum())
