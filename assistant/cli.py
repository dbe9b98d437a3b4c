"""The ``journey`` command line: parse, call one library function, render. No analytics here.

Errors: any ``JourneyError`` becomes one ``error: …`` line on stderr and a non-zero exit code
(``JOURNEY_DEBUG=1`` shows the full traceback instead).
"""

from __future__ import annotations

import importlib
import os
from typing import Annotated, Any

import typer
from typer._click.exceptions import NoArgsIsHelpError, UsageError  # Typer vendors Click
from typer.core import TyperGroup

from assistant.options import ConversionOpt, DataOpt, FormatOpt, MapOpt, SourceFormatOpt, TimezoneOpt
from assistant.session import STATE, settings_from_flags, tool_context
from tools.errors import JourneyError

# Command groups other than the core ones below; each module has register(app).
COMMAND_MODULES: tuple[str, ...] = (
    "assistant.commands.demo",
    "assistant.commands.funnels",
    "assistant.commands.attribution",
    "assistant.commands.segments",
    "assistant.commands.feedback",
    "assistant.commands.pasted",
    "assistant.commands.chat",
    "assistant.commands.memo",
)


def fail(message: str, code: int = 1) -> None:
    """Print one error line to stderr and exit."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


class JourneyGroup(TyperGroup):
    """Turns every ``JourneyError`` and flag error into one stderr line, at this single boundary."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except JourneyError as exc:
            if os.environ.get("JOURNEY_DEBUG"):
                raise
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except UsageError as exc:
            # A bad flag value or unknown command: one line naming the help to read, not a multi-line box.
            if isinstance(exc, NoArgsIsHelpError) or os.environ.get("JOURNEY_DEBUG"):
                raise
            message = exc.format_message().replace("Value error, ", "").rstrip(".")
            where = exc.ctx.command_path if exc.ctx is not None else "journey"
            typer.echo(f"error: {message}; see `{where} --help`", err=True)
            raise typer.Exit(exc.exit_code) from None


def make_typer(**kwargs: Any) -> typer.Typer:
    """A Typer app or sub-group with the project's error handling and no locals in tracebacks."""
    return typer.Typer(
        cls=JourneyGroup,
        pretty_exceptions_show_locals=False,
        no_args_is_help=True,
        add_completion=False,
        **kwargs,
    )


app = make_typer(
    help="Journey Insights Assistant: ask about your customer journeys; every number comes from a deterministic tool."
)


@app.callback()
def _global(
    config: Annotated[
        str | None, typer.Option("--config", help="Config file (default: $JOURNEY_CONFIG, else ./config.toml).")
    ] = None,
) -> None:
    """Journey Insights Assistant."""
    STATE.config = config


@app.command()
def inspect(
    data: DataOpt = None,
    source_format: SourceFormatOpt = None,
    maps: MapOpt = None,
    timezone: TimezoneOpt = None,
    conversion: ConversionOpt = None,
    top: Annotated[int, typer.Option(help="List at most this many event names and channels.")] = 50,
    fmt: FormatOpt = "table",
) -> None:
    """Customers, events, date range, event names and channels with counts, and data-quality notes."""
    from assistant.render import emit
    from tools.describe import inspect_data

    settings = settings_from_flags(data, source_format, maps, timezone, conversion)
    emit(inspect_data(tool_context(settings).dataset(), top=top), fmt)


for _module in COMMAND_MODULES:
    importlib.import_module(_module).register(app)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="journey")


if __name__ == "__main__":  # pragma: no cover
    main()
