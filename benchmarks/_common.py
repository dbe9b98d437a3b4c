"""Shared helpers for the benchmark scripts: cached demo data and a small timing table."""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def bench_data(customers: int, seed: int = 42, anomaly: bool = True) -> Path:
    """Demo data for ``customers`` under ./bench-data/, generated once and reused."""
    from tools.demo_data import generate

    out = ROOT / "bench-data" / f"c{customers}-s{seed}{'' if anomaly else '-calm'}"
    truth = out / "truth.json"
    if not truth.is_file() or json.loads(truth.read_text()).get("customers") != customers:
        started = time.perf_counter()
        generate(customers=customers, seed=seed, out=out, anomaly=anomaly)
        print(f"generated {customers:,} customers in {time.perf_counter() - started:.1f}s -> {out}")
    return out


def peak_mb() -> float:
    """Peak resident memory of this process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Timer:
    """Collects (step, seconds, peak MiB) rows and prints them as a table."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.rows: list[tuple[str, float, float]] = []

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self.rows.append((name, time.perf_counter() - started, peak_mb()))

    def run(self, name: str, fn: Callable[[], Any]) -> Any:
        with self.step(name):
            return fn()

    def report(self) -> None:
        print(f"\n{self.title}")
        print(f"{'step':<48} {'seconds':>9} {'peak MiB':>9}")
        for name, seconds, mb in self.rows:
            print(f"{name:<48} {seconds:>9.2f} {mb:>9.0f}")
