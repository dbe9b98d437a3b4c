"""``journey feedback index|search|summary``: the Chroma-backed feedback commands (thin: parse, call, render)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from assistant.options import DataOpt, FeedbackOpt, FormatOpt, MapOpt, SourceFormatOpt, StoreOpt, TimezoneOpt
from assistant.session import feedback_source, parse_maps, require_feedback_file

if TYPE_CHECKING:
    from assistant.config import Settings
    from tools.feedback_store import FeedbackSource
    from tools.sentiment import LLMSentiment

EmbeddingOpt = Annotated[
    str | None,
    typer.Option("--embedding", help="minilm (offline, default) | wordllama (offline, fast) | openai."),
]
StageOpt = Annotated[str | None, typer.Option("--stage", help="Only feedback about this journey stage.")]
SentimentOpt = Annotated[
    str | None, typer.Option("--sentiment", help="Only negative|neutral|positive feedback (neg/neu/pos).")
]


def parse_feedback_maps(maps: list[str] | None) -> dict[str, str]:
    """``["text=comment"]`` -> ``{"text": "comment"}`` (feedback fields; see tools.feedback_load)."""
    return parse_maps(maps, prefix="", example="text=comment")


def _settings(store: str | None, embedding: str | None = None, **flags: Any) -> Settings:
    from assistant.session import settings_from_flags

    return settings_from_flags(**flags, more={"feedback.store": store, "feedback.embedding": embedding})


def register(app: typer.Typer) -> None:
    """Add the ``feedback`` group with ``index``, ``search`` and ``summary``."""
    from assistant.cli import make_typer

    group = make_typer(help="Customer feedback: index into a local Chroma store, search it, summarise it.")

    @group.command("index")
    def index(
        file: Annotated[Path, typer.Argument(help="Feedback file: CSV/TSV, Parquet or JSON-lines.")],
        store: StoreOpt = None,
        data: DataOpt = None,
        source_format: SourceFormatOpt = None,
        maps: MapOpt = None,
        timezone: TimezoneOpt = None,
        embedding: EmbeddingOpt = None,
        batch_size: Annotated[int, typer.Option(help="Texts embedded and written per batch.", min=1)] = 256,
        llm_sentiment: Annotated[
            bool,
            typer.Option(
                "--llm-sentiment",
                help="Also score sentiment with the configured LLM (batched, redacted, cached in the store).",
            ),
        ] = False,
        fmt: FormatOpt = "table",
    ) -> None:
        """Redact, score and embed feedback into the store; already stored records are skipped (resumable).

        Missing stages are inferred from the events (--data) as the customer's furthest stage at feedback time.
        """
        from assistant.render import emit
        from assistant.session import load_dataset
        from tools.errors import DataError
        from tools.feedback import index_feedback

        if not any(c in str(file) for c in "*?[") and not file.exists():
            raise DataError(
                f"feedback file {str(file)!r} does not exist; pass a CSV/TSV, Parquet or JSON-lines file of "
                "feedback: journey feedback index FILE"
            )
        settings = _settings(store, embedding, data=data, source_format=source_format, timezone=timezone)
        source = feedback_source(settings, columns=parse_feedback_maps(maps))
        scorer = _llm_scorer(settings) if llm_sentiment else None  # fail before indexing, not after
        with _Progress(enabled=fmt == "table") as report:
            result = index_feedback(
                source, str(file), dataset=lambda: load_dataset(settings), batch_size=batch_size, progress=report
            )
        if scorer is not None:
            result.notes.append(_score_with_llm(source, scorer))
        emit(result, fmt)

    @group.command("search")
    def search(
        query: Annotated[str, typer.Argument(help="What to look for, in plain words.")],
        stage: StageOpt = None,
        sentiment: SentimentOpt = None,
        channel: Annotated[str | None, typer.Option(help="Only feedback from this channel.")] = None,
        top: Annotated[int, typer.Option(help="Number of matches.", min=1, max=200)] = 5,
        store: StoreOpt = None,
        feedback: FeedbackOpt = None,
        embedding: EmbeddingOpt = None,
        fmt: FormatOpt = "table",
    ) -> None:
        """Feedback closest in meaning to QUERY (redacted texts with stage, sentiment and distance)."""
        from assistant.render import emit
        from tools.feedback import ensure_indexed, search_feedback

        source = feedback_source(_settings(store, embedding), path=require_feedback_file(feedback))
        ensure_indexed(source)
        emit(search_feedback(source, query, top=top, stage=stage, sentiment=sentiment, channel=channel), fmt)

    @group.command("summary")
    def summary(
        by: Annotated[str, typer.Option(help="Group by stage|channel|week|theme.")] = "stage",
        stage: StageOpt = None,
        sentiment: SentimentOpt = None,
        themes: Annotated[bool, typer.Option(help="Also cluster texts into themes (--no-themes to skip).")] = True,
        k: Annotated[int | None, typer.Option("--k", help="Number of themes (default: by silhouette).", min=2)] = None,
        sentiment_source: Annotated[
            str,
            typer.Option(help="lexicon (offline) or llm (scores cached by `feedback index --llm-sentiment`)."),
        ] = "lexicon",
        store: StoreOpt = None,
        feedback: FeedbackOpt = None,
        embedding: EmbeddingOpt = None,
        fmt: FormatOpt = "table",
    ) -> None:
        """Count, negative share (95% Wilson interval) and mean sentiment by stage/channel/week, plus themes."""
        from assistant.render import emit
        from tools.feedback import ensure_indexed, summarize_feedback

        settings = _settings(store, embedding)
        source = feedback_source(settings, path=require_feedback_file(feedback))
        ensure_indexed(source)
        result = summarize_feedback(
            source,
            by=by,  # type: ignore[arg-type]  # validated by the tool with a domain message
            stage=stage,
            sentiment=sentiment,
            themes=themes,
            k=k or "auto",
            seed=settings.attribution.seed,
            sentiment_source=sentiment_source,  # type: ignore[arg-type]  # validated by the tool
        )
        emit(result, fmt)

    app.add_typer(group, name="feedback")


def _llm_scorer(settings: Settings) -> LLMSentiment:
    """The LLM sentiment scorer for the configured provider; a clear error when none is configured."""
    from assistant.completion import make_completer
    from tools.errors import ConfigError
    from tools.sentiment import LLMSentiment

    completer = make_completer(settings)
    if completer is None:
        raise ConfigError(
            "--llm-sentiment needs an LLM: export OPENAI_API_KEY, or set [llm] base_url for a compatible endpoint"
        )
    complete, model = completer
    return LLMSentiment(complete=complete, model=model, quote_chars=settings.privacy.quote_chars)


def _score_with_llm(source: FeedbackSource, scorer: LLMSentiment) -> str:
    """Score every stored text that has no cached LLM sentiment; returns a note for the result."""
    from tools.feedback import score_with_llm

    counts = score_with_llm(source, scorer)
    fallback = f"; {scorer.fallbacks} unreadable batches fell back to the lexicon" if scorer.fallbacks else ""
    return (
        f"LLM sentiment ({scorer.model}): {counts['scored']:,} texts scored, {counts['cached']:,} already cached"
        f"{fallback}; only redacted, truncated texts were sent (see `journey ledger`)"
    )


class _Progress:
    """A Rich progress bar on stderr (so ``--format json`` stays one object on stdout), or nothing."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> Any:
        if not self.enabled:
            return None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        console = Console(stderr=True)
        if not console.is_terminal:  # a bar redrawn into a log or pipe leaves only blank lines there
            return None
        self._bar = Progress(
            TextColumn("embedding feedback"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self._bar.start()
        return self.report

    def report(self, done: int, total: int) -> None:
        if self._task is None:
            self._task = self._bar.add_task("index", total=total)
        self._bar.update(self._task, completed=done, total=total)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
