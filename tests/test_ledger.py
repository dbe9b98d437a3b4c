"""The egress ledger: one JSONL entry per request to an LLM endpoint, and ``journey ledger``."""

from __future__ import annotations

import json
from pathlib import Path
from uuid import uuid4

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from typer.testing import CliRunner

from assistant.cli import app
from assistant.ledger import EgressLedger, LedgerCallback, LedgerEntry, message_record, summarize


def entry(n: int) -> LedgerEntry:
    return LedgerEntry(
        time=f"2024-01-01T00:00:0{n}+00:00",
        provider="openai",
        endpoint="https://api.openai.com/v1",
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": f"question {n}"}],
        tools=["funnel"],
    )


def test_append_and_read_last_entries(tmp_path: Path) -> None:
    ledger = EgressLedger(tmp_path / "nested" / "egress.jsonl")
    assert ledger.read() == []
    for n in range(5):
        ledger.append(entry(n))
    assert [e["messages"][0]["content"] for e in ledger.read()] == [f"question {n}" for n in range(5)]
    assert [e["messages"][0]["content"] for e in ledger.read(last=2)] == ["question 3", "question 4"]
    assert len((tmp_path / "nested" / "egress.jsonl").read_text().splitlines()) == 5


def test_messages_are_recorded_as_sent() -> None:
    ai = AIMessage(content="", tool_calls=[{"name": "funnel", "args": {"steps": ["a", "b"]}, "id": "c1"}])
    assert message_record(ai) == {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"name": "funnel", "arguments": {"steps": ["a", "b"]}, "id": "c1"}],
    }
    assert message_record(ToolMessage("{}", tool_call_id="c1", name="funnel")) == {
        "role": "tool",
        "content": "{}",
        "tool_call_id": "c1",
        "name": "funnel",
    }
    assert message_record(HumanMessage("hi"))["role"] == "user"


def test_the_callback_writes_one_entry_per_request(tmp_path: Path) -> None:
    ledger = EgressLedger(tmp_path / "egress.jsonl")
    callback = LedgerCallback(ledger, "openai-compatible", "http://localhost:11434/v1", "llama3", ["inspect"])
    assert callback.raise_error  # an unwritable ledger stops the request instead of letting it go unrecorded
    tools = [{"type": "function", "function": {"name": "funnel"}}, {"type": "function", "function": {"name": "paths"}}]
    callback.on_chat_model_start(
        {},
        [[SystemMessage("rules"), HumanMessage("where do we lose people?")]],
        run_id=uuid4(),
        invocation_params={"model": "llama3:8b", "tools": tools},
    )
    callback.on_chat_model_start({}, [[HumanMessage("again")]], run_id=uuid4())
    first, second = ledger.read()
    assert first["endpoint"] == "http://localhost:11434/v1" and first["model"] == "llama3:8b"
    assert first["tools"] == ["funnel", "paths"] and second["tools"] == ["inspect"]
    assert first["messages"] == [
        {"role": "system", "content": "rules"},
        {"role": "user", "content": "where do we lose people?"},
    ]
    assert summarize(first)["messages"] == 2 and summarize(first)["tools"] == "funnel, paths"


def test_journey_ledger_command(tmp_path: Path) -> None:
    path = tmp_path / "egress.jsonl"
    runner = CliRunner()
    env = {"JOURNEY_PRIVACY_LEDGER": str(path)}
    empty = runner.invoke(app, ["ledger", "--format", "json"], env=env, catch_exceptions=False)
    assert json.loads(empty.stdout)["result"]["requests"] == 0
    ledger = EgressLedger(path)
    for n in range(3):
        ledger.append(entry(n))
    out = runner.invoke(app, ["ledger", "--last", "2", "--format", "json"], env=env, catch_exceptions=False)
    assert out.exit_code == 0
    payload = json.loads(out.stdout)
    assert set(payload) == {"tool", "definition", "result", "notes"} and payload["tool"] == "ledger"
    assert payload["definition"] == {"path": str(path), "last": 2}
    assert [e["messages"][0]["content"] for e in payload["result"]["entries"]] == ["question 1", "question 2"]
    table = runner.invoke(app, ["ledger"], env={**env, "COLUMNS": "200"}, catch_exceptions=False)
    assert table.exit_code == 0 and "api.openai.com" in table.stdout and "gpt-4o-mini" in table.stdout
