"""Shapley-value attribution over distinct channel sets (Zhao et al. 2018; Cano-Berlanga et al. 2017).

Characteristic function: v(S) = conversions (or revenue) of the journeys whose set of distinct channels is a
subset of S. With ``c[T]`` the conversions of journeys whose distinct set is exactly ``T`` (a bitmask),
``v = zeta(c)`` is the subset-sum ("zeta") transform, computed in O(n 2^n) by summing over one bit at a time.
The Shapley value of channel i is

    phi_i = sum over S not containing i of |S|! (n - |S| - 1)! / n!  *  (v(S + i) - v(S)),

evaluated for all S at once over the 2^n bitmasks. The values sum to v(all channels) = total conversions
(efficiency). Exact up to ``EXACT_LIMIT`` channels; above it, a seeded permutation-sampling approximation:
in each random order of the channels, the marginal contribution of i is the conversions of the sets whose
last-arriving member is i.
"""

from __future__ import annotations

from math import factorial

import numpy as np

EXACT_LIMIT = 15


def channel_masks(paths: list[tuple[str, ...]], channels: list[str]) -> np.ndarray:
    """The bitmask of distinct channels of each path (bit i = ``channels[i]``); other states are ignored."""
    bit = {c: 1 << i for i, c in enumerate(channels)}
    return np.fromiter((sum(bit[c] for c in set(p) if c in bit) for p in paths), dtype=np.int64, count=len(paths))


def subset_sums(values_by_mask: np.ndarray, n: int) -> np.ndarray:
    """The zeta transform: ``out[S] = sum of values_by_mask[T] over T subset of S``."""
    v = np.array(values_by_mask, dtype=float)
    for i in range(n):
        view = v.reshape(-1, 2, 1 << i)  # axis 1 is bit i of the mask
        view[:, 1, :] += view[:, 0, :]
    return v


def shapley_exact(masks: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Exact Shapley values of ``n`` players for v(S) = sum of ``values`` of the rows whose mask is within S.

    Args:
        masks: a bitmask per row (path).
        values: the conversions (or revenue) per row.
        n: number of players (channels); at most ``EXACT_LIMIT``.
    """
    if n == 0:
        return np.zeros(0)
    if n > EXACT_LIMIT:
        raise ValueError(f"exact Shapley is limited to {EXACT_LIMIT} channels")
    size = 1 << n
    by_mask = np.bincount(masks, weights=values, minlength=size)
    v = subset_sums(by_mask, n)
    popcount = np.zeros(size, dtype=np.int64)
    for i in range(n):
        popcount += (np.arange(size) >> i) & 1
    weight_of_size = np.array([factorial(s) * factorial(n - s - 1) / factorial(n) for s in range(n)])
    phi = np.empty(n)
    for i in range(n):
        view = v.reshape(-1, 2, 1 << i)
        without = view[:, 0, :].ravel()  # v(S), S without i
        with_i = view[:, 1, :].ravel()  # v(S + i)
        sizes = popcount.reshape(-1, 2, 1 << i)[:, 0, :].ravel()
        phi[i] = float(np.dot(weight_of_size[sizes], with_i - without))
    return phi


def sampled_operator(masks: np.ndarray, n: int, permutations: int, seed: int) -> np.ndarray:
    """The permutation-sampling Shapley estimate as a linear map: (players x rows) credit per unit of value.

    Entry [i, p] is the share of sampled orders in which channel i arrives last among the channels of row p, so
    ``operator @ values`` estimates the Shapley values (unbiased; exact as permutations grow).
    """
    rng = np.random.default_rng(seed)
    members = [[i for i in range(n) if (int(m) >> i) & 1] for m in masks]
    width = max((len(m) for m in members), default=0)
    padded = np.full((len(members), max(width, 1)), -1, dtype=np.int64)
    for row, m in enumerate(members):
        padded[row, : len(m)] = m
    valid = padded >= 0
    out = np.zeros((n, len(members)))
    rows = np.arange(len(members))
    for _ in range(permutations):
        rank = rng.permutation(n)
        arrival = np.where(valid, rank[np.maximum(padded, 0)], -1)
        last = padded[rows, arrival.argmax(axis=1)]
        has = last >= 0
        np.add.at(out, (last[has], rows[has]), 1.0)
    return out / max(permutations, 1)
