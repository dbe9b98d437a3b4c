"""Themes in feedback: clusters of embeddings, described by class-based TF-IDF terms and representative quotes.

* Clustering: k-means (scikit-learn, seeded) on centred, unit-length sentence vectors, with k chosen by the
  cosine silhouette over 2..10 (``k="auto"``) or given. Unit vectors make Euclidean k-means agree with cosine.
  With ``k="auto"``, clusters whose centres are alike (average-linkage cosine similarity of the centres >=
  ``MERGE_SIMILARITY``) are then merged: the silhouette keeps rising as k-means splits paraphrases of one
  complaint ("waited days to confirm the demo", "the demo got rescheduled twice") into separate clusters,
  so the largest theme was not the most common complaint.
* Terms: c-TF-IDF (Grootendorst 2022, as in BERTopic): all texts of a theme form one document; term weight =
  (term frequency in the theme / words in the theme) * log(1 + average words per theme / term frequency overall).
  Redaction placeholders and English stop words are ignored.
* Quotes: the texts nearest to the theme's centroid (already redacted by the store), cut to ``quote_chars``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tools.redact import truncate

_PLACEHOLDER_WORDS = ["email", "url", "iban", "card", "phone", "address"]
MAX_SILHOUETTE_SAMPLE = 2000
# Centres of paraphrase clusters of one demo complaint were 0.59-0.79 alike (MiniLM); other topics <= 0.52.
MERGE_SIMILARITY = 0.6


@dataclass(frozen=True)
class Clustering:
    """The chosen clustering.

    Attributes:
        labels: cluster per text.
        k: number of clusters.
        silhouette: mean cosine silhouette of the chosen k (NaN when it could not be computed).
        silhouettes: silhouette per candidate k (``k="auto"``).
        clusters_before_merge: k-means clusters before similar ones were merged (``k="auto"``), else ``k``.
    """

    labels: np.ndarray
    k: int
    silhouette: float
    silhouettes: dict[int, float]
    clusters_before_merge: int = 0


def merge_similar(vectors: np.ndarray, labels: np.ndarray, similarity: float = MERGE_SIMILARITY) -> np.ndarray:
    """Merge clusters whose centres are alike: average linkage on the centres' cosine distance, cut at
    ``1 - similarity``. Labels come back as 0..m-1, numbered by each group's first cluster."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import pdist

    clusters = np.unique(labels)
    if len(clusters) < 2:
        return labels
    centres = np.vstack([vectors[labels == c].mean(axis=0) for c in clusters])
    centres /= np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-12)
    groups = fcluster(linkage(pdist(centres, "cosine"), method="average"), t=1.0 - similarity, criterion="distance")
    order = {g: i for i, g in enumerate(dict.fromkeys(groups.tolist()))}
    mapping = {int(c): order[int(g)] for c, g in zip(clusters, groups, strict=True)}
    return np.array([mapping[int(label)] for label in labels], dtype=int)


def center(vectors: np.ndarray, components: int = 64, seed: int = 7) -> np.ndarray:
    """Subtract the mean vector, keep the top ``components`` principal directions, and re-normalise.

    Sentence embeddings share a large common direction (anisotropy); removing it spreads the texts out and
    separated the planted demo topics better (ARI 0.36 -> 0.41 at k = 8 on MiniLM vectors). The projection
    keeps most of the variance and makes k-means several times faster.
    """
    shifted = np.asarray(vectors, dtype=np.float64)
    shifted = shifted - shifted.mean(axis=0, keepdims=True)
    if shifted.shape[1] > components and shifted.shape[0] > components:
        from sklearn.decomposition import PCA

        shifted = PCA(n_components=components, random_state=seed).fit_transform(shifted)
    norms = np.linalg.norm(shifted, axis=1, keepdims=True)
    return shifted / np.maximum(norms, 1e-12)


def cluster(
    vectors: np.ndarray, k: int | str = "auto", k_max: int = 10, seed: int = 7, select_sample: int = 1500
) -> Clustering:
    """Cluster unit vectors with k-means (see ``_cluster``), single-threaded.

    Small k-means fits are fastest on one thread: OpenMP workers spin while waiting, and on a busy machine
    that made choosing k 25x slower.
    """
    # threadpoolctl only limits libraries that are already loaded: import scikit-learn's first.
    import sklearn.cluster  # noqa: F401
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return _cluster(vectors, k, k_max, seed, select_sample)


