"""Benchmark of the pasted-funnel doctor on the user's example: parse, analyse + render, and the whole CLI.

Usage::

    .venv/bin/python benchmarks/bench_pasted.py [--repeat 50]

No event data is involved (the tool analyses pasted text), so there is no ``--customers``. Each in-process
step is timed ``--repeat`` times after one warm-up and reported as median and max; the CLI lines are one cold
``journey analyze-funnel -`` subprocess with the example on stdin (Python start-up and imports included),
as wall time and as CPU time (wall time on a shared machine mostly measures waiting for a core).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EXAMPLE = """Journey Stage Data:
- Awareness: 10,000 visitors/month, 45% bounce rate, avg 1.2 pages viewed
- Consideration: 2,500 content downloads, 15% proceed to product pages, avg 3 touchpoints before progression
- Evaluation: 800 product page visitors, 25% request demos, 40% abandon after pricing page
- Purchase: 150 demo requests, 35% convert to paid customers, avg 28-day sales cycle
- Retention: 52 customers, 85% active usage, 12% churn annually
"""


def _time(step: Callable[[], Any], repeat: int) -> tuple[float, float]:
    step()  # warm-up: imports, template compilation
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        step()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), max(seconds)


def main() -> None:
    """Time each step and print a small table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50, help="timed runs per in-process step")
    args = parser.parse_args()

    from typer.testing import CliRunner

    from assistant.cli import app
    from tools.pasted import analyse_pasted_funnel, narrative
    from tools.pasted_parse import parse_funnel_text

    analysis = analyse_pasted_funnel(EXAMPLE)
    runner = CliRunner()
    rows = [
        ("parse", *_time(lambda: parse_funnel_text(EXAMPLE), args.repeat)),
        ("parse + analyse + render (tool)", *_time(lambda: analyse_pasted_funnel(EXAMPLE), args.repeat)),
        ("render narrative only", *_time(lambda: narrative(analysis), args.repeat)),
        (
            "CLI in-process (table output)",
            *_time(lambda: runner.invoke(app, ["analyze-funnel", "-"], input=EXAMPLE), args.repeat),
        ),
    ]
    journey = ROOT / ".venv" / "bin" / "journey"
    command = [str(journey)] if journey.exists() else [sys.executable, "-m", "assistant.cli"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([*command, "analyze-funnel", "-"], input=EXAMPLE, capture_output=True, text=True, check=True)
    cold = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    rows.append(("CLI subprocess, cold: wall (journey analyze-funnel -)", cold, cold))
    rows.append(("CLI subprocess, cold: CPU user+sys", cpu, cpu))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"pasted-funnel benchmark: the user's example, {args.repeat} runs per in-process step")
    print(f"{'step':<56} {'median s':>10} {'max s':>10}")
    for name, median, worst in rows:
        print(f"{name:<56} {median:>10.4f} {worst:>10.4f}")
    print(f"peak memory of this process: {peak_mb:.0f} MB; CLI printed {len(done.stdout.splitlines())} lines")
    print(f"load average: {', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
