"""The offline main job behind ``journey demo``: demo data -> analyses -> sample questions -> memo."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from assistant.config import Settings
from assistant.session import settings_from_flags
from tools.result import ToolResult

# The analyses the demo shows, in order: (tool, arguments, table to show, its columns, scalars to show).
DEMO_ANALYSES: tuple[tuple[str, dict[str, Any], str, tuple[str, ...], tuple[str, ...]], ...] = (
    (
        "funnel",
        {},
        "steps",
        ("step", "customers", "conversion_from_previous", "conversion_from_start", "median_time_from_previous"),
        ("overall_conversion", "biggest_friction", "biggest_friction_extra_final_if_recover_10pct"),
    ),
    (
        "attribution",
        {"model": "all"},
        "comparison",
        ("channel", "last_share", "linear_share", "markov_share", "shapley_share", "rank_flips"),
        ("total_conversions",),
    ),
    (
        "impact",
        {},
        "channels",
        ("channel", "effect_pp", "ci_low_pp", "ci_high_pp", "naive_difference_pp", "verdict"),
        (),
    ),
    (
        "segments",
        {},
        "segments",
        ("segment", "name", "customers", "conversion_rate", "typical_path"),
        (),
    ),
    ("anomalies", {}, "anomalies", ("date", "metric", "value", "expected", "change", "severity"), ("status",)),
    (
        "feedback_summary",
        {"by": "stage"},
        "by_stage",
        ("stage", "count", "negative_share", "ci_low", "ci_high", "mean_sentiment"),
        (),
    ),
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
        more={
            "feedback.path": str(out / "feedback.csv"),
            "feedback.store": str(out / ".chroma"),
            "memo.recommendation_ledger": str(out / "recommendations.jsonl"),
        },
    )


def _ensure_data(out: Path, customers: int, seed: int, console: Console) -> None:
    truth_file = out / "truth.json"
    if truth_file.is_file():
        truth = json.loads(truth_file.read_text())
        if truth.get("customers") == customers and truth.get("seed") == seed:
            console.print(f"reusing demo data in [bold]{out}[/bold] ({customers:,} customers, seed {seed})")
            return
    write_demo_data(customers, seed, out, console=console)


def _brief(result: ToolResult, table: str, columns: tuple[str, ...], scalars: tuple[str, ...]) -> ToolResult:
    """A demo-sized view of a result: chosen scalars, one table with chosen columns, the first notes."""
    rows = [{c: row.get(c) for c in columns if c in row} for row in result.result.get(table, [])][:8]
    shown: dict[str, Any] = {k: result.result[k] for k in scalars if k in result.result}
    shown[table] = rows
    return ToolResult(tool=result.tool, definition={}, result=shown, notes=result.notes[:2])


def run_demo(out: Path, customers: int, seed: int, console: Console | None = None) -> Path:
    """Run the whole offline demo: data, analyses, sample questions, memo. Returns the memo's HTML path."""
    from assistant.memo import write_demo_memo
    from assistant.render import print_table
    from assistant.session import tool_context
    from tools.describe import inspect_data
    from tools.registry import invoke

    console = console or Console(width=max(Console().width, 110))
    started_all = time.perf_counter()
    _ensure_data(out, customers, seed, console)
    settings = _demo_settings(out)
    context = tool_context(settings)
    console.rule("What is in the data")
    overview = inspect_data(context.dataset(), top=12)
    print_table(_brief(overview, "channels", ("channel", "touches", "share"), _OVERVIEW), console)
    for name, arguments, table, columns, scalars in DEMO_ANALYSES:
        console.rule(f"journey {name.replace('_', ' ')}")
        started = time.perf_counter()
        result = invoke(name, arguments, context)
        print_table(_brief(result, table, columns, scalars), console, max_rows=8)
        console.print(f"[dim]{time.perf_counter() - started:.1f}s — full result: journey {_command(name)}[/dim]")
    _sample_questions(context, settings, console)
    console.rule("Weekly memo")
    html = write_demo_memo(context, settings, out / "memos")
    console.print(f"memo written: [bold]{html}[/bold] and [bold]{html.with_suffix('.md')}[/bold]")
    console.print(f"demo finished in {time.perf_counter() - started_all:.0f}s; open the memo in a browser:")
    console.print(f"  {html.resolve().as_uri()}")
    return html


_OVERVIEW = ("customers", "events", "first_event", "last_event", "touches", "revenue")


def _command(tool: str) -> str:
    commands = {"feedback_summary": "feedback summary --by stage", "attribution": "attribution --model all"}
    return commands.get(tool, tool)


def _sample_questions(context: Any, settings: Settings, console: Console) -> None:
    from rich.markdown import Markdown

    from assistant.agent import answer_samples

    console.rule("Sample questions")
    for question, turn in zip(SAMPLE_QUESTIONS, answer_samples(context, settings, SAMPLE_QUESTIONS), strict=True):
        console.print(f"[bold]? {question}[/bold]")
        console.print(Markdown(turn.answer))
