"""Markov-chain attribution with exact removal effects (absorbing-chain algebra, no simulation).

States: ``(start)``, one transient state per channel (order 1) or per tuple of the last K states (order K, the
first states of a journey being shorter tuples), and the absorbing ``(conversion)`` and ``(null)``.
Transition probabilities are the observed transition counts over all journeys, normalised per state.

With ``Q`` the transient-to-transient block and ``r`` the one-step probability of converting, the probability
of eventually converting from each transient state solves ``(I - Q) x = r`` (``x = (I - Q)^-1 r``, the
fundamental-matrix identity), and P(conversion) is ``x[start]``. Removing channel ``c`` redirects every
transition into a state that contains ``c`` to ``(null)``: the columns of those states in ``Q`` are zeroed
(their probability mass becomes "lost"), and the system is solved again. Removal effect of ``c`` =
``1 - P(conversion without c) / P(conversion)``. Everything is a linear solve: exact and deterministic.

Self-loops (consecutive repeats at order 1) leave absorption probabilities unchanged: from a state with self-loop
probability ``s`` the walk leaves with the other probabilities scaled by ``1/(1-s)``, which is exactly the chain
without the repeat; so order-1 removal effects do not depend on consecutive repeats.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import splu

_DENSE_LIMIT = 1500  # below this many states a dense solve is fastest


@dataclass(frozen=True)
class MarkovSolution:
    """Absorbing-chain results.

    Attributes:
        p_conversion: P(reaching conversion from start) with every state present.
        p_without: P(conversion) with each removable state (in ``MarkovChain.removable`` order) removed.
        removal_effect: ``1 - p_without / p_conversion`` (0 when nothing converts).
    """

    p_conversion: float
    p_without: np.ndarray
    removal_effect: np.ndarray


class MarkovChain:
    """The chain's structure for a set of distinct paths; solve it for any path weights.

    Building the state space once and re-solving for new weights keeps bootstrap replicates cheap.

    Args:
        paths: distinct paths (tuples of state names).
        order: K >= 1, states are the last K states of the journey.
        removable: the state names whose removal effect is wanted (channels, stages).
    """

    def __init__(self, paths: list[tuple[str, ...]], order: int, removable: list[str]) -> None:
        if order < 1:
            raise ValueError("order must be >= 1")
        self.order = order
        self.removable = list(removable)
        names = sorted({s for p in paths for s in p})
        code = {name: i + 1 for i, name in enumerate(names)}  # 0 pads short histories
        lengths = np.fromiter((len(p) for p in paths), dtype=np.int64, count=len(paths))
        tokens = np.fromiter((code[s] for p in paths for s in p), dtype=np.int64, count=int(lengths.sum()))
        path_id = np.repeat(np.arange(len(paths)), lengths)
        pos = np.arange(tokens.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        base = len(names) + 1
        # A K-gram state: the current state and up to K-1 earlier ones of the same journey.
        gram = np.zeros(tokens.size, dtype=np.int64)
        history = np.zeros((order, tokens.size), dtype=np.int64)
        for lag in range(order):
            shifted = np.zeros(tokens.size, dtype=np.int64)
            if lag:
                shifted[lag:] = tokens[:-lag]
            else:
                shifted[:] = tokens
            shifted[pos < lag] = 0
            history[lag] = shifted
            gram = gram * base + shifted
        unique, state_of_token = np.unique(gram, return_inverse=True)
        self.n_states = unique.size + 1  # state 0 is (start)
        state = state_of_token + 1
        # Which K-gram states contain each removable state name.
        first_of_state = np.zeros(unique.size, dtype=np.int64)
        first_of_state[state_of_token[::-1]] = np.arange(tokens.size)[::-1]
        members = history[:, first_of_state]  # (order, states)
        self.masks = np.zeros((len(self.removable), self.n_states), dtype=bool)
        for i, name in enumerate(self.removable):
            if name in code:
                self.masks[i, 1:] = (members == code[name]).any(axis=0)
        prev = np.where(pos == 0, 0, np.concatenate(([0], state[:-1])))
        # Unique step edges and a sparse (edges x paths) incidence: edge counts = incidence @ journeys per path.
        edge_code = prev * self.n_states + state
        edges, edge_of_token = np.unique(edge_code, return_inverse=True)
        self.edge_from = edges // self.n_states
        self.edge_to = edges % self.n_states
        self.incidence = sparse.csr_matrix(
            (np.ones(tokens.size), (edge_of_token, path_id)), shape=(edges.size, len(paths))
        )
        last = np.cumsum(lengths) - 1
        self.last_state = np.where(lengths > 0, state[np.maximum(last, 0)], 0)

    def solve(self, conversions: np.ndarray, non_conversions: np.ndarray) -> MarkovSolution:
        """Absorption probabilities and removal effects for these journey counts per path."""
        journeys = conversions + non_conversions
        step = self.incidence @ journeys
        to_conv = np.bincount(self.last_state, weights=conversions, minlength=self.n_states)
        out = np.bincount(self.edge_from, weights=step, minlength=self.n_states)
        out += np.bincount(self.last_state, weights=journeys, minlength=self.n_states)
        with np.errstate(invalid="ignore", divide="ignore"):
            inv_out = np.where(out > 0, 1.0 / out, 0.0)
        prob = step * inv_out[self.edge_from]
        r = to_conv * inv_out
        p_conv = self._absorb(prob, r, np.zeros(self.n_states, dtype=bool))
        p_without = np.array([self._absorb(prob, r, mask) for mask in self.masks])
        effect = 1.0 - p_without / p_conv if p_conv > 0 else np.zeros(len(self.masks))
        return MarkovSolution(float(p_conv), p_without, np.clip(effect, 0.0, 1.0))

    def _absorb(self, prob: np.ndarray, r: np.ndarray, removed: np.ndarray) -> float:
        """P(conversion from start) with transitions into ``removed`` states sent to (null)."""
        keep = ~removed[self.edge_to]
        n = self.n_states
        if n <= _DENSE_LIMIT:
            a = np.eye(n)
            np.add.at(a, (self.edge_from[keep], self.edge_to[keep]), -prob[keep])
            return float(np.linalg.solve(a, r)[0])
        q = sparse.csc_matrix((prob[keep], (self.edge_from[keep], self.edge_to[keep])), shape=(n, n))
        a = (sparse.identity(n, format="csc") - q).tocsc()
        return float(splu(a).solve(r)[0])
