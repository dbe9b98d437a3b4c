"""Time and peak memory to load + inspect ~10M events from CSV and from Parquet.

Usage: .venv/bin/python benchmarks/bench_loading.py --customers 1000000
Each format runs in its own process so that peak memory is measured separately.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from _common import ROOT, Timer, bench_data


def measure(path: str) -> None:
    from tools.dataset import load_events
    from tools.describe import inspect_data

    timer = Timer(f"load + inspect {path}")
    dataset = timer.run("load (parse, validate, dedupe, materialise)", lambda: load_events(path))
    result = timer.run("inspect", lambda: inspect_data(dataset))
    timer.report()
    print(f"events loaded: {result.result['events']:,}; customers: {result.result['customers']:,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--only", help="internal: measure one file in this process")
    args = parser.parse_args()
    if args.only:
        measure(args.only)
        return
    out = bench_data(args.customers)
    for name in ("events.parquet", "events.csv"):
        subprocess.run([sys.executable, __file__, "--only", str(out / name)], check=True, cwd=ROOT)


if __name__ == "__main__":
    main()
