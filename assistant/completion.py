"""A plain prompt -> text function over the configured LLM, for tools that take a ``complete`` hook.

Every request goes through the egress ledger like the agent's; errors become one ``ProviderError`` line.
"""

from __future__ import annotations

from collections.abc import Callable

from assistant.config import Settings


def make_completer(settings: Settings) -> tuple[Callable[[str], str], str] | None:
    """``(complete, model)`` for the configured provider, or ``None`` when the provider is offline.

    Raises:
        ProviderError / ConfigError: the provider is configured but unusable (no key, no base_url).
    """
    from assistant.ledger import EgressLedger, LedgerCallback
    from assistant.providers import make_chat_model, provider_exceptions, resolve_provider, translate_error

    info = resolve_provider(settings.llm)
    if info.is_offline:
        return None
    ledger = LedgerCallback(EgressLedger(settings.privacy.ledger), info.name, info.endpoint, info.model, [])
    model = make_chat_model(settings.llm, info, callbacks=[ledger])

    def complete(prompt: str) -> str:
        from langchain_core.messages import HumanMessage

        try:
            reply = model.invoke([HumanMessage(prompt)])
        except provider_exceptions() as exc:
            raise translate_error(exc, info, settings.llm) from exc
        return reply.text if hasattr(reply, "text") and isinstance(reply.text, str) else str(reply.content)

    return complete, info.model
