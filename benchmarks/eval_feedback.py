"""Quality of the feedback pipeline on labelled sets: embeddings, sentiment, themes, search, redaction.

    .venv/bin/python benchmarks/eval_feedback.py [--demo DIR] [--embeddings minilm,wordllama]

* Paraphrase retrieval (tests/data/paraphrase_pairs.csv, 40 pairs written for this project): each query
  ranks the 40 targets by cosine; top-1 accuracy and recall@3.
* Sentiment (tests/data/sentiment_cx*.csv): 3-class accuracy of plain VADER vs the customer-experience
  extension. ``sentiment_cx.csv`` (102) was written alongside the lexicon; ``sentiment_cx_holdout.csv`` (40) was
  written after the first lexicon and then used to extend it; ``sentiment_cx_holdout2.csv`` (40) was written
  last and never used for tuning — the honest figure.
* Demo (tools.demo_data): negative share by stage vs the planted truth, theme purity / ARI against the
  planted topic, and whether paraphrased queries find texts of the right topic.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = ROOT / "tests" / "data"
SENTIMENT_SETS = ("sentiment_cx.csv", "sentiment_cx_holdout.csv", "sentiment_cx_holdout2.csv")
# Paraphrased questions about the demo's planted topics (no template wording).
DEMO_QUERIES = {
    "nobody came to the product walkthrough we had scheduled": "demo_scheduling",
    "the bill was higher than the advertised price": "pricing",
    "the software is sluggish and keeps freezing": "performance",
    "the help desk never solved my problem": "support",
    "I could not figure out how to configure anything": "ease_of_use",
}


def paraphrase_retrieval(kind: str) -> dict[str, float]:
    """Top-1 and recall@3 of the labelled paraphrase pairs, and texts/s of embedding them."""
    from tools.embeddings import embedding_function

    pairs = pd.read_csv(DATA / "paraphrase_pairs.csv")
    ef = embedding_function(kind)
    ef.embed(["warm up"])
    started = time.perf_counter()
    queries = ef.embed(pairs["query"].tolist())
    targets = ef.embed(pairs["target"].tolist())
    seconds = time.perf_counter() - started
    ranks = np.argsort(-(queries @ targets.T), axis=1)
    truth = np.arange(len(pairs))
    return {
        "top1": float((ranks[:, 0] == truth).mean()),
        "recall_at_3": float(np.mean([truth[i] in ranks[i, :3] for i in truth])),
        "texts_per_second": 2 * len(pairs) / seconds,
    }


def sentiment_accuracy() -> list[dict[str, object]]:
    """3-class accuracy of plain and extended VADER on each labelled set."""
    from tools.sentiment import LexiconSentiment, label

    rows = []
    scorers = {"vader": LexiconSentiment(extended=False), "vader-cx": LexiconSentiment(extended=True)}
    for name in SENTIMENT_SETS:
        frame = pd.read_csv(DATA / name)
        row: dict[str, object] = {"set": name, "texts": len(frame)}
        for key, scorer in scorers.items():
            predicted = [label(s) for s in scorer.score(frame["text"].tolist())]
            row[key] = float(np.mean(np.asarray(predicted) == frame["label"].to_numpy()))
        rows.append(row)
    return rows


def purity(labels: np.ndarray, truth: np.ndarray) -> float:
    """Share of texts whose cluster's majority topic is their topic."""
    total = 0
    for cluster in set(labels.tolist()):
        _, counts = np.unique(truth[labels == cluster], return_counts=True)
        total += int(counts.max())
    return total / len(labels)


def demo_quality(demo: Path, kind: str) -> dict[str, object]:
    """Index the demo feedback with ``kind`` and compare the analyses with the planted truth."""
    from sklearn.metrics import adjusted_rand_score

    from tools.feedback import index_feedback, search_feedback, summarize_feedback
    from tools.feedback_store import FeedbackSource, open_store
    from tools.themes import cluster

    truth = pd.read_csv(demo / "feedback_truth.csv").set_index("feedback_id")
    with tempfile.TemporaryDirectory() as store_dir:
        source = FeedbackSource(store=store_dir, embedding=kind)
        started = time.perf_counter()
        indexed = index_feedback(source, str(demo / "feedback.csv"))
        index_seconds = time.perf_counter() - started
        summary = summarize_feedback(source, by="stage", themes=False)
        records = list(open_store(source).iter_records(embeddings=True))
        topics = truth.loc[[r["id"] for r in records], "topic"].to_numpy()
        vectors = np.vstack([r["vector"] for r in records])
        themes = {}
        for k in ("auto", 5, 8):
            clustering = cluster(vectors, k=k)
            themes[str(k)] = {
                "k": clustering.k,
                "purity": round(purity(clustering.labels, topics), 3),
                "ari": round(float(adjusted_rand_score(topics, clustering.labels)), 3),
            }
        hits = {}
        for query, topic in DEMO_QUERIES.items():
            matches = search_feedback(source, query, top=10).result["matches"]
            found = [m["text"] for m in matches]
            ids = {r["document"]: r["id"] for r in records}
            hits[query] = float(np.mean([truth.loc[ids[t], "topic"] == topic for t in found if t in ids]))
    from tools.sentiment import LexiconSentiment, label

    frame = pd.read_csv(demo / "feedback.csv").set_index("feedback_id")
    accuracy = {}
    for extended in (False, True):
        scorer = LexiconSentiment(extended=extended)
        predicted = np.asarray([label(s) for s in scorer.score(frame["text"].tolist())])
        accuracy[scorer.name] = round(float(np.mean(predicted == truth.loc[frame.index, "sentiment"].to_numpy())), 3)
    return {
        "embedding": kind,
        "demo_sentiment_accuracy": accuracy,
        "index_seconds": round(index_seconds, 1),
        "embedding_texts_per_second": indexed.result["embedding_texts_per_second"],
        "negative_share_by_stage": {r["stage"]: round(r["negative_share"], 3) for r in summary.result["by_stage"]},
        "most_negative_stage": summary.result["most_negative_stage"],
        "themes": themes,
        "search_precision_at_10": {q: round(v, 2) for q, v in hits.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demo", type=Path, default=None, help="demo folder (generated when omitted)")
    parser.add_argument("--embeddings", default="minilm,wordllama")
    args = parser.parse_args()
    kinds = [k.strip() for k in args.embeddings.split(",") if k.strip()]

    print("paraphrase retrieval (40 pairs)")
    for kind in [*kinds, "hashing"]:
        r = paraphrase_retrieval(kind)
        print(
            f"  {kind:10s} top-1 {r['top1']:.2f}  recall@3 {r['recall_at_3']:.2f}  {r['texts_per_second']:,.0f} texts/s"
        )
    print("sentiment accuracy (3 classes)")
    for row in sentiment_accuracy():
        print(f"  {row['set']:28s} n={row['texts']:3d}  vader {row['vader']:.3f}  vader-cx {row['vader-cx']:.3f}")
    demo = args.demo
    if demo is None:
        from tools.demo_data import generate

        demo = Path(tempfile.mkdtemp(prefix="demo-"))
        generate(customers=20_000, seed=42, out=demo)
    truth = pd.read_json(demo / "truth.json", typ="series")
    print("demo: planted negative share by stage", truth["realised"]["feedback_negative_share_by_stage"])
    for kind in kinds:
        print(f"demo with {kind}:")
        for key, value in demo_quality(demo, kind).items():
            print(f"  {key}: {value}")


if __name__ == "__main__":
    main()
