"""The LLM agent: a LangChain ``create_agent`` loop over the tool registry. One turn in, answer + trace out.

Each registry ``ToolSpec`` becomes a ``StructuredTool`` (``args_schema`` = the spec's pydantic model) whose body
calls ``tools.registry.invoke`` with the session's ``ToolContext`` and returns the compact JSON of the
``ToolResult`` (lists capped at ``[llm] result_rows``): aggregates only, never raw rows. Middleware around the
tools enforces the per-question call budget (``[llm] max_tool_calls``), turns bad arguments into
``error: …`` text the model can act on, serialises tool execution (the engine connection is not
thread-safe; the model may ask for several tools at once) and records the trace in the order the model
asked for the calls (parallel calls finish in any order; trace and budget must not depend on that).
After the answer, every number in it is checked against the turn's tool results (``assistant.verify``).
Every request to the model is recorded in the egress ledger by a callback (``assistant.ledger``).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from assistant.config import LLMSettings, Settings
from assistant.errors import JourneyError
from assistant.prompts import render
from assistant.providers import (
    ProviderInfo,
    make_chat_model,
    provider_exceptions,
    resolve_provider,
    translate_error,
)
from assistant.routing import looks_like_pasted_stats
from assistant.verify import NumberCheck, verify_answer
from tools.context import ToolContext
from tools.errors import ArgumentError, DataError
from tools.registry import ToolSpec, all_tools, invoke, validate_arguments
from tools.result import ToolResult

if TYPE_CHECKING:
    from langchain_core.language_models.chat_models import BaseChatModel
    from langchain_core.messages import BaseMessage, ToolMessage
    from langchain_core.tools import StructuredTool

    from assistant.ledger import EgressLedger

log = logging.getLogger(__name__)


@dataclass
class ToolCallRecord:
    """One tool call of a turn, as shown to the person and in ``--format json``."""

    name: str
    arguments: dict[str, Any]
    seconds: float
    error: str | None = None
    slot: int = 0  # position among the turn's requested calls: the trace's order

    def as_dict(self) -> dict[str, Any]:
        """``{name, arguments, seconds}`` (+ ``error`` when the call failed)."""
        out: dict[str, Any] = {
            "name": self.name,
            "arguments": self.arguments,
            "seconds": round(self.seconds, 4),
        }
        if self.error:
            out["error"] = self.error
        return out


@dataclass
class TurnResult:
    """The outcome of one question.

    Attributes:
        answer: the answer text; numbers no tool result supports are marked ``⚠``.
        provider: ``openai``, ``openai-compatible`` or ``offline``.
        tool_calls: ``[{name, arguments, seconds}]`` in the order the model asked for them.
        numbers: ``{"verified": [...], "unverified": [...]}`` as written in the answer.
        results: the full ``ToolResult`` of each successful call.
        model: the model name ("" offline).
        notes: caveats about the answer (unverified numbers, budget exhausted, offline mode).
    """

    answer: str
    provider: str
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    numbers: dict[str, list[str]] = field(default_factory=lambda: {"verified": [], "unverified": []})
    results: list[ToolResult] = field(default_factory=list)
    model: str = ""
    notes: list[str] = field(default_factory=list)

    def as_result(self) -> dict[str, Any]:
        """The ``result`` object of ``journey ask --format json``."""
        return {
            "answer": self.answer,
            "provider": self.provider,
            "tool_calls": self.tool_calls,
            "numbers": self.numbers,
        }


@dataclass
class TurnHooks:
    """Optional callbacks for a live display: streamed text and tool calls as they happen."""

    on_token: Callable[[str], None] | None = None
    on_tool_start: Callable[[str, dict[str, Any]], None] | None = None
    on_tool_end: Callable[[ToolCallRecord], None] | None = None


class Assistant(Protocol):
    """What the chat loop and ``journey ask`` talk to: the LLM agent or the offline router."""

    provider: ProviderInfo
    specs: Mapping[str, ToolSpec]

    def ask(self, question: str, hooks: TurnHooks | None = None) -> TurnResult:
        """Answer one question (with the conversation so far as memory)."""
        ...

    def reset(self) -> None:
        """Forget the conversation."""
        ...


@dataclass
class _Turn:
    """Per-question bookkeeping shared by the tool middleware and the tool bodies."""

    budget: int
    hooks: TurnHooks
    used: int = 0
    calls: list[ToolCallRecord] = field(default_factory=list)
    slotted: list[tuple[int, ToolResult]] = field(default_factory=list)
    slot: int = 0  # the slot of the call now running (set under the lock)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def ordered_calls(self) -> list[ToolCallRecord]:
        """The trace in the order the model asked for the calls."""
        return sorted(self.calls, key=lambda c: c.slot)

    @property
    def results(self) -> list[ToolResult]:
        """The successful results in the order the model asked for the calls."""
        return [r for _, r in sorted(self.slotted, key=lambda pair: pair[0])]


def call_slot(messages: Sequence[Any], call_id: str) -> int:
    """Position of tool call ``call_id`` among the calls the model asked for since the question.

    Parallel calls reach the middleware in any order; numbering them by the model's request order keeps the
    trace, and which calls a tight budget refuses, the same on every run.
    """
    from langchain_core.messages import AIMessage, HumanMessage

    start = max((i for i, m in enumerate(messages) if isinstance(m, HumanMessage)), default=-1) + 1
    slot = 0
    for message in messages[start:]:
        if isinstance(message, AIMessage):
            for requested in message.tool_calls:
                if requested.get("id") == call_id:
                    return slot
                slot += 1
    return slot


def budget_message(budget: int) -> str:
    """What the model reads when it asks for more tools than the budget allows."""
    return (
        f"budget exhausted: this question has used all {budget} tool calls ([llm] max_tool_calls); do not call "
        "more tools — answer now from the results above and say what is still unknown"
    )


def data_profile(context: ToolContext, top: int = 40) -> dict[str, Any]:
    """What the system prompt says about the data; names are listed so the model never guesses them."""
    try:
        dataset = context.dataset()
    except DataError as exc:
        return {"loaded": False, "reason": str(exc)}
    summary = dataset.summary()
    events = dataset.event_counts()
    channels = dataset.channel_counts()
    return {
        "loaded": True,
        "customers": f"{int(summary['customers']):,}",
        "events": f"{int(summary['events']):,}",
        "first": summary["first"].isoformat() if summary["first"] else "?",
        "last": summary["last"].isoformat() if summary["last"] else "?",
        "event_names": [(name, f"{n:,}") for name, n in list(events.items())[:top]],
        "more_events": max(len(events) - top, 0),
        "channels": [(name, f"{n:,}") for name, n in list(channels.items())[:top]],
        "properties": list(dataset.property_columns),
    }


def system_prompt(context: ToolContext, specs: Mapping[str, ToolSpec], max_tool_calls: int) -> str:
    """Render ``prompts/system.md.j2`` with the dataset's vocabulary, the defaults and the tools."""
    from tools.durations import format_duration

    defaults = context.defaults
    return render(
        "system.md.j2",
        data=data_profile(context),
        conversion=defaults.conversion,
        stages=list(defaults.stages),
        window=format_duration(defaults.window),
        max_tool_calls=max_tool_calls,
        tools=[{"name": s.name, "summary": s.description.split(". ")[0].rstrip(".") + "."} for s in specs.values()],
    )


