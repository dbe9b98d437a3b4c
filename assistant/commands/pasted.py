"""``journey analyze-funnel [FILE|-]``: the pasted funnel stats doctor (no event data needed)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import click
import typer

from assistant.options import FormatOpt
from tools.errors import DataError


def read_stats(source: str | None) -> str:
    """The pasted text from a file, or from stdin for ``-`` or no argument (with a hint on a terminal)."""
    if source in (None, "-"):
        if sys.stdin.isatty():
            click.echo("Paste the funnel stats, then press Ctrl-D (Ctrl-Z Enter on Windows):", err=True)
        return sys.stdin.read()
    path = Path(source)
    if not path.is_file():
        raise DataError(f"no file {source!r}; pass a text file with the stats, or - to read them from stdin")
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"{source!r} is not UTF-8 text; save the stats as plain text and try again") from None


def register(app: typer.Typer) -> None:
    """Add ``analyze-funnel``."""

    @app.command("analyze-funnel")
    def analyze_funnel(
        source: Annotated[
            str | None,
            typer.Argument(metavar="[FILE|-]", help="Text file with the pasted stats; - or nothing reads stdin."),
        ] = None,
        improvement: Annotated[
            float,
            typer.Option(
                help="Improvement to model: 0.10 = +10% relative on each rate and a 10% cut of each loss or leak."
            ),
        ] = 0.10,
        target: Annotated[
            list[str] | None,
            typer.Option(
                "--target",
                help="Target rate for the step leaving STAGE, e.g. --target Evaluation=30%; repeatable.",
            ),
        ] = None,
        value_per_customer: Annotated[
            float | None,
            typer.Option(help="Value of one final-stage customer, for revenue impact (default: a pasted ACV/AOV)."),
        ] = None,
        fmt: FormatOpt = "table",
    ) -> None:
        """Pasted funnel stats -> friction points, inconsistencies, what-if impact and recommendations.

        Paste counts and rates as a list, an arrow chain or a table. Offline; all arithmetic is shown.
        """
        from assistant.render import emit, to_markdown
        from tools.pasted import analyse_pasted_funnel, parse_target

        targets = dict(parse_target(option) for option in target or [])
        result = analyse_pasted_funnel(read_stats(source), improvement, targets, value_per_customer)
        if fmt in ("json", "csv"):
            emit(result, fmt)
            return
        text = result.result["narrative"]
        if fmt == "markdown":
            tables = {k: v for k, v in result.result.items() if k != "narrative"}
            sys.stdout.write(text + "\n" + to_markdown(result.model_copy(update={"result": tables}), "Tables"))
            return
        from rich.console import Console
        from rich.markdown import Markdown

        console = Console()
        console.print(Markdown(text))
        console.print("[dim]Every table with its arithmetic: --format markdown, or --format json.[/dim]")
