"""``attribution --model all``: every model side by side, bootstrap 95% intervals, and ranking flips.

Intervals: journeys are resampled with replacement by drawing the journey counts of every (distinct path,
outcome) cell from a multinomial with the observed proportions (the same as resampling the journeys one by one,
but on the small path table, so 200 replicates take well under a second). Each replicate re-runs every model and
the 2.5% and 97.5% percentiles of each channel's share are reported. Time-decay replicates reuse each path's
mean credit per conversion (journeys with the same path differ only in touch ages, which are not resampled).
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np

from tools.credit import MODELS, Credit, MarkovModel, ShapleyModel, channel_rows, model_credit
from tools.heuristics import HEURISTICS, credit_matrix
from tools.journeys import PathTable


def _shares(matrix: np.ndarray) -> np.ndarray:
    """Column-normalise (channels x replicates) credit to shares."""
    total = matrix.sum(axis=0, keepdims=True)
    return np.divide(matrix, total, out=np.zeros_like(matrix), where=total > 0)


def resample(table: PathTable, replicates: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bootstrap journey counts per path: (paths x replicates) conversions, non-conversions and revenue."""
    rng = np.random.default_rng(seed)
    counts = np.concatenate([table.conversions, table.non_conversions])
    total = counts.sum()
    n_paths = len(table.paths)
    draws = rng.multinomial(round(float(total)), counts / total, size=replicates).T.astype(float)
    conv, null = draws[:n_paths], draws[n_paths:]
    per_conv = np.divide(table.revenue, table.conversions, out=np.zeros(n_paths), where=table.conversions > 0)
    return conv, null, conv * per_conv[:, None]


def bootstrap_shares(
    table: PathTable, channels: list[str], models: list[str], order: int, replicates: int, seed: int
) -> dict[str, np.ndarray]:
    """Per model, a (channels x replicates) array of bootstrap shares."""
    conv, null, revenue = resample(table, replicates, seed)
    out: dict[str, np.ndarray] = {}
    for model in models:
        if model in HEURISTICS:
            c_mat, _ = credit_matrix(table, model, channels)  # type: ignore[arg-type]
            out[model] = _shares(np.asarray(c_mat @ conv))
        elif model == "markov":
            markov = MarkovModel(table, order, channels)
            cols = [markov.credit(conv[:, r], null[:, r], revenue[:, r]).conversions for r in range(replicates)]
            out[model] = _shares(np.column_stack(cols))
        else:
            shapley = ShapleyModel(table, channels, seed)
            out[model] = _shares(np.column_stack([shapley.values(conv[:, r]) for r in range(replicates)]))
    return out


def _ranks(share: np.ndarray) -> np.ndarray:
    """Competition ranks (1 = most credit; equal shares share a rank)."""
    rounded = np.round(share, 12)
    return np.array([1 + int((rounded > value).sum()) for value in rounded])


def compare_models(
    table: PathTable, channels: list[str], order: int, replicates: int, seed: int
) -> tuple[dict[str, Any], list[str], dict[str, Any]]:
    """Every applicable model with intervals, a comparison table and the channel pairs whose order flips.

    Returns:
        ``(result, notes, definition)`` fragments for the attribution tool's ``ToolResult``.
    """
    models: list[str] = [m for m in MODELS if m != "time-decay" or table.time_decay is not None]
    notes: list[str] = []
    if "time-decay" not in models:
        notes.append("time-decay was left out: an aggregated --paths file has no touch timestamps")
    credits: dict[str, Credit] = {m: model_credit(table, m, channels, order=order, seed=seed) for m in models}  # type: ignore[arg-type]
    boot = bootstrap_shares(table, channels, models, order, replicates, seed) if replicates > 0 else {}
    by_model: dict[str, list[dict[str, Any]]] = {}
    ranks: dict[str, np.ndarray] = {}
    for model, credit in credits.items():
        rows = channel_rows(credit)
        if model in boot:
            lo, hi = np.percentile(boot[model], [2.5, 97.5], axis=1)
            for row in rows:
                i = channels.index(row["channel"])
                row["share_ci_low"], row["share_ci_high"] = float(lo[i]), float(hi[i])
        by_model[model] = rows
        ranks[model] = _ranks(credit.share)
        notes.extend(credit.notes)
    comparison: list[dict[str, Any]] = []
    for i, channel in enumerate(channels):
        line: dict[str, Any] = {"channel": channel}
        for model in models:
            line[f"{model}_share"] = float(credits[model].share[i])
        channel_ranks = [int(ranks[m][i]) for m in models]
        line["best_rank"], line["worst_rank"] = min(channel_ranks), max(channel_ranks)
        line["rank_flips"] = len(set(channel_ranks)) > 1
        comparison.append(line)
    comparison.sort(key=lambda r: (-float(np.mean([r[f"{m}_share"] for m in models])), r["channel"]))
    flips = []
    for a, b in combinations(channels, 2):
        i, j = channels.index(a), channels.index(b)
        a_ahead = [m for m in models if credits[m].share[i] > credits[m].share[j] + 1e-12]
        b_ahead = [m for m in models if credits[m].share[j] > credits[m].share[i] + 1e-12]
        if a_ahead and b_ahead:
            flips.append(
                {"channel_a": a, "channel_b": b, "a_ahead_in": ", ".join(a_ahead), "b_ahead_in": ", ".join(b_ahead)}
            )
    if flips:
        top = flips[0]
        notes.append(
            f"channel rankings flip between models in {len(flips)} pair(s), e.g. {top['channel_a']} is ahead of "
            f"{top['channel_b']} under {top['a_ahead_in']} but behind under {top['b_ahead_in']}"
        )
    # The same intervals as by_model, flat (one row per channel and model), so they render as one table.
    intervals = [
        {
            "channel": row["channel"],
            "model": model,
            "share": row["share"],
            **{k: row[k] for k in ("share_ci_low", "share_ci_high") if k in row},
        }
        for model, rows in by_model.items()
        for row in rows
    ]
    intervals.sort(key=lambda r: (r["channel"], models.index(r["model"])))
    result = {"comparison": comparison, "intervals": intervals, "by_model": by_model, "ranking_flips": flips}
    definition = {
        "models": models,
        "bootstrap": {
            "replicates": replicates,
            "seed": seed,
            "interval": "95% percentile interval of each channel's share",
            "resampling": "journeys resampled with replacement (multinomial over distinct path x outcome cells)",
        },
    }
    return result, notes, definition