def make_tools(specs: Mapping[str, ToolSpec], run: Callable[[str, dict[str, Any]], str]) -> list[StructuredTool]:
    """One ``StructuredTool`` per spec: the model sees the spec's description and argument schema."""
    from langchain_core.tools import StructuredTool

    def body(name: str) -> Callable[..., str]:
        def call(**arguments: Any) -> str:
            return run(name, arguments)

        return call

    return [
        StructuredTool.from_function(
            func=body(spec.name), name=spec.name, description=spec.description, args_schema=spec.args
        )
        for spec in specs.values()
    ]


def _middleware(agent: JourneyAgent) -> list[Any]:
    """Tool middleware (budget, validation, trace, errors) and a hard stop on model calls."""
    from langchain.agents.middleware import AgentMiddleware, ModelCallLimitMiddleware, ToolErrorMiddleware
    from langchain_core.messages import ToolMessage

    class RegistryTools(AgentMiddleware):  # type: ignore[type-arg]
        """Budget, argument validation in domain words, serial execution and the trace."""

        def wrap_tool_call(self, request: Any, handler: Callable[[Any], Any]) -> Any:
            turn = agent.turn
            call = request.tool_call
            name, arguments = call["name"], dict(call.get("args") or {})
            state = request.state
            messages = state.get("messages", []) if isinstance(state, dict) else getattr(state, "messages", [])
            slot = call_slot(messages, call["id"])
            with turn.lock:
                if slot >= turn.budget:
                    return ToolMessage(budget_message(turn.budget), tool_call_id=call["id"], name=name, status="error")
                turn.used += 1
                turn.slot = slot
                spec = agent.specs.get(name)
                if spec is not None:
                    try:
                        validate_arguments(spec, arguments)
                    except ArgumentError as exc:
                        return agent.record(
                            name,
                            arguments,
                            slot,
                            0.0,
                            ToolMessage(f"error: {exc}", tool_call_id=call["id"], name=name, status="error"),
                        )
                if turn.hooks.on_tool_start:
                    turn.hooks.on_tool_start(name, arguments)
                started = time.perf_counter()
                message = handler(request)
                return agent.record(name, arguments, slot, time.perf_counter() - started, message)

    def on_error(exc: Exception, request: Any) -> str:
        name = request.tool_call["name"]
        if isinstance(exc, JourneyError):
            return f"error: {exc}"
        # A bug in a tool: the model gets a short message; the trace and the log keep the details.
        log.warning("tool %s failed unexpectedly", name, exc_info=exc)
        return (
            f"error: the {name} tool failed unexpectedly ({type(exc).__name__}: {exc}); "
            "try other arguments or another tool"
        )

    limit = ModelCallLimitMiddleware(run_limit=agent.max_tool_calls + 2, exit_behavior="end")
    return [RegistryTools(), ToolErrorMiddleware(on_error=on_error), limit]


