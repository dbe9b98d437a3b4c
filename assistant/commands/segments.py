"""``journey segments`` and ``journey anomalies``: thin wrappers over ``tools.segments`` and ``tools.anomalies``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from assistant.options import ConversionOpt, DataOpt, FormatOpt, MapOpt, SourceFormatOpt, TimezoneOpt


def register(app: typer.Typer) -> None:
    """Add ``segments`` and ``anomalies``."""

    @app.command()
    def segments(
        data: DataOpt = None,
        source_format: SourceFormatOpt = None,
        maps: MapOpt = None,
        timezone: TimezoneOpt = None,
        conversion: ConversionOpt = None,
        k: Annotated[
            str, typer.Option("--k", help="Number of segments (2-8) or 'auto' (chosen by silhouette).")
        ] = "auto",
        assignments: Annotated[
            Path | None, typer.Option("--assignments", help="Write customer_id,segment for every customer to this CSV.")
        ] = None,
        sample: Annotated[
            int, typer.Option("--sample", help="Customers used to fit the model (everyone is assigned).")
        ] = 50_000,
        seed: Annotated[int | None, typer.Option("--seed", help="Random seed (default: \\[attribution] seed).")] = None,
        fmt: FormatOpt = "table",
    ) -> None:
        """Behavioural segments: name, size, conversion rate, revenue, typical path and distinguishing features."""
        from assistant.render import emit
        from assistant.session import settings_from_flags, tool_context
        from tools.segments import segments as run_segments

        settings = settings_from_flags(data, source_format, maps, timezone, conversion)
        context = tool_context(settings)
        result = run_segments(
            context.dataset(),
            k=k,
            seed=context.defaults.seed if seed is None else seed,
            sample=sample,
            stages=context.defaults.stages,
            conversion=context.defaults.conversion,
            assignments=assignments,
        )
        emit(result, fmt)

    @app.command()
    def anomalies(
        data: DataOpt = None,
        source_format: SourceFormatOpt = None,
        maps: MapOpt = None,
        timezone: TimezoneOpt = None,
        metric: Annotated[
            list[str] | None,
            typer.Option(
                "--metric",
                help="Metric name or pattern to test (repeatable): customers_<stage>, rate_<a>_to_<b>, "
                "touches_<channel>, revenue; e.g. --metric 'rate_*'. Default: all.",
            ),
        ] = None,
        since: Annotated[str | None, typer.Option("--since", help="First day to test, YYYY-MM-DD.")] = None,
        until: Annotated[str | None, typer.Option("--until", help="Last day to test, YYYY-MM-DD.")] = None,
        alpha: Annotated[float, typer.Option("--alpha", help="False discovery rate (Benjamini–Hochberg).")] = 0.05,
        warmup_days: Annotated[
            int, typer.Option("--warmup-days", help="Complete days at the start used for baselines only.")
        ] = 7,
        fmt: FormatOpt = "table",
    ) -> None:
        """Unusual days in daily journey metrics, against a weekday-aware robust baseline, FDR-controlled."""
        from assistant.render import emit
        from assistant.session import settings_from_flags, tool_context
        from tools.anomalies import anomalies as run_anomalies

        settings = settings_from_flags(data, source_format, maps, timezone)
        context = tool_context(settings)
        result = run_anomalies(
            context.dataset(),
            metrics=metric,
            since=since,
            until=until,
            alpha=alpha,
            stages=context.defaults.stages,
            warmup_days=warmup_days,
        )
        emit(result, fmt)
