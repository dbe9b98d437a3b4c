"""Rendering tool results for people: terminal tables, JSON, CSV, Markdown.

``--format json`` prints exactly one JSON object (the ``ToolResult``) on stdout; everything else is for reading.
"""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import date, datetime
from typing import Any, Literal

from tools.result import ToolResult

OutputFormat = Literal["table", "json", "csv", "markdown"]
_PERCENT_HINTS = (
    "share",
    "converted_by_day",
    "rate",
    "conversion",
    "support",
    "negative_share",
    "removal_effect",
    "ci_low",
    "ci_high",
    "change",
)
_PATH_HINTS = ("path", "pattern", "steps", "sequence", "stages")


def _is_percent(key: str) -> bool:
    """Whether the value under ``key`` is a fraction to show as a percentage (counts of conversions are not)."""
    if key.endswith(("_pp", "_pct")) or "conversions" in key:
        return False
    return any(hint in key for hint in _PERCENT_HINTS)


def _is_relative_change(key: str) -> bool:
    """A relative change (value / expected - 1): a fraction of any size, e.g. +139% is 1.39."""
    return key == "change" or key.endswith("_change")


def format_value(key: str, value: Any) -> str:
    """One cell as a person reads it: percentages for rates and shares, thousands separators for counts."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if key.endswith("_pct"):  # already in percent
            return f"{value:.1f}%"
        if _is_percent(key) and (-1.0 <= value <= 1.0 or _is_relative_change(key)):
            return f"{value * 100:.1f}%"
        if abs(value) >= 1000 or (value.is_integer() and value != 0):  # whole numbers (counts) without ".00"
            return f"{value:,.0f}"
        return f"{value:.3g}" if abs(value) < 1 else f"{value:,.2f}"
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        if all(isinstance(v, str) for v in value):
            return (" > " if any(hint in key for hint in _PATH_HINTS) else "; ").join(value)
        return json.dumps(value, default=str)
    if isinstance(value, dict):
        return ", ".join(f"{k}={format_value(k, v)}" for k, v in value.items())
    return str(value)


def to_json(result: ToolResult) -> str:
    """The JSON contract: one object with tool, definition, result, notes."""
    return json.dumps(result.model_dump(mode="json"), ensure_ascii=False, default=str)


def to_csv(result: ToolResult) -> str:
    """The primary table (the first list of records in ``result``) as CSV; scalars if there is no table."""
    tables = result.tables()
    scalars = [{"field": k, "value": v} for k, v in result.scalars().items()]
    rows: list[dict[str, Any]] = next(iter(tables.values())) if tables else scalars
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in row.items()})
    return buffer.getvalue()


def _md_table(rows: list[dict[str, Any]]) -> str:
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = [format_value(c, row.get(c)).replace("|", "\\|") for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def to_markdown(result: ToolResult, title: str | None = None) -> str:
    """A Markdown report of the result: scalars, tables, notes and the definition."""
    parts = [f"## {title or result.tool}"]
    scalars = result.scalars()
    if scalars:
        parts.append(_md_table([{"metric": k, "value": format_value(k, v)} for k, v in scalars.items()]))
    for name, rows in result.tables().items():
        parts.append(f"### {name}\n\n{_md_table(rows)}")
    for name, value in result.result.items():
        if isinstance(value, dict) and value:
            parts.append(
                f"### {name}\n\n" + _md_table([{"key": k, "value": format_value(k, v)} for k, v in value.items()])
            )
    if result.notes:
        parts.append("### Notes\n\n" + "\n".join(f"- {note}" for note in result.notes))
    parts.append(
        "### Definition\n\n" + "\n".join(f"- **{k}**: {format_value(k, v)}" for k, v in result.definition.items())
    )
    return "\n\n".join(parts) + "\n"


def print_table(result: ToolResult, console: Any = None, max_rows: int = 50) -> None:
    """Rich terminal rendering: scalars, each table (capped), notes, then a one-line definition."""
    from rich.console import Console
    from rich.table import Table

    if console is None:
        import sys

        # Piped or redirected output has no terminal width; Rich would assume 80 columns and cut the headers.
        console = Console() if sys.stdout.isatty() else Console(width=160)
    scalars = result.scalars()
    if scalars:
        grid = Table(title=result.tool, show_header=False, title_justify="left")
        grid.add_column(style="bold")
        grid.add_column()
        for key, value in scalars.items():
            grid.add_row(key, format_value(key, value))
        console.print(grid)
    for name, value in result.result.items():
        # Small mappings (counts by kind, seconds by step) as key/value blocks; nested ones live in --format json.
        if isinstance(value, dict) and value and not any(isinstance(v, (dict, list)) for v in value.values()):
            block = Table(title=name, show_header=False, title_justify="left")
            block.add_column(style="bold")
            block.add_column()
            for key, item in value.items():
                block.add_row(str(key), format_value(str(key), item))
            console.print(block)
    for position, (name, rows) in enumerate(result.tables().items()):
        columns: list[str] = []
        for row in rows:
            columns.extend(k for k in row if k not in columns)
        table = Table(title=name, title_justify="left")
        for column in columns:
            numeric = all(isinstance(r.get(column), (int, float)) or r.get(column) is None for r in rows)
            # Spaces let long headers wrap at word boundaries in narrow terminals.
            table.add_column(column.replace("_", " "), justify="right" if numeric else "left", overflow="fold")
        for row in rows[:max_rows]:
            table.add_row(*(format_value(c, row.get(c)) for c in columns))
        console.print(table)
        if len(rows) > max_rows:
            every = "--format csv" if position == 0 else "--format json"  # csv holds the first table only
            console.print(f"[dim]… {len(rows) - max_rows} more rows (use {every} for all)[/dim]")
    for note in result.notes:
        console.print(f"[yellow]•[/yellow] {note}")
    shown = {k: v for k, v in result.definition.items() if not isinstance(v, dict)}
    if not shown:
        return
    console.print("[dim]definition: " + "; ".join(f"{k}={format_value(k, v)}" for k, v in shown.items()) + "[/dim]")


def emit(result: ToolResult, fmt: OutputFormat = "table", console: Any = None) -> None:
    """Write a result to stdout in the chosen format."""
    import sys

    if fmt == "json":
        sys.stdout.write(to_json(result) + "\n")
    elif fmt == "csv":
        sys.stdout.write(to_csv(result))
        others = list(result.tables())[1:]
        if others:  # on stderr, so the CSV stays clean for a pipe
            sys.stderr.write(f"csv holds the first table; {', '.join(others)}: use --format json\n")
    elif fmt == "markdown":
        sys.stdout.write(to_markdown(result))
    else:
        print_table(result, console)
