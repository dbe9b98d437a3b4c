"""The egress ledger: a local JSONL record of every request sent to an LLM endpoint.

One line per request: when, to which endpoint and model, the exact messages sent (system prompt, question,
tool results) and the names of the tools offered. It is written by a LangChain callback
(``on_chat_model_start``) attached to the chat model, so every request the agent makes is logged before it
leaves the machine. ``journey ledger`` shows it.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage


@dataclass(frozen=True)
class LedgerEntry:
    """One request to an LLM endpoint.

    Attributes:
        time: UTC time of the request, ISO-8601.
        provider: openai, openai-compatible (or a test double's name).
        endpoint: the base URL the request went to.
        model: the model name requested.
        messages: the exact messages sent, as role/content dicts (tool calls and ids included).
        tools: names of the tools offered to the model.
    """

    time: str
    provider: str
    endpoint: str
    model: str
    messages: list[dict[str, Any]]
    tools: list[str] = field(default_factory=list)


# Chat Completions role names, as the endpoint receives them.
_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}


def message_record(message: BaseMessage) -> dict[str, Any]:
    """A message as it is sent: role, content, and tool calls / tool call id where present."""
    record: dict[str, Any] = {"role": _ROLES.get(message.type, message.type), "content": message.content}
    tool_calls = getattr(message, "tool_calls", None)
    if tool_calls:
        record["tool_calls"] = [{"name": c["name"], "arguments": c["args"], "id": c.get("id")} for c in tool_calls]
    tool_call_id = getattr(message, "tool_call_id", None)
    if tool_call_id:
        record["tool_call_id"] = tool_call_id
    if message.type == "tool" and getattr(message, "name", None):
        record["name"] = message.name
    return record


class EgressLedger:
    """Append-only JSONL file of ``LedgerEntry`` lines (created on first write)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def append(self, entry: LedgerEntry) -> None:
        """Write one entry (one line, flushed immediately)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(asdict(entry), ensure_ascii=False, default=str) + "\n")

    def read(self, last: int | None = None) -> list[dict[str, Any]]:
        """The entries, oldest first; only the ``last`` N when given. A missing file reads as empty."""
        if not self.path.is_file():
            return []
        with self.path.open(encoding="utf-8") as handle:
            lines: deque[str] | list[str] = deque(handle, maxlen=last) if last else handle.readlines()
        return [json.loads(line) for line in lines if line.strip()]


def summarize(entry: dict[str, Any]) -> dict[str, Any]:
    """One ledger entry as a table row: time, endpoint, model, message count, characters, tools."""
    messages = entry.get("messages", [])
    chars = sum(len(json.dumps(m.get("content", ""), ensure_ascii=False)) for m in messages)
    return {
        "time": entry.get("time"),
        "provider": entry.get("provider"),
        "endpoint": entry.get("endpoint"),
        "model": entry.get("model"),
        "messages": len(messages),
        "characters": chars,
        "tools": ", ".join(entry.get("tools", [])),
    }


class LedgerCallback(BaseCallbackHandler):
    """Records every chat-model request in the ledger, just before it is sent.

    ``raise_error`` is on: if the ledger cannot be written the request is not sent (LangChain would otherwise
    log and continue, letting an unrecorded request leave the machine).
    """

    raise_error = True

    def __init__(self, ledger: EgressLedger, provider: str, endpoint: str, model: str, tools: list[str]) -> None:
        self.ledger = ledger
        self.provider = provider
        self.endpoint = endpoint
        self.model = model
        self.tools = list(tools)

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Append one entry per message list (one per request)."""
        params = kwargs.get("invocation_params") or {}
        offered = [t.get("function", {}).get("name", "") for t in params.get("tools", []) if isinstance(t, dict)]
        for batch in messages:
            self.ledger.append(
                LedgerEntry(
                    time=datetime.now(UTC).isoformat(timespec="seconds"),
                    provider=self.provider,
                    endpoint=self.endpoint,
                    model=str(params.get("model") or params.get("model_name") or self.model),
                    messages=[message_record(m) for m in batch],
                    tools=[name for name in offered if name] or self.tools,
                )
            )
