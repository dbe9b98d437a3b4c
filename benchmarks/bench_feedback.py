"""Benchmark: index feedback texts into Chroma, then query and summarise.

    .venv/bin/python benchmarks/bench_feedback.py --texts 100000 [--embedding minilm|wordllama] [--threads 2]

Demo data with about ``--texts`` feedback rows is generated once (``tools.demo_data.generate``, ~0.18 feedback
texts per customer) and reused from ``./bench-data/``. Steps timed: pure embedding throughput on a sample,
full indexing (load, redaction + sentiment, embedding, Chroma writes), re-indexing the same file (idempotent
skip), query latency (p50/p95 over 50 queries, with and without filters) and the summary with themes.
Peak memory is the process's maximum resident set size.
"""

from __future__ import annotations

import argparse
import math
import resource
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FEEDBACK_PER_CUSTOMER = 0.18
QUERIES = (
    "nobody came to the demo we booked",
    "the bill was higher than advertised",
    "the app is sluggish and freezes",
    "support never answered my ticket",
    "setup was confusing",
)


def cpu_seconds() -> float:
    """User + system CPU time of this process (all threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_mb() -> float:
    """Maximum resident set size of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def demo_feedback(texts: int, seed: int) -> Path:
    """A feedback file with at least ``texts`` rows (generated once under ./bench-data/)."""
    from tools.demo_data import generate

    customers = math.ceil(texts / FEEDBACK_PER_CUSTOMER)
    out = ROOT / "bench-data" / f"feedback-{customers}-{seed}"
    target = out / "feedback.csv"
    if not target.exists():
        generate(customers=customers, seed=seed, out=out)
    frame = pd.read_csv(target)
    if len(frame) > texts:
        trimmed = out / f"feedback-{texts}.csv"
        if not trimmed.exists():
            frame.iloc[:texts].to_csv(trimmed, index=False)
        return trimmed
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=100_000, help="feedback texts to index")
    parser.add_argument("--embedding", default="minilm", choices=("minilm", "wordllama", "hashing"))
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime threads for minilm (0 = all cores)")
    parser.add_argument("--sample", type=int, default=2000, help="texts for the pure embedding throughput")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    from tools.embeddings import embedding_function
    from tools.feedback import index_feedback, search_feedback, summarize_feedback
    from tools.feedback_store import FeedbackSource

    rows: list[tuple[str, str]] = []
    started = time.perf_counter()
    path = demo_feedback(args.texts, args.seed)
    n = len(pd.read_csv(path))
    rows.append(("data", f"{n:,} texts in {time.perf_counter() - started:.1f}s ({path.name})"))

    options = {"threads": args.threads} if args.embedding == "minilm" else {}
    ef = embedding_function(args.embedding, **options)
    texts = pd.read_csv(path, usecols=["text"])["text"].sample(min(args.sample, n), random_state=1).tolist()
    ef.embed(texts[:32])  # load the model
    cpu_before = cpu_seconds()
    started = time.perf_counter()
    ef.embed(texts)
    wall = time.perf_counter() - started
    cpu = cpu_seconds() - cpu_before
    rows.append(("embedding only", f"{len(texts) / wall:,.0f} texts/s wall ({len(texts):,} texts)"))
    # On a shared machine wall time understates the speed; CPU time per text bounds what 2 free cores give.
    rows.append(
        (
            "  cpu per 1000 texts",
            f"{1000 * cpu / len(texts):.2f}s, ~{2 * len(texts) / cpu:,.0f} texts/s on 2 free cores",
        )
    )

    store = ROOT / "bench-data" / f"store-{args.embedding}-{n}"
    shutil.rmtree(store, ignore_errors=True)
    source = FeedbackSource(store=store, embedding=args.embedding, embedding_options=options)
    started = time.perf_counter()
    indexed = index_feedback(source, str(path), batch_size=512)
    seconds = time.perf_counter() - started
    steps = ", ".join(f"{k} {v:.1f}s" for k, v in indexed.result["seconds_by_step"].items())
    rows.append(("index", f"{seconds:.1f}s = {n / seconds:,.0f} texts/s end to end ({steps})"))
    rows.append(("  embedding in index", f"{indexed.result['embedding_texts_per_second']:,.0f} texts/s"))
    started = time.perf_counter()
    again = index_feedback(source, str(path))
    rows.append(("re-index (all skipped)", f"{time.perf_counter() - started:.1f}s, {again.result['indexed']} new"))

    for label, filters in (("query", {}), ("query stage+sentiment", {"stage": "demo", "sentiment": "negative"})):
        latencies = []
        for i in range(50):
            tick = time.perf_counter()
            search_feedback(source, QUERIES[i % len(QUERIES)], top=10, **filters)
            latencies.append(time.perf_counter() - tick)
        ms = np.asarray(latencies) * 1000
        rows.append((label, f"p50 {np.percentile(ms, 50):.0f} ms, p95 {np.percentile(ms, 95):.0f} ms (top 10)"))

    started = time.perf_counter()
    summary = summarize_feedback(source, by="stage", themes=False)
    rows.append(
        (
            "summary by stage",
            f"{time.perf_counter() - started:.1f}s (most negative: {summary.result['most_negative_stage']})",
        )
    )
    started = time.perf_counter()
    themed = summarize_feedback(source, by="theme")
    rows.append(("themes", f"{time.perf_counter() - started:.1f}s, k={themed.definition['themes']['k']}"))
    rows.append(("peak memory", f"{peak_mb():,.0f} MB"))

    width = max(len(name) for name, _ in rows)
    print(f"bench_feedback: embedding={args.embedding} texts={n:,}")
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")


if __name__ == "__main__":
    main()
