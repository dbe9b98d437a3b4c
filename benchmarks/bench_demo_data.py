"""Time and peak memory of the demo-data generator, step by step.

Usage: .venv/bin/python benchmarks/bench_demo_data.py --customers 1000000
Writes under ./bench-data/generate-c<N>/ (removed afterwards unless --keep); other benchmarks use their own
cached copy via ``_common.bench_data``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil

from _common import ROOT, Timer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    args = parser.parse_args()

    from tools import demo_data

    out = ROOT / "bench-data" / f"generate-c{args.customers}"
    out.mkdir(parents=True, exist_ok=True)
    timer = Timer(f"demo data: {args.customers:,} customers, seed {args.seed}")
    world, feedback = timer.run("simulate world + feedback", lambda: demo_data.simulate(args.customers, args.seed))
    timer.run("write events (parquet + csv) + segments", lambda: demo_data.write_events(world, out))
    timer.run("write feedback (parquet + csv) + labels", lambda: demo_data.write_feedback(world, feedback, out))
    truth = timer.run("truth.json", lambda: demo_data.build_truth(args.customers, args.seed, True, world, feedback))
    (out / "truth.json").write_text(json.dumps(truth, indent=2) + "\n")
    total = sum(seconds for _, seconds, _ in timer.rows)
    timer.report()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(f"{'total':<48} {total:>9.2f}")
    # CPU seconds do not depend on how busy the shared machine is (wall seconds do).
    cpu = usage.ru_utime + usage.ru_stime
    print(f"cpu seconds (user+sys): {cpu:.1f}; load average: {os.getloadavg()[0]:.1f}")
    print(f"events: {world.ev_customer.size:,}; feedback rows: {feedback.customer.size:,}")
    for path in sorted(out.iterdir()):
        print(f"  {path.name:<28} {path.stat().st_size / 2**20:>9.1f} MiB")
    if not args.keep:
        shutil.rmtree(out)


if __name__ == "__main__":
    main()
