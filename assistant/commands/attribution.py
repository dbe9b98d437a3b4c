"""``journey attribution`` (credit) and ``journey impact`` (causal effect): thin wrappers over the tools."""

from __future__ import annotations

from typing import Annotated

import typer

from assistant.options import ConversionOpt, DataOpt, FormatOpt, MapOpt, SourceFormatOpt, TimezoneOpt

MODEL_HELP = "first|last|linear|time-decay|position|markov|shapley|all (all: side by side with 95% intervals)."


def register(app: typer.Typer) -> None:
    """Add ``attribution`` and ``impact``."""

    @app.command()
    def attribution(
        model: Annotated[str, typer.Option("--model", "-m", help=MODEL_HELP)] = "markov",
        order: Annotated[
            int | None,
            typer.Option(min=1, max=4, help="Markov order K (1..4; default: \\[attribution] markov_order)."),
        ] = None,
        lookback: Annotated[
            str | None, typer.Option(help="Lookback before a conversion, e.g. 30d (default: \\[attribution] lookback).")
        ] = None,
        half_life: Annotated[
            str | None,
            typer.Option("--half-life", help="Time-decay half-life, e.g. 7d (default: \\[attribution] half_life)."),
        ] = None,
        include_stages: Annotated[
            bool,
            typer.Option("--include-stages", help="Markov: funnel stages become states; report their removal effects."),
        ] = False,
        paths: Annotated[
            str | None,
            typer.Option("--paths", help="Use an aggregated conversion-path export (CSV/TSV) instead of events."),
        ] = None,
        bootstrap: Annotated[
            int | None, typer.Option(help="Bootstrap resamples for --model all (default: \\[attribution] bootstrap).")
        ] = None,
        seed: Annotated[
            int | None, typer.Option(help="Seed for bootstrap and sampling (default: \\[attribution] seed).")
        ] = None,
        data: DataOpt = None,
        source_format: SourceFormatOpt = None,
        maps: MapOpt = None,
        timezone: TimezoneOpt = None,
        conversion: ConversionOpt = None,
        fmt: FormatOpt = "table",
    ) -> None:
        """Multi-touch attribution: how credit for conversions is split across channels (credit, not causation)."""
        from assistant.render import emit
        from assistant.session import settings_from_flags, tool_context
        from tools.attribution import attribute
        from tools.journeys import load_path_table

        settings = settings_from_flags(
            data,
            source_format,
            maps,
            timezone,
            conversion,
            more={
                "attribution.lookback": lookback,
                "attribution.half_life": half_life,
                "attribution.markov_order": order,
                "attribution.bootstrap": bootstrap,
                "attribution.seed": seed,
            },
        )
        d = settings.defaults()
        source = load_path_table(paths) if paths else tool_context(settings).dataset()
        result = attribute(
            source,
            model=model,  # type: ignore[arg-type]  # validated by attribute with a message listing the models
            order=d.markov_order,
            lookback=d.lookback,
            half_life=d.half_life,
            conversion=d.conversion,
            include_stages=include_stages,
            stages=d.stages,
            bootstrap=d.bootstrap,
            seed=d.seed,
        )
        emit(result, fmt)

    @app.command()
    def impact(
        channels: Annotated[
            str | None, typer.Option(help="Comma-separated channels to analyse (default: every channel).")
        ] = None,
        data: DataOpt = None,
        source_format: SourceFormatOpt = None,
        maps: MapOpt = None,
        timezone: TimezoneOpt = None,
        conversion: ConversionOpt = None,
        fmt: FormatOpt = "table",
    ) -> None:
        """Causal effect of each channel on conversion, adjusted for what customers did before exposure."""
        from assistant.render import emit
        from assistant.session import settings_from_flags, tool_context
        from tools.impact import estimate_impact

        settings = settings_from_flags(data, source_format, maps, timezone, conversion)
        d = settings.defaults()
        chosen = [c.strip() for c in channels.split(",") if c.strip()] if channels else None
        result = estimate_impact(
            tool_context(settings).dataset(), conversion=d.conversion, stages=d.stages, channels=chosen, seed=d.seed
        )
        emit(result, fmt)
