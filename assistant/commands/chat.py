"""``journey ask``, ``journey chat`` and ``journey ledger``: the assistant and its egress ledger."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from assistant.options import (
    ConversionOpt,
    DataOpt,
    FeedbackOpt,
    FormatOpt,
    MapOpt,
    SourceFormatOpt,
    TimezoneOpt,
)
from tools.errors import ArgumentError

if TYPE_CHECKING:
    from assistant.agent import TurnResult
    from assistant.config import Settings
    from tools.context import ToolContext

ProviderOpt = Annotated[
    str | None,
    typer.Option("--provider", help="auto|openai|openai-compatible|offline (default: \\[llm] provider)."),
]


def session(
    data: str | None,
    feedback: str | None,
    source_format: str | None,
    maps: list[str] | None,
    timezone: str | None,
    conversion: str | None,
    provider: str | None,
) -> tuple[Settings, ToolContext]:
    """Settings from the flags, and a tool context with the event data and the feedback store."""
    from assistant.session import require_feedback_file, settings_from_flags, tool_context

    settings = settings_from_flags(
        data,
        source_format,
        maps,
        timezone,
        conversion,
        more={"feedback.path": require_feedback_file(feedback), "llm.provider": provider},
    )
    return settings, tool_context(settings)


def ask_definition(settings: Settings, question: str, provider: Any) -> dict[str, Any]:
    """The ``definition`` of ``journey ask --format json``: how the question was answered."""
    return {
        "question": question,
        "provider": provider.name,
        "model": provider.model,
        "endpoint": provider.endpoint,
        "data": settings.data.path,
        "feedback": settings.feedback.path,
        "max_tool_calls": settings.llm.max_tool_calls,
        "temperature": settings.llm.temperature,
        "result_rows": settings.llm.result_rows,
        "number_check": "every number in the answer is matched against the turn's tool results (assistant.verify)",
    }


def ask_result(settings: Settings, question: str, turn: TurnResult, provider: Any) -> Any:
    """The turn as the ``{"tool", "definition", "result", "notes"}`` object of the CLI contract."""
    from tools.result import ToolResult

    return ToolResult(
        tool="ask",
        definition=ask_definition(settings, question, provider),
        result=turn.as_result(),
        notes=turn.notes,
    )


def register(app: typer.Typer) -> None:
    """Add ``ask``, ``chat`` and ``ledger``."""

    @app.command()
    def ask(
        question: Annotated[str, typer.Argument(help="The question, in plain words (quote it).")],
        data: DataOpt = None,
        feedback: FeedbackOpt = None,
        source_format: SourceFormatOpt = None,
        maps: MapOpt = None,
        timezone: TimezoneOpt = None,
        conversion: ConversionOpt = None,
        provider: ProviderOpt = None,
        fmt: FormatOpt = "table",
    ) -> None:
        """Answer one question with the assistant (an LLM if configured, else the offline router)."""
        import sys

        from rich.console import Console

        from assistant.agent import build_assistant
        from assistant.chat import run_turn
        from assistant.render import emit

        if not question.strip():
            raise ArgumentError(
                'the question is empty; ask in plain words, e.g. journey ask "which channel drives purchases?"'
            )
        settings, context = session(data, feedback, source_format, maps, timezone, conversion, provider)
        assistant = build_assistant(context, settings)
        if fmt == "table":
            run_turn(assistant, question, Console())
            return
        turn = assistant.ask(question)
        if fmt == "markdown":
            sys.stdout.write(turn.answer.rstrip() + "\n\n")
            for call in turn.tool_calls:
                sys.stdout.write(f"- tool `{call['name']}` {call['arguments']} ({call['seconds']:.2f}s)\n")
            for note in turn.notes:
                sys.stdout.write(f"- note: {note}\n")
            return
        emit(ask_result(settings, question, turn, assistant.provider), fmt)

    @app.command()
    def chat(
        data: DataOpt = None,
        feedback: FeedbackOpt = None,
        source_format: SourceFormatOpt = None,
        maps: MapOpt = None,
        timezone: TimezoneOpt = None,
        conversion: ConversionOpt = None,
        provider: ProviderOpt = None,
    ) -> None:
        """Chat about your journeys: answers, tool calls as they run, /help for commands."""
        from rich.console import Console

        from assistant.agent import build_assistant, data_profile
        from assistant.chat import run_chat

        settings, context = session(data, feedback, source_format, maps, timezone, conversion, provider)
        assistant = build_assistant(context, settings)
        run_chat(assistant, Console(), lambda: data_profile(context))

    @app.command()
    def ledger(
        last: Annotated[int | None, typer.Option("--last", help="Show only the last N requests.", min=1)] = None,
        fmt: FormatOpt = "table",
    ) -> None:
        """What was sent to LLM endpoints: one entry per request (time, endpoint, model, messages, tools)."""
        from assistant.ledger import EgressLedger, summarize
        from assistant.render import emit
        from assistant.session import settings_from_flags
        from tools.result import ToolResult

        settings = settings_from_flags()
        book = EgressLedger(settings.privacy.ledger)
        entries = book.read(last)
        rows = entries if fmt == "json" else [summarize(e) for e in entries]
        notes = [] if entries else [f"no requests recorded in {book.path}: nothing has been sent to an LLM"]
        emit(
            ToolResult(
                tool="ledger",
                definition={"path": str(book.path), "last": last},
                result={"requests": len(entries), "entries": rows},
                notes=notes,
            ),
            fmt,
        )