def run_spec(spec: ToolSpec, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
    """``tools.registry.invoke`` for a spec this session holds (validate, then run); registry specs go through it."""
    registered = all_tools().get(spec.name)
    if registered is spec:
        return invoke(spec.name, arguments, context)
    return spec.run(context, validate_arguments(spec, arguments))


class JourneyAgent:
    """The LLM assistant of one session: model + tools + system prompt + conversation memory."""

    def __init__(
        self,
        context: ToolContext,
        model: BaseChatModel,
        provider: ProviderInfo,
        settings: LLMSettings | None = None,
        *,
        ledger: EgressLedger | None = None,
        specs: Mapping[str, ToolSpec] | None = None,
    ) -> None:
        from langchain.agents import create_agent

        from assistant.ledger import LedgerCallback

        self.context = context
        self.provider = provider
        self.settings = settings or LLMSettings()
        self.max_tool_calls = self.settings.max_tool_calls
        self.result_rows = self.settings.result_rows
        self.specs: Mapping[str, ToolSpec] = dict(specs if specs is not None else all_tools())
        self.messages: list[BaseMessage] = []
        self.turn = _Turn(budget=self.max_tool_calls, hooks=TurnHooks())
        self.system_prompt = system_prompt(context, self.specs, self.max_tool_calls)
        self.callbacks = (
            [LedgerCallback(ledger, provider.name, provider.endpoint, provider.model, list(self.specs))]
            if ledger
            else []
        )
        self.graph: Any = create_agent(
            model,
            make_tools(self.specs, self._run_tool),
            system_prompt=self.system_prompt,
            middleware=_middleware(self),
        )

    def _run_tool(self, name: str, arguments: dict[str, Any]) -> str:
        result = run_spec(self.specs[name], arguments, self.context)
        self.turn.slotted.append((self.turn.slot, result))
        return json.dumps(result.compact(max_rows=self.result_rows), ensure_ascii=False, default=str)

    def record(
        self, name: str, arguments: dict[str, Any], slot: int, seconds: float, message: ToolMessage
    ) -> ToolMessage:
        """Add a finished call to the turn's trace (and tell the live display)."""
        error = str(message.content) if getattr(message, "status", "success") == "error" else None
        record = ToolCallRecord(name, arguments, seconds, error, slot)
        self.turn.calls.append(record)
        if self.turn.hooks.on_tool_end:
            self.turn.hooks.on_tool_end(record)
        return message

    def reset(self) -> None:
        """Forget the conversation (``/reset``)."""
        self.messages = []

    def ask(self, question: str, hooks: TurnHooks | None = None) -> TurnResult:
        """Answer one question; the conversation so far is the memory.

        Raises:
            ProviderError: the LLM endpoint failed (auth, unreachable, timeout, rate limit after retries).
        """
        from langchain_core.messages import AIMessage, HumanMessage

        if looks_like_pasted_stats(question) and any("pasted" in name for name in self.specs):
            return self._pasted(question, hooks)
        self.turn = _Turn(budget=self.max_tool_calls, hooks=hooks or TurnHooks())
        state_in: Any = {"messages": [*self.messages, HumanMessage(question)]}
        config: dict[str, Any] = {
            "callbacks": self.callbacks,
            "recursion_limit": 4 * self.max_tool_calls + 10,
        }
        try:
            if self.turn.hooks.on_token:
                final = self._stream(state_in, config, self.turn.hooks.on_token)
            else:
                final = self.graph.invoke(state_in, config=config)
        except provider_exceptions() as exc:
            raise translate_error(exc, self.provider, self.settings) from exc
        messages: list[BaseMessage] = list(final["messages"])
        last = messages[-1] if messages else AIMessage("")
        answer = last.text if isinstance(last, AIMessage) else ""
        notes: list[str] = []
        if self.turn.used >= self.max_tool_calls and (not answer or answer.startswith("Model call limit")):
            answer = f"I stopped before finding an answer: the {self.max_tool_calls}-call tool budget is used up."
            notes.append("tool-call budget exhausted ([llm] max_tool_calls)")
        self.messages = messages
        return finish_turn(question, answer, self.provider, self.turn.ordered_calls, self.turn.results, notes)

    def _stream(self, state_in: dict[str, Any], config: dict[str, Any], on_token: Callable[[str], None]) -> Any:
        from langchain_core.messages import AIMessageChunk

        final: Any = None
        for mode, data in self.graph.stream(state_in, config=config, stream_mode=["messages", "values"]):
            if mode == "values":
                final = data
                continue
            chunk, meta = data
            if isinstance(chunk, AIMessageChunk) and meta.get("langgraph_node") == "model" and chunk.text:
                on_token(chunk.text)
        return final

    def _pasted(self, text: str, hooks: TurnHooks | None) -> TurnResult:
        """Pasted funnel stats go straight to the pasted-funnel tool (deterministic, no LLM needed)."""
        from langchain_core.messages import AIMessage, HumanMessage

        from assistant.offline import OfflineAssistant

        turn = OfflineAssistant(self.context, self.specs, result_rows=self.result_rows).ask(text, hooks)
        self.messages = [*self.messages, HumanMessage(text), AIMessage(turn.answer)]
        return turn


def finish_turn(
    question: str,
    answer: str,
    provider: ProviderInfo,
    calls: Sequence[ToolCallRecord],
    results: Sequence[ToolResult],
    notes: list[str] | None = None,
    verify: bool = True,
) -> TurnResult:
    """Verify the answer's numbers against the results and assemble the ``TurnResult``.

    ``verify=False`` is for fixed help text that makes no claims about the data.
    """
    check = verify_answer(answer, results, question) if verify else NumberCheck(marked=answer)
    notes = list(notes or [])
    if check.unverified:
        notes.append(
            f"{len(check.unverified)} number(s) could not be traced to a tool result and are marked ⚠: "
            + ", ".join(check.unverified)
        )
    return TurnResult(
        answer=check.marked,
        provider=provider.name,
        tool_calls=[c.as_dict() for c in calls],
        numbers=check.as_dict(),
        results=list(results),
        model=provider.model,
        notes=notes,
    )


def build_assistant(
    context: ToolContext,
    settings: Settings,
    model: BaseChatModel | None = None,
    provider: ProviderInfo | None = None,
    specs: Mapping[str, ToolSpec] | None = None,
) -> Assistant:
    """The assistant for these settings: the LLM agent, or the offline router when no LLM is configured.

    Args:
        context: the session's tool context (data, feedback store, defaults).
        settings: the application settings (``[llm]`` and ``[privacy]`` are used here).
        model: an injected chat model (tests); skips provider resolution.
        provider: how to label an injected model (default: ``ProviderInfo("injected", ...)``).
        specs: the tools to offer (default: the whole registry).
    """
    from assistant.ledger import EgressLedger
    from assistant.offline import OfflineAssistant

    llm = settings.llm
    ledger = EgressLedger(settings.privacy.ledger)
    if model is not None:
        info = provider or ProviderInfo("injected", getattr(model, "model_name", "") or type(model).__name__, "local")
    else:
        info = resolve_provider(llm)
        if info.is_offline:
            return OfflineAssistant(context, specs, result_rows=llm.result_rows)
        model = make_chat_model(llm, info)
    return JourneyAgent(context, model, info, llm, ledger=ledger, specs=specs)


def answer_samples(
    context: ToolContext, settings: Settings, questions: Sequence[str], model: BaseChatModel | None = None
) -> list[TurnResult]:
    """Answer sample questions for ``journey demo`` (offline unless a provider is configured), each afresh."""
    assistant = build_assistant(context, settings, model=model)
    turns = []
    for question in questions:
        assistant.reset()
        turns.append(assistant.ask(question))
    return turns