def _cluster(vectors: np.ndarray, k: int | str, k_max: int, seed: int, select_sample: int) -> Clustering:
    """Cluster unit vectors with k-means; ``k="auto"`` picks the k in 2..k_max with the best silhouette.

    Args:
        vectors: one unit-length row per text (centred here, see ``center``).
        k: the number of clusters, or ``"auto"``.
        k_max: the largest k tried by ``"auto"`` (also capped at a tenth of the texts).
        seed: seeds k-means and the samples.
        select_sample: k is chosen on a seeded sample of at most this many texts; the final fit uses all.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    n = len(vectors)
    if n < 4:
        return Clustering(np.zeros(n, dtype=int), 1, float("nan"), {})
    data = center(vectors, seed=seed)

    def fit(points: np.ndarray, n_clusters: int, n_init: int) -> np.ndarray:
        return np.asarray(KMeans(n_clusters=n_clusters, n_init=n_init, random_state=seed).fit_predict(points))

    def score(points: np.ndarray, labels: np.ndarray) -> float:
        if len(set(labels.tolist())) < 2:
            return float("nan")
        size = min(len(points), MAX_SILHOUETTE_SAMPLE)
        return float(silhouette_score(points, labels, metric="cosine", sample_size=size, random_state=seed))

    if k != "auto":
        chosen = max(1, min(int(k), n))
        labels = fit(data, chosen, 4) if chosen > 1 else np.zeros(n, dtype=int)
        return Clustering(labels, chosen, score(data, labels), {}, chosen)
    upper = max(2, min(k_max, n // 10 if n >= 30 else 3))
    rng = np.random.default_rng(seed)
    sample = data[np.sort(rng.choice(n, size=select_sample, replace=False))] if n > select_sample else data
    silhouettes = {c: score(sample, fit(sample, c, 2)) for c in range(2, upper + 1)}
    finite = {c: v for c, v in silhouettes.items() if np.isfinite(v)}
    chosen = max(finite, key=lambda c: finite[c]) if finite else 2
    labels = merge_similar(vectors, fit(data, chosen, 4))
    merged = len(set(labels.tolist()))
    return Clustering(labels, merged, score(data, labels), {c: round(v, 4) for c, v in silhouettes.items()}, chosen)


def ctfidf_terms(texts: Sequence[str], labels: np.ndarray, top: int = 6) -> dict[int, list[str]]:
    """The ``top`` c-TF-IDF words of each cluster.

    Single words only: scikit-learn builds n-grams after removing stop words, so its word pairs join words
    that were never adjacent ("use team" from "easy to use, the whole team").
    """
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

    clusters = sorted(set(labels.tolist()))
    joined = [" ".join(texts[int(i)] for i in np.flatnonzero(labels == c)) for c in clusters]
    vectorizer = CountVectorizer(
        stop_words=[*ENGLISH_STOP_WORDS, *_PLACEHOLDER_WORDS],
        token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z'\-]+\b",
        min_df=1,
    )
    try:
        counts = vectorizer.fit_transform(joined).toarray().astype(float)
    except ValueError:  # only stop words
        return {c: [] for c in clusters}
    terms = vectorizer.get_feature_names_out()
    words_per_class = counts.sum(axis=1, keepdims=True)
    tf = counts / np.maximum(words_per_class, 1.0)
    average_words = float(words_per_class.mean())
    idf = np.log(1.0 + average_words / np.maximum(counts.sum(axis=0), 1.0))
    weights = tf * idf
    out: dict[int, list[str]] = {}
    for row, c in enumerate(clusters):
        out[c] = [str(terms[j]) for j in np.argsort(-weights[row], kind="stable")[:top] if weights[row, j] > 0]
    return out


def representatives(vectors: np.ndarray, labels: np.ndarray, n: int = 3) -> dict[int, list[int]]:
    """Indices of the ``n`` texts nearest each cluster's centroid (distinct texts are the caller's concern)."""
    out: dict[int, list[int]] = {}
    for c in sorted(set(labels.tolist())):
        members = np.flatnonzero(labels == c)
        centroid = vectors[members].mean(axis=0)
        centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
        order = members[np.argsort(-(vectors[members] @ centroid), kind="stable")]
        out[c] = order.tolist()[: max(n * 4, n)]
    return out


def find_themes(
    texts: Sequence[str],
    vectors: np.ndarray,
    sentiments: Sequence[float],
    negative: Sequence[bool],
    k: int | str = "auto",
    seed: int = 7,
    quotes: int = 3,
    quote_chars: int = 200,
    terms: int = 6,
) -> tuple[list[dict[str, Any]], Clustering]:
    """Themes of redacted ``texts`` with their vectors and sentiment, largest first.

    Args:
        texts: redacted texts.
        vectors: unit-length vectors, one row per text.
        sentiments: score per text in [-1, 1].
        negative: whether each text is negative.
        k: number of themes or ``"auto"`` (silhouette).
        seed: seed for k-means and sampling.
        quotes: representative quotes per theme.
        quote_chars: quotes are cut to this many characters.
        terms: top terms per theme.

    Returns:
        Theme rows (theme, label, size, share, negative_share, mean_sentiment, top_terms, quotes) and the
        clustering (labels align with ``texts``).
    """
    clustering = cluster(vectors, k=k, seed=seed)
    labels = clustering.labels
    top_terms = ctfidf_terms(texts, labels, top=terms)
    nearest = representatives(vectors, labels, n=quotes)
    scores = np.asarray(sentiments, dtype=float)
    neg = np.asarray(negative, dtype=bool)
    rows: list[dict[str, Any]] = []
    for c in sorted(set(labels.tolist()), key=lambda c: (-(labels == c).sum(), c)):
        members = labels == c
        chosen: list[str] = []
        for i in nearest[c]:
            candidate = truncate(texts[i], quote_chars)
            if candidate not in chosen:
                chosen.append(candidate)
            if len(chosen) == quotes:
                break
        words = top_terms.get(c, [])
        rows.append(
            {
                "theme": len(rows) + 1,
                "label": " / ".join(words[:3]) or "(no distinctive terms)",
                "size": int(members.sum()),
                "share": float(members.mean()),
                "negative_share": float(neg[members].mean()),
                "mean_sentiment": float(scores[members].mean()),
                "top_terms": words,
                "quotes": chosen,
                "_cluster": int(c),
            }
        )
    return rows, clustering
