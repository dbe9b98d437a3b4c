"""From command-line flags to settings and a tool context (the glue every command shares)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.config import Settings, load_settings
from tools.context import ToolContext
from tools.errors import ConfigError, DataError

if TYPE_CHECKING:
    from tools.feedback_store import FeedbackSource


@dataclass
class CliState:
    """Global options given before the command (``journey --config FILE …``)."""

    config: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


STATE = CliState()


def parse_maps(
    maps: list[str] | None, prefix: str = "data.columns.", example: str = "customer_id=user_id"
) -> dict[str, str]:
    """``["customer_id=user"]`` -> ``{"data.columns.customer_id": "user"}`` (``prefix`` names the settings)."""
    out: dict[str, str] = {}
    for item in maps or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ConfigError(f"--map {item!r} is not FIELD=COLUMN; e.g. --map {example}")
        out[f"{prefix}{key.strip()}"] = value.strip()
    return out


def settings_from_flags(
    data: str | None = None,
    source_format: str | None = None,
    maps: list[str] | None = None,
    timezone: str | None = None,
    conversion: str | None = None,
    more: dict[str, Any] | None = None,
) -> Settings:
    """Settings with the flag values applied on top of environment, file and defaults."""
    overrides: dict[str, Any] = {
        "data.path": data,
        "data.source_format": source_format,
        "data.timezone": timezone,
        "journey.conversion": conversion,
        **parse_maps(maps),
        **(more or {}),
    }
    return load_settings(STATE.config, overrides)


def load_dataset(settings: Settings) -> Any:
    """Load the configured event data on the configured engine."""
    from tools.dataset import connect, load_events

    con = connect(settings.engine.backend, settings.engine.threads)
    return load_events(
        settings.data.path,
        source_format=settings.data.source_format,
        columns=settings.column_map(),
        timezone=settings.data.timezone,
        con=con,
    )


def require_feedback_file(path: str | None) -> str | None:
    """A ``--feedback`` file the person named must exist (a configured default may be absent: see
    ``tools.feedback.ensure_indexed``); globs are resolved later."""
    if path and not any(ch in path for ch in "*?[") and not Path(path).exists():
        raise DataError(f"feedback file {path!r} does not exist; fix --feedback or drop it")
    return path


def feedback_source(
    settings: Settings, path: str | Path | None = None, columns: dict[str, str] | None = None
) -> FeedbackSource:
    """The ``FeedbackSource`` for these settings (what ``ToolContext.feedback`` holds).

    Args:
        settings: the application settings (store, collection, embedding, quote length, stages, timezone).
        path: a feedback file the tools index on first use; ``None`` to use the store as it is.
        columns: feedback column mapping (``--map``).
    """
    from tools.feedback_store import FeedbackSource

    options: dict[str, Any] = {}
    if settings.feedback.embedding == "openai":
        options = {"api_key_env": settings.llm.api_key_env, "base_url": settings.llm.base_url}
    return FeedbackSource(
        store=settings.feedback.store,
        collection=settings.feedback.collection,
        embedding=settings.feedback.embedding,
        path=str(path) if path else None,
        columns=columns or {},
        timezone=settings.data.timezone,
        quote_chars=settings.privacy.quote_chars,
        stages=tuple(settings.journey.stages),
        embedding_options=options,
    )


def tool_context(settings: Settings) -> ToolContext:
    """A context whose dataset loads on first use, with the feedback store configured."""
    context = ToolContext(defaults=settings.defaults(), load_dataset=lambda: load_dataset(settings))
    context.feedback = feedback_source(settings, path=settings.feedback.path or None)
    return context
