"""Test doubles for the assistant: a tool-calling fake chat model.

LangChain's stock fakes cannot bind tools, so ``ScriptedChatModel`` is a small ``BaseChatModel`` whose
``bind_tools`` returns itself and which replays scripted ``AIMessage`` objects (with or without
``tool_calls``) in order, recording every message list it was sent and the tools it was bound to.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from pydantic import Field

_ids = itertools.count(1)


def call(name: str, **arguments: Any) -> dict[str, Any]:
    """One scripted tool call (a unique id is generated)."""
    return {"name": name, "args": arguments, "id": f"call_{next(_ids)}", "type": "tool_call"}


def tool_turn(*calls: dict[str, Any], text: str = "") -> AIMessage:
    """A scripted model reply that calls tools."""
    return AIMessage(content=text, tool_calls=list(calls))


def answer(text: str) -> AIMessage:
    """A scripted final answer (no tool calls)."""
    return AIMessage(content=text)


class ScriptedChatModel(BaseChatModel):
    """Replays scripted replies; records what it was sent.

    A script item is an ``AIMessage`` or a callable ``(messages) -> AIMessage`` (to answer from what the
    model was sent, e.g. echo a tool result). When the script runs out the model answers ``"(end of script)"``.

    Attributes:
        script: the replies, consumed in order.
        sent: every message list the model received, in order.
        bound_tools: the tool schemas passed to ``bind_tools`` (last call).
        stream_chunk_size: when streaming, text content is emitted in chunks of this many characters.
    """

    script: list[Any] = Field(default_factory=list)
    sent: list[list[BaseMessage]] = Field(default_factory=list)
    bound_tools: list[Any] = Field(default_factory=list)
    stream_chunk_size: int = 4

    @property
    def _llm_type(self) -> str:
        return "scripted-fake"

    def bind_tools(
        self, tools: Sequence[Any], *, tool_choice: str | None = None, **kwargs: Any
    ) -> Runnable[Any, AIMessage]:
        self.bound_tools = list(tools)
        return self

    def _next(self, messages: list[BaseMessage]) -> AIMessage:
        self.sent.append(list(messages))
        if not self.script:
            return AIMessage(content="(end of script)")
        item = self.script.pop(0)
        reply: AIMessage = item(messages) if callable(item) else item
        # A fresh copy with fresh ids so a replayed message never collides with an earlier one.
        return AIMessage(content=reply.content, tool_calls=list(reply.tool_calls))

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._next(messages))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        reply = self._next(messages)
        text = reply.content if isinstance(reply.content, str) else ""
        size = max(self.stream_chunk_size, 1)
        pieces = [text[i : i + size] for i in range(0, len(text), size)] or [""]
        for index, piece in enumerate(pieces):
            last = index == len(pieces) - 1
            chunk = AIMessageChunk(
                content=piece,
                tool_call_chunks=[
                    {
                        "name": c["name"],
                        "args": _json(c["args"]),
                        "id": c["id"],
                        "index": i,
                        "type": "tool_call_chunk",
                    }
                    for i, c in enumerate(reply.tool_calls)
                ]
                if last
                else [],
            )
            if run_manager and piece:
                run_manager.on_llm_new_token(piece, chunk=ChatGenerationChunk(message=chunk))
            yield ChatGenerationChunk(message=chunk)


def _json(value: Any) -> str:
    import json

    return json.dumps(value)


def echo_last_tool(prefix: str = "") -> Callable[[list[BaseMessage]], AIMessage]:
    """A script item answering with the content of the last tool message (for assertions on results)."""

    def reply(messages: list[BaseMessage]) -> AIMessage:
        tool_texts = [m.content for m in messages if m.type == "tool"]
        return AIMessage(content=prefix + str(tool_texts[-1] if tool_texts else ""))

    return reply
