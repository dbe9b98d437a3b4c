"""The offline main job behind ``journey demo``: demo data -> analyses -> sample questions -> memo."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from assistant.config import Settings
from assistant.session import STATE, settings_from_flags

# The analyses the demo shows, in order, with their arguments (tools not yet registered are skipped).
DEMO_ANALYSES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("funnel", {}),
    ("attribution", {"model": "all"}),
    ("impact", {}),
    ("segments", {}),
    ("anomalies", {}),
    ("feedback_summary", {"by": "stage"}),
)
SAMPLE_QUESTIONS = (
    "Where do we lose the most people in the funnel?",
    "Which channels really drive purchases?",
    "What do customers complain about at the demo stage?",
)


def write_demo_data(
    customers: int, seed: int, out: Path, anomaly: bool = True, console: Console | None = None
) -> dict[str, Any]:
    """Generate the demo data and say where it went and what was planted."""
    from tools.demo_data import generate

    console = console or Console()
    started = time.perf_counter()
    truth = generate(customers=customers, seed=seed, out=out, anomaly=anomaly)
    console.print(
        f"wrote demo data for {customers:,} customers (seed {seed}) to [bold]{out}[/bold] "
        f"in {time.perf_counter() - started:.1f}s: events.csv/.parquet, feedback.csv/.parquet, truth.json"
    )
    for line in truth.get("description", []):
        console.print(f"  • planted: {line}")
    return truth


def _demo_settings(out: Path) -> Settings:
    return settings_from_flags(
        data=str(out / "events.parquet"),
        source_format="parquet",
        more={"feedback.path": str(out / "feedback.csv"), "feedback.store": str(out / ".chroma")},
    )


def _ensure_data(out: Path, customers: int, seed: int, console: Console) -> None:
    truth_file = out / "truth.json"
    if truth_file.is_file():
        truth = json.loads(truth_file.read_text())
        if truth.get("customers") == customers and truth.get("seed") == seed:
            console.print(f"reusing demo data in [bold]{out}[/bold] ({customers:,} customers, seed {seed})")
            return
    write_demo_data(customers, seed, out, console=console)


def run_demo(out: Path, customers: int, seed: int, console: Console | None = None) -> None:
    """Run the whole offline demo and print where the memo is."""
    from assistant.render import print_table
    from assistant.session import tool_context
    from tools.describe import inspect_data
    from tools.registry import all_tools, invoke

    console = console or Console()
    STATE.extra["demo"] = True
    _ensure_data(out, customers, seed, console)
    settings = _demo_settings(out)
    context = tool_context(settings)
    console.rule("What is in the data")
    print_table(inspect_data(context.dataset(), top=12), console)
    tools = all_tools()
    for name, arguments in DEMO_ANALYSES:
        if name not in tools:
            continue
        console.rule(name)
        started = time.perf_counter()
        result = invoke(name, arguments, context)
        print_table(result, console, max_rows=12)
        console.print(f"[dim]{name} took {time.perf_counter() - started:.2f}s[/dim]")
    _sample_questions(context, settings, console)


def _sample_questions(context: Any, settings: Settings, console: Console) -> None:
    from rich.markdown import Markdown

    from assistant.agent import answer_samples

    console.rule("Sample questions")
    for question, turn in zip(SAMPLE_QUESTIONS, answer_samples(context, settings, SAMPLE_QUESTIONS), strict=True):
        console.print(f"[bold]? {question}[/bold]")
        console.print(Markdown(turn.answer))
