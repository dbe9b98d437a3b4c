"""Time and peak memory of funnel, paths and patterns on the demo world (1M customers is ~10M events).

Usage: .venv/bin/python benchmarks/bench_funnels.py --customers 1000000 [--threads 2]

Also times ClickHouse ``windowFunnel`` (embedded chdb) on the same Parquet file and a pure-Python PrefixSpan
on a sample of customers (extrapolated linearly) for comparison. Peak memory is the process's, so the
ordering of the steps matters: the engine work comes first.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from _common import Timer, bench_data

STAGES = ("visit", "product_view", "signup", "pricing", "demo", "purchase")


def chdb_funnel(path: Path, threads: int) -> list[int]:
    """ClickHouse windowFunnel(7 days) over the same file: customers reaching each step."""
    import chdb

    conditions = ", ".join(f"event = '{s}'" for s in STAGES)
    frame = chdb.query(
        f"SELECT level, count() AS n FROM (SELECT customer_id, windowFunnel(604800)"
        f"(toUInt64(toUnixTimestamp(timestamp)), {conditions}) AS level FROM file('{path}', Parquet) "
        f"GROUP BY customer_id) GROUP BY level SETTINGS max_threads={threads}",
        "DataFrame",
    )
    levels = dict(zip(frame["level"].astype(int), frame["n"].astype(int), strict=True))
    return [sum(n for level, n in levels.items() if level >= k) for k in range(1, len(STAGES) + 1)]


def prefixspan(sequences: list[list[str]], min_count: int, max_length: int) -> dict[tuple[str, ...], int]:
    """A compact pure-Python PrefixSpan (support once per sequence) — the baseline the miner replaces."""
    out: dict[tuple[str, ...], int] = {}

    def grow(prefix: tuple[str, ...], projected: list[tuple[int, int]]) -> None:
        if len(prefix) == max_length:
            return
        firsts: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for seq_id, start in projected:
            seen = set()
            seq = sequences[seq_id]
            for pos in range(start, len(seq)):
                item = seq[pos]
                if item not in seen:
                    seen.add(item)
                    firsts[item].append((seq_id, pos + 1))
        for item, positions in firsts.items():
            if len(positions) >= min_count:
                pattern = (*prefix, item)
                out[pattern] = len(positions)
                grow(pattern, positions)

    grow((), [(i, 0) for i in range(len(sequences))])
    return out


def sample_sequences(dataset: Any, customers: int, conversion: str = "purchase") -> list[list[str]]:
    """Collapsed pre-conversion journeys of the first ``customers`` customers (benchmark baseline input only)."""
    t = dataset.events
    ids = t.select("customer_id").distinct().order_by("customer_id").limit(customers)
    rows = (
        t.semi_join(ids, "customer_id")
        .select("customer_id", "timestamp", "event")
        .order_by(["customer_id", "timestamp", "event"])
        .to_pyarrow()
        .to_pylist()
    )
    journeys: dict[str, list[str]] = defaultdict(list)
    done: set[str] = set()
    for row in rows:
        cid, event = row["customer_id"], row["event"]
        if cid in done:
            continue
        if event == conversion:
            done.add(cid)
            continue
        seq = journeys[cid]
        if (not seq or seq[-1] != event) and len(seq) < 20:
            seq.append(event)
    return list(journeys.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--threads", type=int, default=2, help="DuckDB and ClickHouse threads")
    parser.add_argument("--sample", type=int, default=20_000, help="customers for the pure-Python baseline")
    args = parser.parse_args()

    from tools.dataset import connect, load_events
    from tools.funnels import compute_funnel, funnel
    from tools.paths import paths
    from tools.patterns import patterns

    out = bench_data(args.customers, args.seed)
    path = out / "events.parquet"
    timer = Timer(f"funnels, paths, patterns on {args.customers:,} customers ({args.threads} threads)")
    con = connect("duckdb", threads=args.threads)
    dataset = timer.run("load events.parquet", lambda: load_events(path, con=con))
    summary = dataset.summary()
    dataset.event_counts()
    counts = timer.run(
        "funnel 6 steps 7d: counts + times (engine only)",
        lambda: [r["customers"] for r in compute_funnel(dataset, STAGES, "7d", survival=False).steps],
    )
    result = timer.run("funnel 6 steps 7d: full tool (+ friction, KM)", lambda: funnel(dataset, STAGES, "7d"))
    timer.run("funnel 6 steps 7d --by channel", lambda: funnel(dataset, STAGES, "7d", by="channel"))
    timer.run("funnel --order strict", lambda: funnel(dataset, STAGES, "7d", order="strict"))
    timer.run("funnel --order any", lambda: funnel(dataset, STAGES, "7d", order="any"))
    timer.run("paths --from pricing --after pricing", lambda: paths(dataset, "pricing", after="pricing"))
    mined = timer.run("patterns (min support 5%, length <= 3)", lambda: patterns(dataset))
    reference = timer.run("chdb windowFunnel(7d), same file", lambda: chdb_funnel(path, args.threads))
    sample = timer.run(f"baseline: pull {args.sample:,} journeys", lambda: sample_sequences(dataset, args.sample))
    started = time.perf_counter()
    spans = prefixspan(sample, max(1, int(0.05 * len(sample))), 3)
    seconds = time.perf_counter() - started
    timer.rows.append((f"baseline: pure-Python PrefixSpan, {len(sample):,} journeys", seconds, timer.rows[-1][2]))
    timer.report()
    scale = args.customers / max(len(sample), 1)
    print(f"\nevents: {summary['events']:,}; customers: {summary['customers']:,}")
    print(f"funnel counts: {counts}")
    print(f"chdb counts:   {reference}  identical: {counts == reference}")
    print(f"biggest friction: {result.result['biggest_friction']}")
    print(
        f"patterns: {mined.result['frequent_patterns']} frequent from {mined.result['distinct_journeys']:,} "
        f"distinct journeys; pure-Python PrefixSpan found {len(spans)} on the sample, "
        f"~{seconds * scale:.0f} s extrapolated to {args.customers:,} customers "
        "(plus pulling every journey into Python)"
    )
    top = Counter({r["pattern"]: r["lift"] for r in mined.result["patterns"]}).most_common(3)
    print(f"top patterns by lift: {top}")


if __name__ == "__main__":
    main()
