"""Time a whole weekly memo (every section, recommendations, summary, Markdown + HTML) over the demo world.

Usage: .venv/bin/python benchmarks/bench_memo.py --customers 1000000 [--threads 2] [--embedding wordllama]

Demo data (~10 events per customer) is generated once under ./bench-data/ and reused. The feedback store is
indexed before the timed memo (indexing is a one-off: a scheduled memo only embeds the week's new feedback),
with ``--embedding`` (``wordllama`` by default: minilm embeds ~400 texts/s on 2 cores, so indexing the ~180k
texts of 1M customers would dominate; it is timed separately here). The memo itself is timed per section, with
the process's peak memory so far (for the sections: after the whole memo). ``--threads`` caps DuckDB's threads
(2 = the target machine).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _common import Timer, bench_data, peak_mb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads (0 = all cores)")
    parser.add_argument("--embedding", default="wordllama", choices=("minilm", "wordllama", "hashing"))
    parser.add_argument("--no-feedback", action="store_true", help="leave the feedback section out")
    args = parser.parse_args()

    from assistant.memo import build_memo, memo_paths, write_memo
    from assistant.reco_ledger import RecommendationLedger
    from tools.context import ToolContext
    from tools.dataset import connect, load_events
    from tools.feedback import ensure_indexed
    from tools.feedback_store import FeedbackSource

    out = bench_data(args.customers, args.seed)
    timer = Timer(f"weekly memo over {args.customers:,} customers (DuckDB threads={args.threads or 'all'})")
    dataset = timer.run(
        "load events (parquet)", lambda: load_events(out / "events.parquet", con=connect("duckdb", args.threads))
    )
    context = ToolContext.for_dataset(dataset)
    if not args.no_feedback:
        source = FeedbackSource(
            store=out / f".chroma-{args.embedding}", path=out / "feedback.csv", embedding=args.embedding
        )
        timer.run(f"index feedback once ({args.embedding}; not part of the memo)", lambda: ensure_indexed(source))
        context.feedback = source
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        memo = build_memo(context, None, ledger=RecommendationLedger(Path(tmp) / "recs.jsonl"))
        for name, seconds in memo.timings:
            if name != "total":
                timer.rows.append((f"  memo: {name}", seconds, peak_mb()))
        timer.run("  memo: render Markdown + HTML", lambda: write_memo(memo, memo_paths(memo.week, None, tmp)))
        total = time.perf_counter() - started
    timer.rows.append(("memo total (sections + recommendations + render)", total, peak_mb()))
    timer.report()
    events = dataset.summary()["events"]
    unavailable = {k: s.reason for k, s in memo.sections.items() if not s.available}
    print(f"events: {events:,}; week {memo.week.label}; sections not available: {unavailable or 'none'}")


if __name__ == "__main__":
    main()
