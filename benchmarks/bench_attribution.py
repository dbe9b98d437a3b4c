"""Time and peak memory of every attribution model from raw events, and of the causal impact tool.

Usage: .venv/bin/python benchmarks/bench_attribution.py --customers 1000000   (~10M events)
Targets (2 cores): Markov order 1 end to end (events -> credit) under 5 s; ``--model all`` with bootstrap
under 30 s. Each timed step starts from the loaded event table, so it includes building the journeys.
"""

from __future__ import annotations

import argparse
import resource
import time
from collections.abc import Callable
from typing import Any

from _common import Timer, bench_data, peak_mb


class CpuTimer(Timer):
    """The shared timer plus CPU seconds (user + system, all threads): on a busy shared machine wall time
    mostly measures the neighbours, while CPU seconds / 2 is what 2 idle cores would take at best."""

    def __init__(self, title: str) -> None:
        super().__init__(title)
        self.cpu: list[float] = []

    def run(self, name: str, fn: Callable[[], Any]) -> Any:
        before = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        out = fn()
        after = resource.getrusage(resource.RUSAGE_SELF)
        self.rows.append((name, time.perf_counter() - started, peak_mb()))
        self.cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        return out

    def report(self) -> None:
        print(f"\n{self.title}")
        print(f"{'step':<48} {'seconds':>9} {'cpu s':>9} {'peak MiB':>9}")
        for (name, seconds, mb), cpu in zip(self.rows, self.cpu, strict=True):
            print(f"{name:<48} {seconds:>9.2f} {cpu:>9.2f} {mb:>9.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads (the target machine has 2 cores)")
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--skip-impact", action="store_true", help="time attribution only")
    args = parser.parse_args()

    from datetime import timedelta

    from tools.attribution import attribute
    from tools.dataset import connect, load_events
    from tools.impact import estimate_impact
    from tools.journeys import build_path_table

    out = bench_data(args.customers)
    timer = CpuTimer(f"attribution on {args.customers:,} customers ({args.threads} DuckDB threads)")
    con = connect("duckdb", threads=args.threads)
    dataset = timer.run("load events.parquet", lambda: load_events(out / "events.parquet", con=con))
    events = dataset.summary()["events"]
    table = timer.run(
        "path table (journeys in the engine)",
        lambda: build_path_table(dataset, "purchase", timedelta(days=30)),
    )
    timer.run(
        "path table + time-decay credit",
        lambda: build_path_table(dataset, "purchase", timedelta(days=30), half_life=timedelta(days=7)),
    )
    for model in ("markov", "first", "last", "linear", "time-decay", "position", "shapley"):
        timer.run(f"{model} (events -> credit)", lambda m=model: attribute(dataset, model=m))  # type: ignore[misc]
    for order in (2, 3, 4):
        timer.run(f"markov order {order}", lambda k=order: attribute(dataset, model="markov", order=k))  # type: ignore[misc]
    timer.run(
        "markov --include-stages",
        lambda: attribute(
            dataset,
            model="markov",
            include_stages=True,
            stages=("visit", "product_view", "signup", "pricing", "demo", "purchase"),
        ),
    )
    timer.run(
        f"all models, {args.bootstrap} bootstrap replicates",
        lambda: attribute(dataset, model="all", bootstrap=args.bootstrap),
    )
    if not args.skip_impact:
        timer.run("impact (all channels)", lambda: estimate_impact(dataset))
    timer.report()
    print(f"events: {events:,}; distinct paths: {len(table.paths):,}; journeys: {table.stats['journeys']:,}")


if __name__ == "__main__":
    main()
