"""Aggregates behind ``feedback_summary``: rows per stage/channel/week, and theme rows from the store.

Works on the metadata of stored records (small: one dict per text) and, for themes, on a seeded sample of
their vectors. Kept apart from ``tools.feedback`` so the tool module stays a readable entry point.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np


def _wilson(successes: int, total: int) -> tuple[float, float]:
    from tools.feedback import wilson_interval

    return wilson_interval(successes, total)


def _order(key: str, values: list[str], stages: Sequence[str], counts: dict[str, int]) -> list[str]:
    if key == "stage":
        position = {s: i for i, s in enumerate(stages)}
        return sorted(values, key=lambda v: (position.get(v, len(stages)), v == "unknown", v))
    if key == "week":
        return sorted(values, key=lambda v: (v == "unknown", v))
    return sorted(values, key=lambda v: (-counts[v], v))


def group_rows(
    records: Sequence[tuple[str, dict[str, Any]]],
    key: str | None,
    score_key: str,
    stages: Sequence[str],
) -> list[dict[str, Any]]:
    """One row per value of metadata ``key`` (or one overall row when ``key`` is None).

    Each row: ``{key: value, count, negative_share, ci_low, ci_high, positive_share, mean_sentiment,
    mean_rating}``; a text is negative when its score is <= -0.05.
    """
    scores: dict[str, list[float]] = defaultdict(list)
    ratings: dict[str, list[float]] = defaultdict(list)
    for _, meta in records:
        group = "all" if key is None else str(meta.get(key, "unknown"))
        score = meta.get(score_key, meta.get("sentiment", 0.0))
        scores[group].append(float(score))
        if "rating" in meta:
            ratings[group].append(float(meta["rating"]))
    counts = {g: len(v) for g, v in scores.items()}
    rows = []
    for group in _order(key or "", list(scores), stages, counts):
        values = np.asarray(scores[group])
        negative = int((values <= -0.05).sum())
        low, high = _wilson(negative, len(values))
        rows.append(
            {
                (key or "group"): group,
                "count": len(values),
                "negative_share": negative / len(values),
                "ci_low": low,
                "ci_high": high,
                "positive_share": float((values >= 0.05).mean()),
                "mean_sentiment": float(values.mean()),
                "mean_rating": float(np.mean(ratings[group])) if ratings[group] else None,
            }
        )
    return rows


def theme_rows(
    store: Any,
    records: Sequence[tuple[str, dict[str, Any]]],
    score_key: str,
    k: int | str = "auto",
    seed: int = 7,
    max_texts: int = 4000,
    quote_chars: int = 200,
) -> tuple[list[dict[str, Any]], dict[str, Any], list[str]]:
    """Themes of the given records: (rows, clustering description, notes).

    A seeded sample of at most ``max_texts`` records is clustered; sizes and shares are scaled to all records.
    """
    from tools.themes import MERGE_SIMILARITY, find_themes

    notes: list[str] = []
    ids = [rid for rid, _ in records]
    if len(ids) > max_texts:
        rng = np.random.default_rng(seed)
        ids = sorted(rng.choice(ids, size=max_texts, replace=False).tolist())
        notes.append(f"themes found on a seeded random sample of {max_texts:,} of {len(records):,} texts")
    fetched = store.fetch(ids, embeddings=True)
    if len(fetched) < 4:
        return [], {"method": "not enough texts for themes"}, ["fewer than 4 texts: no themes"]
    texts = [r["document"] for r in fetched]
    vectors = np.vstack([r["vector"] for r in fetched])
    scores = [float(r["metadata"].get(score_key, r["metadata"].get("sentiment", 0.0))) for r in fetched]
    rows, clustering = find_themes(
        texts, vectors, scores, [s <= -0.05 for s in scores], k=k, seed=seed, quote_chars=quote_chars
    )
    scale = len(records) / len(fetched)
    out = []
    for row in rows:
        negative = round(row["negative_share"] * row["size"])
        low, high = _wilson(negative, row["size"])
        stage_counts: dict[str, int] = defaultdict(int)
        for member, rec in zip(clustering.labels, fetched, strict=True):
            if member == row["_cluster"]:
                stage_counts[str(rec["metadata"].get("stage", "unknown"))] += 1
        out.append(
            {
                "theme": row["theme"],
                "label": row["label"],
                "size": row["size"],
                "share": row["share"],
                "estimated_count": round(row["size"] * scale),
                "negative_share": row["negative_share"],
                "ci_low": low,
                "ci_high": high,
                "mean_sentiment": row["mean_sentiment"],
                "main_stage": max(stage_counts, key=lambda s: stage_counts[s]) if stage_counts else None,
                "top_terms": ", ".join(row["top_terms"]),
                "quotes": row["quotes"],
            }
        )
    info = {
        "method": "k-means on unit sentence vectors (cosine); terms by class-based TF-IDF; quotes nearest the centroid",
        "k": clustering.k,
        "k_chosen_by": "given"
        if k != "auto"
        else f"best cosine silhouette over k = 2..10 ({clustering.clusters_before_merge} clusters), then clusters "
        f"whose centres are alike (average-linkage cosine >= {MERGE_SIMILARITY}) merged",
        "silhouette": None if math.isnan(clustering.silhouette) else round(clustering.silhouette, 4),
        "texts_clustered": len(fetched),
        "seed": seed,
    }
    if not math.isnan(clustering.silhouette) and clustering.silhouette < 0.05:
        notes.append(f"themes overlap strongly (silhouette {clustering.silhouette:.2f}): treat them as rough")
    return out, info, notes
