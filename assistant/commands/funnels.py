"""``journey funnel``, ``journey paths`` and ``journey patterns``: thin wrappers over the tools."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from assistant.options import ConversionOpt, DataOpt, FormatOpt, MapOpt, SourceFormatOpt, TimezoneOpt

OrderChoice = Literal["ordered", "strict", "any"]
RankChoice = Literal["lift", "support", "difference"]


def register(app: typer.Typer) -> None:
    """Add ``funnel``, ``paths`` and ``patterns``."""

    @app.command()
    def funnel(
        steps: Annotated[
            str | None, typer.Option(help="Steps in order, comma-separated (default: \\[journey] stages).")
        ] = None,
        window: Annotated[
            str | None,
            typer.Option(help="Window from the step-1 event, e.g. 7d (default: \\[journey] window)."),
        ] = None,
        order: Annotated[
            OrderChoice, typer.Option(help="ordered (others allowed between), strict (nothing between) or any.")
        ] = "ordered",
        by: Annotated[
            str | None,
            typer.Option(help="Break down by this column on the step-1 event (e.g. channel, segment)."),
        ] = None,
        since: Annotated[str | None, typer.Option(help="Only chains starting on/after this date.")] = None,
        until: Annotated[str | None, typer.Option(help="Only chains starting on/before this date.")] = None,
        data: DataOpt = None,
        source_format: SourceFormatOpt = None,
        maps: MapOpt = None,
        timezone: TimezoneOpt = None,
        conversion: ConversionOpt = None,
        fmt: FormatOpt = "table",
    ) -> None:
        """Windowed funnel: customers per step, conversion with 95% intervals, time between steps, friction."""
        from assistant.render import emit
        from assistant.session import settings_from_flags, tool_context
        from tools.funnels import funnel as run_funnel

        context = tool_context(settings_from_flags(data, source_format, maps, timezone, conversion))
        result = run_funnel(context.dataset(), steps, window, order, by, since, until, defaults=context.defaults)
        emit(result, fmt)

    @app.command()
    def paths(
        from_event: Annotated[
            str | None, typer.Option("--from", help="What customers do after their first occurrence of this event.")
        ] = None,
        to_event: Annotated[
            str | None, typer.Option("--to", help="What customers did before their first occurrence of this event.")
        ] = None,
        depth: Annotated[int, typer.Option(help="Events shown per path (longer paths end with '…').")] = 5,
        top: Annotated[int, typer.Option(help="Rows per table.")] = 10,
        after: Annotated[
            str | None, typer.Option(help="Also compare paths after this step: converters vs drop-offs.")
        ] = None,
        data: DataOpt = None,
        source_format: SourceFormatOpt = None,
        maps: MapOpt = None,
        timezone: TimezoneOpt = None,
        conversion: ConversionOpt = None,
        fmt: FormatOpt = "table",
    ) -> None:
        """Next/previous steps around an event, the most common journeys, and paths after a step."""
        from assistant.render import emit
        from assistant.session import settings_from_flags, tool_context
        from tools.paths import paths as run_paths

        context = tool_context(settings_from_flags(data, source_format, maps, timezone, conversion))
        result = run_paths(context.dataset(), from_event, to_event, depth, top, after, defaults=context.defaults)
        emit(result, fmt)

    @app.command()
    def patterns(
        min_support: Annotated[
            float, typer.Option(help="Smallest share of customers (or of converters) showing a pattern.")
        ] = 0.05,
        max_length: Annotated[int, typer.Option(help="Longest pattern, in events.")] = 3,
        top: Annotated[int, typer.Option(help="Patterns listed.")] = 20,
        rank_by: Annotated[
            RankChoice, typer.Option(help="lift (default), support, or difference (converter - non-converter support).")
        ] = "lift",
        max_events: Annotated[
            int, typer.Option(min=2, max=100, help="Each journey is read up to its first this many events.")
        ] = 20,
        include_redundant: Annotated[
            bool, typer.Option(help="Also list patterns with the same counts as a shorter pattern they contain.")
        ] = False,
        data: DataOpt = None,
        source_format: SourceFormatOpt = None,
        maps: MapOpt = None,
        timezone: TimezoneOpt = None,
        conversion: ConversionOpt = None,
        fmt: FormatOpt = "table",
    ) -> None:
        """Frequent ordered event patterns, contrasted between converters and non-converters."""
        from assistant.render import emit
        from assistant.session import settings_from_flags, tool_context
        from tools.patterns import patterns as run_patterns

        context = tool_context(settings_from_flags(data, source_format, maps, timezone, conversion))
        result = run_patterns(
            context.dataset(),
            min_support,
            max_length,
            top=top,
            rank_by=rank_by,
            max_events=max_events,
            include_redundant=include_redundant,
            defaults=context.defaults,
        )
        emit(result, fmt)
