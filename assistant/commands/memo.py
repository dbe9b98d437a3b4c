"""``journey memo``: the weekly insight memo (Markdown + self-contained HTML)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from assistant.options import ConversionOpt, DataOpt, FeedbackOpt, FormatOpt, MapOpt, SourceFormatOpt, TimezoneOpt

if TYPE_CHECKING:
    from assistant.memo import Memo
    from tools.result import ToolResult


def memo_result(memos: list[tuple[Memo, list[Path]]], out_dir: str, ledger: str) -> ToolResult:
    """The ``--format json`` object: which weeks were written where, and the headline of each."""
    from tools.result import ToolResult

    weeks: list[dict[str, Any]] = []
    notes: list[str] = []
    for memo, paths in memos:
        kpis = memo.sections["kpis"]
        weeks.append(
            {
                "week": memo.week.label,
                "files": [str(p) for p in paths],
                "significant_changes": len(kpis.data.get("significant", [])) if kpis.available else None,
                "nothing_significant": kpis.data.get("nothing_significant") if kpis.available else None,
                "summary_source": memo.summary.source,
                "unverified_numbers": memo.summary.unverified,
                "recommendations": [
                    {
                        k: r.get(k)
                        for k in ("rank", "action", "metric", "expected_extra_conversions_per_week", "confidence")
                    }
                    for r in (memo.recommendations.result["recommendations"] if memo.recommendations else [])
                ],
                "sections_unavailable": {k: s.reason for k, s in memo.sections.items() if not s.available},
            }
        )
        notes += [
            f"{memo.week.label}: {s.title} not available — {s.reason}"
            for s in memo.sections.values()
            if not s.available
        ]
        if memo.summary.note:
            notes.append(f"{memo.week.label}: {memo.summary.note}")
    return ToolResult(
        tool="memo",
        definition={"out_dir": out_dir, "recommendation_ledger": ledger, "weeks": "ISO weeks, Monday-Sunday UTC"},
        result={"memos": weeks, "files": [f for w in weeks for f in w["files"]]},
        notes=notes or (["no week to write: every complete week already has a memo"] if not memos else []),
    )


def register(app: typer.Typer) -> None:
    """Add ``memo``."""

    @app.command()
    def memo(
        week: Annotated[
            str | None, typer.Option("--week", help="ISO week, e.g. 2024-W07 (default: the last complete week).")
        ] = None,
        out: Annotated[
            Path | None,
            typer.Option("--out", help="Write one file, .md or .html (default: both into \\[memo] out_dir)."),
        ] = None,
        out_dir: Annotated[
            str | None, typer.Option("--out-dir", help="Folder for memos (default: \\[memo] out_dir).")
        ] = None,
        since_last: Annotated[
            bool,
            typer.Option(
                "--since-last",
                help="Write every complete week after the newest memo in the out dir (for schedules).",
            ),
        ] = False,
        data: DataOpt = None,
        source_format: SourceFormatOpt = None,
        maps: MapOpt = None,
        timezone: TimezoneOpt = None,
        conversion: ConversionOpt = None,
        feedback: FeedbackOpt = None,
        fmt: FormatOpt = "table",
    ) -> None:
        """Weekly insight memo: what changed, whether it is real, and what to do (Markdown + HTML)."""
        from assistant.errors import ArgumentError
        from assistant.memo import build_memo, memo_paths, weeks_since_last, write_memo
        from assistant.reco_ledger import RecommendationLedger
        from assistant.render import emit
        from assistant.session import require_feedback_file, settings_from_flags, tool_context
        from tools.weeks import IsoWeek

        require_feedback_file(feedback)
        if since_last and (week or out):
            raise ArgumentError("--since-last picks the weeks itself; drop --week and --out (memos go to the out dir)")
        if out is not None:
            memo_paths(IsoWeek(2000, 1), out, ".")  # reject a bad extension before any work
        overrides = {"feedback.path": feedback, "memo.out_dir": out_dir}
        settings = settings_from_flags(data, source_format, maps, timezone, conversion, more=overrides)
        context = tool_context(settings)
        ledger = RecommendationLedger(settings.memo.recommendation_ledger)
        weeks: list[Any] = weeks_since_last(context, settings.memo.out_dir) if since_last else [week]
        written = []
        for target in weeks:
            memo_ = build_memo(context, settings, week=target, ledger=ledger)
            paths = write_memo(memo_, memo_paths(memo_.week, out, settings.memo.out_dir))
            written.append((memo_, paths))
        result = memo_result(written, settings.memo.out_dir, settings.memo.recommendation_ledger)
        if fmt != "table":
            emit(result, fmt)
            return
        from rich.console import Console
        from rich.markdown import Markdown

        console = Console()
        if not written:
            console.print("nothing to write: every complete week already has a memo in " + settings.memo.out_dir)
        for memo_, paths in written:
            console.rule(f"memo {memo_.week.label}")
            console.print(Markdown(memo_.summary.text))
            for note in result.notes:
                if note.startswith(memo_.week.label):
                    console.print(f"[yellow]•[/yellow] {note}")
            console.print("wrote " + ", ".join(f"[bold]{p}[/bold]" for p in paths))
