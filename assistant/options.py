"""Options shared by the analysis commands (the CLI contract of ARCHITECTURE.md), as reusable annotations."""

from __future__ import annotations

from typing import Annotated

import typer

from assistant.render import OutputFormat

DataOpt = Annotated[
    str | None, typer.Option("--data", help="Events: a file, glob or folder (CSV/TSV/Parquet/JSON[L], .gz ok).")
]
SourceFormatOpt = Annotated[
    str | None,
    typer.Option(
        "--source-format", help="auto|csv|parquet|json|ga4|segment (default: auto, by extension and content)."
    ),
]
MapOpt = Annotated[
    list[str] | None,
    typer.Option("--map", help="Column mapping FIELD=COLUMN, e.g. --map customer_id=user; repeatable."),
]
TimezoneOpt = Annotated[
    str | None,
    typer.Option("--timezone", help="IANA zone for timestamps without an offset (default: \\[data] timezone)."),
]
ConversionOpt = Annotated[
    str | None, typer.Option("--conversion", help="The conversion event (default: \\[journey] conversion).")
]
FormatOpt = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="Output: table, json (one object), csv or markdown.")
]
StoreOpt = Annotated[str | None, typer.Option("--store", help="Chroma directory (default: \\[feedback] store).")]
FeedbackOpt = Annotated[str | None, typer.Option("--feedback", help="Feedback file (default: \\[feedback] path).")]
