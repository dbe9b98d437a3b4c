"""Chat-model factory: ``openai`` | ``openai-compatible`` (any base_url) | ``offline``.

``[llm] provider = "auto"`` picks, in order: the compatible endpoint when ``[llm] base_url`` is set (with the
key if one is set: Azure-style gateways need it, Ollama/vLLM/LM Studio do not), OpenAI when the key variable
(``[llm] api_key_env``, default ``OPENAI_API_KEY``) is set, else offline (the no-LLM router).

Both LLM providers use ``ChatOpenAI`` over the Chat Completions API with ``[llm] timeout`` and
``[llm] max_retries`` (the OpenAI client backs off on 429 and 5xx, honouring ``Retry-After``). Failures become
one ``ProviderError`` line naming the setting that fixes them. Nothing here counts tokens: tiktoken downloads
its encodings at first use, so ``get_num_tokens`` is never called.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assistant.config import LLMSettings
from assistant.errors import ConfigError, ProviderError

if TYPE_CHECKING:
    from langchain_core.callbacks import BaseCallbackHandler
    from langchain_core.language_models.chat_models import BaseChatModel

OPENAI_ENDPOINT = "https://api.openai.com/v1"
# Placeholder key for endpoints that need none (the OpenAI client refuses to start without one).
NO_KEY = "not-needed"


@dataclass(frozen=True)
class ProviderInfo:
    """Which LLM answers, and where requests go.

    Attributes:
        name: ``openai``, ``openai-compatible`` or ``offline`` (tests may use other names for fakes).
        model: the model name requested.
        endpoint: the base URL requests go to ("" when offline).
        key_env: the environment variable the key was read from.
    """

    name: str
    model: str
    endpoint: str
    key_env: str = "OPENAI_API_KEY"

    @property
    def is_offline(self) -> bool:
        """True when no LLM is used."""
        return self.name == "offline"

    def label(self) -> str:
        """A short human label: ``openai gpt-4o-mini``, ``offline``."""
        return "offline" if self.is_offline else f"{self.name} {self.model}"


def resolve_provider(settings: LLMSettings, environ: Mapping[str, str] | None = None) -> ProviderInfo:
    """Decide the provider from ``[llm]`` settings and the environment.

    Raises:
        ProviderError: ``openai`` was chosen but the key variable is not set.
        ConfigError: ``openai-compatible`` was chosen without ``[llm] base_url``.
    """
    env = os.environ if environ is None else environ
    key = env.get(settings.api_key_env) or ""
    base_url = settings.base_url.strip()
    choice = settings.provider
    if choice == "auto":
        choice = "openai-compatible" if base_url else "openai" if key else "offline"
    if choice == "offline":
        return ProviderInfo("offline", "", "", settings.api_key_env)
    if choice == "openai":
        if not key:
            raise ProviderError(
                f'[llm] provider = "openai" but ${settings.api_key_env} is not set; export the key, '
                'or set [llm] provider = "offline" (or "auto")'
            )
        return ProviderInfo("openai", settings.model, base_url or OPENAI_ENDPOINT, settings.api_key_env)
    if not base_url:
        raise ConfigError(
            '[llm] provider = "openai-compatible" needs [llm] base_url, e.g. "http://localhost:11434/v1" for Ollama'
        )
    return ProviderInfo("openai-compatible", settings.model, base_url.rstrip("/"), settings.api_key_env)


def make_chat_model(
    settings: LLMSettings,
    info: ProviderInfo,
    callbacks: Sequence[BaseCallbackHandler] = (),
    environ: Mapping[str, str] | None = None,
    **extra: Any,
) -> BaseChatModel:
    """A ``ChatOpenAI`` for an LLM provider (``extra`` goes to its constructor, e.g. ``http_client``).

    Raises:
        ProviderError: the provider is offline (there is no chat model to make).
    """
    if info.is_offline:
        raise ProviderError("the offline provider has no chat model; the offline router answers instead")
    from langchain_openai import ChatOpenAI

    env = os.environ if environ is None else environ
    key = env.get(info.key_env) or NO_KEY
    return ChatOpenAI(
        model=info.model,
        base_url=info.endpoint,
        api_key=key,  # type: ignore[arg-type]
        temperature=settings.temperature,
        timeout=settings.timeout,
        max_retries=settings.max_retries,
        # Chat Completions is what every compatible server speaks; the Responses API is OpenAI-only.
        use_responses_api=False,
        callbacks=list(callbacks),
        **extra,
    )


def provider_exceptions() -> tuple[type[Exception], ...]:
    """The exception types of the OpenAI client that ``translate_error`` understands."""
    import openai

    return (openai.APIError,)


def translate_error(exc: Exception, info: ProviderInfo, settings: LLMSettings) -> ProviderError:
    """One clear line for a failed request: what happened, and the setting that fixes it."""
    import openai

    where = info.endpoint or "the LLM endpoint"
    offline = '[llm] provider = "offline"'
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return ProviderError(f"the API key in ${info.key_env} was rejected by {where}; set a valid key or {offline}")
    if isinstance(exc, openai.APITimeoutError):
        return ProviderError(
            f"{where} did not answer within [llm] timeout = {settings.timeout:g}s (after {settings.max_retries} "
            f"retries); raise [llm] timeout, check [llm] base_url, or set {offline}"
        )
    if isinstance(exc, openai.APIConnectionError):
        return ProviderError(
            f"cannot reach the LLM endpoint {where}; check [llm] base_url (is the server running?) or set {offline}"
        )
    if isinstance(exc, openai.RateLimitError):
        return ProviderError(
            f"{where} is still rate-limiting (HTTP 429) after {settings.max_retries} retries; wait and retry, "
            f"raise [llm] max_retries, or set {offline}"
        )
    if isinstance(exc, openai.NotFoundError):
        return ProviderError(f"{where} does not serve model {info.model!r} (HTTP 404); set [llm] model")
    if isinstance(exc, openai.APIStatusError):
        return ProviderError(f"{where} answered HTTP {exc.status_code}: {exc.message}; check [llm] settings")
    return ProviderError(f"the request to {where} failed: {exc}; check [llm] settings or set {offline}")
