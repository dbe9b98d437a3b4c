"""Run every benchmark and evaluation script in turn (``make bench``), each with its own defaults.

    .venv/bin/python benchmarks/run_all.py [--customers N] [--only funnels,attribution]

``--customers`` is passed to the scripts that generate event data (default 1,000,000 ≈ 11M events, the size
the README's figures are for; generated once under ./bench-data/ and reused). Each script prints its own
report; this runner adds the wall time per script and exits non-zero if any script failed. Expect about
20 minutes at 1M customers on 2 cores, plus ~6 minutes for indexing 100k feedback texts.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# (name, script, takes --customers)
SCRIPTS: tuple[tuple[str, str, bool], ...] = (
    ("demo-data", "bench_demo_data.py", True),
    ("loading", "bench_loading.py", True),
    ("funnels", "bench_funnels.py", True),
    ("attribution", "bench_attribution.py", True),
    ("segments", "bench_segments.py", True),
    ("memo", "bench_memo.py", True),
    ("chat", "bench_chat.py", True),
    ("pasted", "bench_pasted.py", False),
    ("feedback", "bench_feedback.py", False),
    ("eval-feedback", "eval_feedback.py", False),
    ("eval-router", "eval_router.py", False),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000, help="customers for the event benchmarks")
    parser.add_argument("--only", default="", help="comma-separated names: " + ", ".join(n for n, _, _ in SCRIPTS))
    args = parser.parse_args()
    wanted = {name.strip() for name in args.only.split(",") if name.strip()}
    unknown = wanted - {name for name, _, _ in SCRIPTS}
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(sorted(unknown))}; choose from the list in --help")
    failed: list[str] = []
    timings: list[tuple[str, float, int]] = []
    for name, script, sized in SCRIPTS:
        if wanted and name not in wanted:
            continue
        command = [sys.executable, str(HERE / script), *(["--customers", str(args.customers)] if sized else [])]
        print(f"\n=== {name}: {' '.join(command[1:])}", flush=True)
        started = time.perf_counter()
        code = subprocess.call(command)
        timings.append((name, time.perf_counter() - started, code))
        if code != 0:
            failed.append(name)
    print("\n=== summary")
    for name, seconds, code in timings:
        print(f"{name:<14} {seconds:8.1f} s  {'ok' if code == 0 else f'FAILED (exit {code})'}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
