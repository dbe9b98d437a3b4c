"""Rule-based attribution over distinct paths: first, last, linear, time-decay and position-based.

Each model is a per-path credit split: ``credit_matrix`` returns a (channels x paths) sparse matrix whose column
``p`` says how one conversion of path ``p`` is split over channels (each column sums to 1). Credit is then one
matrix product with the conversions (or revenue) per path, which also makes bootstrap replicates cheap.

Weights (ARCHITECTURE.md), per touch of a journey of ``n`` touches, repeated channels kept:

* first: the first touch gets 1; last: the last touch gets 1; linear: every touch gets 1/n;
* position-based (U-shaped): 40% first, 40% last, 20% shared by the middle touches; n = 1 -> 100%, n = 2 -> 50/50;
* time-decay: 2^(-age / half_life), age = conversion time - touch time, normalised per journey. It needs the
  touch timestamps, so it is computed in the engine (``tools.journeys``) and only summed here.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy import sparse

from tools.errors import ArgumentError
from tools.journeys import PathTable

Heuristic = Literal["first", "last", "linear", "time-decay", "position"]
HEURISTICS: tuple[Heuristic, ...] = ("first", "last", "linear", "time-decay", "position")

WEIGHT_RULES = {
    "first": "the first touch of the journey gets 100%",
    "last": "the last touch before the conversion gets 100%",
    "linear": "every touch gets 1/n (repeated channels count once per touch)",
    "time-decay": "touch weight 2^(-age/half_life), age = conversion time - touch time, normalised per journey",
    "position": "40% first touch, 40% last touch, 20% shared by the middle touches; 1 touch 100%, 2 touches 50/50",
}


def flatten(paths: list[tuple[str, ...]], channels: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Paths as flat arrays: channel code per touch, path index, position in path, path length.

    States not in ``channels`` (funnel stages) are dropped before positions are counted.
    """
    code = {c: i for i, c in enumerate(channels)}
    kept = [[code[s] for s in p if s in code] for p in paths]
    lengths = np.fromiter((len(p) for p in kept), dtype=np.int64, count=len(kept))
    tokens = np.fromiter((c for p in kept for c in p), dtype=np.int64, count=int(lengths.sum()))
    path_id = np.repeat(np.arange(len(kept)), lengths)
    starts = np.cumsum(lengths) - lengths
    pos = np.arange(tokens.size) - np.repeat(starts, lengths)
    return tokens, path_id, pos, lengths[path_id]


def touch_weights(model: Heuristic, pos: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Per-touch weights of a position rule (``time-decay`` is not one: it needs timestamps)."""
    n = length.astype(float)
    if model == "first":
        return (pos == 0).astype(float)
    if model == "last":
        return (pos == length - 1).astype(float)
    if model == "linear":
        return 1.0 / n
    if model == "position":
        ends = (pos == 0) | (pos == length - 1)
        middle = np.where(length > 2, 0.2 / np.maximum(n - 2, 1), 0.0)
        return np.select([length == 1, length == 2, ends], [1.0, 0.5, 0.4], default=middle)
    raise ArgumentError(f"unknown position rule {model!r}; rules are first, last, linear, position")


def credit_matrix(
    table: PathTable, model: Heuristic, channels: list[str]
) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
    """Per-conversion credit of each path for each channel, for conversions and for revenue.

    Returns:
        ``(C, R)``: ``C @ table.conversions`` is the credited conversions per channel and ``R @ table.conversions``
        the credited revenue (for the rules, ``R`` is ``C`` scaled by each path's revenue per conversion; for
        time-decay both come from the engine's sums).

    Raises:
        ArgumentError: time-decay was asked for a table without touch timestamps (a ``--paths`` file).
    """
    n_paths = len(table.paths)
    shape = (len(channels), n_paths)
    per_conv = np.divide(table.revenue, table.conversions, out=np.zeros(n_paths), where=table.conversions > 0)
    if model == "time-decay":
        td = table.time_decay
        if td is None:
            raise ArgumentError(
                "time-decay needs each touch's time before the conversion, which an aggregated --paths file "
                "does not have; use --data with events, or choose first, last, linear, position, markov or shapley"
            )
        code = {c: i for i, c in enumerate(channels)}
        rows = np.asarray([code[c] for c in td.channel], dtype=np.int64)
        conv = table.conversions[td.path_index]
        scale = np.divide(1.0, conv, out=np.zeros_like(conv), where=conv > 0)
        c_mat = sparse.csr_matrix((td.credit * scale, (rows, td.path_index)), shape=shape)
        r_mat = sparse.csr_matrix((td.revenue * scale, (rows, td.path_index)), shape=shape)
        return c_mat, r_mat
    tokens, path_id, pos, length = flatten(table.paths, channels)
    weights = touch_weights(model, pos, length)
    c_mat = sparse.csr_matrix((weights, (tokens, path_id)), shape=shape)
    r_mat = sparse.csr_matrix((weights * per_conv[path_id], (tokens, path_id)), shape=shape)
    return c_mat, r_mat
