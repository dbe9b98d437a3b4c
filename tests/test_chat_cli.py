"""``journey chat`` / ``journey ask`` end to end through the real CLI, and the pure REPL pieces."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import pytest
from fakes import ScriptedChatModel, answer, call, tool_turn
from rich.console import Console
from typer.testing import CliRunner

from assistant.agent import TurnHooks, TurnResult
from assistant.chat import (
    SlashOutcome,
    format_arguments,
    handle_slash,
    read_message,
    run_chat,
    starts_block,
    transcript_markdown,
)
from assistant.cli import app
from assistant.providers import ProviderInfo
from tools.registry import all_tools

OFFLINE_ENV = {"OPENAI_API_KEY": None, "JOURNEY_LLM_PROVIDER": None, "JOURNEY_LLM_BASE_URL": None}


@pytest.fixture(scope="module")
def events_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("chat") / "events.csv"
    pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "b", "b", "c"],
            "timestamp": [
                "2024-01-01T09:00",
                "2024-01-01T09:05",
                "2024-01-02T10:00",
                "2024-01-01T11:00",
                "2024-01-03T12:00",
                "2024-01-02T08:00",
            ],
            "event": ["touch", "visit", "purchase", "visit", "signup", "visit"],
            "channel": ["email", "", "", "", "", ""],
        }
    ).to_csv(path, index=False)
    return path


def env_for(tmp_path: Path, **more: str | None) -> dict[str, str | None]:
    return {**OFFLINE_ENV, "JOURNEY_PRIVACY_LEDGER": str(tmp_path / "egress.jsonl"), **more}


def test_offline_chat_session_end_to_end(events_csv: Path, tmp_path: Path) -> None:
    saved = tmp_path / "out" / "chat.md"
    script = (
        f"what data do we have?\n/tools\n/data\n/save {saved}\n/reset\n/nonsense\n"
        "what is the capital of France?\n/quit\n"
    )
    result = CliRunner().invoke(
        app, ["chat", "--data", str(events_csv)], input=script, env=env_for(tmp_path), catch_exceptions=False
    )
    out = result.stdout
    assert result.exit_code == 0
    assert "offline mode (no LLM)" in out and "answered by tool inspect" in out
    assert "→ inspect" in out and "✓ inspect" in out
    assert "inspect" in out and "Describe the loaded journey data" in out  # /tools
    assert "customers" in out and "2024-01-01" in out  # /data
    assert "Conversation forgotten." in out and "Unknown command /nonsense" in out
    assert "could not match this question" in out
    text = saved.read_text()
    assert "what data do we have?" in text and "inspect" in text
    assert not (tmp_path / "egress.jsonl").exists()  # offline: nothing was sent anywhere


def test_chat_errors_keep_bracketed_words(tmp_path: Path) -> None:
    # "[data] path" in an error must not be swallowed as Rich markup.
    result = CliRunner().invoke(
        app, ["chat", "--data", str(tmp_path / "nope.csv")], input="funnel\n/quit\n", env=env_for(tmp_path)
    )
    assert "[data] path" in result.stdout, result.stdout


def test_pasted_stats_in_chat_go_to_the_pasted_funnel_tool(events_csv: Path, tmp_path: Path) -> None:
    if "analyze_pasted_funnel" not in all_tools():
        pytest.skip("the pasted-funnel tool is not registered yet")
    script = "Visitors 10,000\nSignups 2,300\nTrials 900\nPaid 210\n\n/quit\n"
    result = CliRunner().invoke(
        app, ["chat", "--data", str(events_csv)], input=script, env=env_for(tmp_path), catch_exceptions=False
    )
    assert "answered by tool analyze_pasted_funnel" in result.stdout


class ExplodingOnce:
    """A script item that makes the fake model fail (an unexpected error inside a turn)."""

    def __call__(self, messages: Any) -> Any:
        raise RuntimeError("model exploded")


def test_llm_chat_through_the_cli_shows_tools_flags_numbers_and_survives_errors(
    events_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = ScriptedChatModel(
        script=[
            tool_turn(call("inspect", top=5)),
            answer("We have **3 customers**; 42 of them bought."),
            ExplodingOnce(),
            answer("Still here: 3 customers."),
        ]
    )
    monkeypatch.setattr("assistant.agent.make_chat_model", lambda settings, info: model)
    env = env_for(tmp_path, JOURNEY_LLM_PROVIDER="openai-compatible", JOURNEY_LLM_BASE_URL="http://127.0.0.1:9/v1")
    script = "how many customers?\nand now?\nstill there?\n/quit\n"
    result = CliRunner().invoke(app, ["chat", "--data", str(events_csv)], input=script, env=env, catch_exceptions=False)
    out = result.stdout
    assert result.exit_code == 0
    assert "openai-compatible" in out and "→ inspect top=5" in out
    assert "⚠42" in out and "numbers verified 1/2" in out
    assert "error (RuntimeError): model exploded" in out
    assert "Still here: 3 customers." in out
    entries = [json.loads(line) for line in (tmp_path / "egress.jsonl").read_text().splitlines()]
    assert entries and entries[0]["endpoint"] == "http://127.0.0.1:9/v1"


def test_ask_json_is_one_object_with_the_contract_fields(events_csv: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["ask", "how many customers are in the data?", "--data", str(events_csv), "--format", "json"],
        env=env_for(tmp_path),
        catch_exceptions=False,
    )
    assert result.exit_code == 0
    payload = json.loads(result.stdout)
    assert set(payload) == {"tool", "definition", "result", "notes"} and payload["tool"] == "ask"
    assert set(payload["result"]) == {"answer", "provider", "tool_calls", "numbers"}
    assert payload["result"]["provider"] == "offline"
    assert payload["result"]["tool_calls"][0]["name"] == "inspect"
    assert set(payload["result"]["tool_calls"][0]) == {"name", "arguments", "seconds"}
    assert payload["result"]["numbers"]["unverified"] == [] and payload["result"]["numbers"]["verified"]
    assert payload["definition"]["provider"] == "offline" and payload["definition"]["max_tool_calls"] == 8
    assert payload["definition"]["data"] == str(events_csv)
    assert any("offline mode" in note for note in payload["notes"])


def test_ask_table_and_markdown(events_csv: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    table = runner.invoke(
        app, ["ask", "what data do we have?", "--data", str(events_csv)], env=env_for(tmp_path), catch_exceptions=False
    )
    assert table.exit_code == 0 and "answered by tool inspect" in table.stdout
    markdown = runner.invoke(
        app,
        ["ask", "what data do we have?", "--data", str(events_csv), "--format", "markdown"],
        env=env_for(tmp_path),
        catch_exceptions=False,
    )
    assert markdown.stdout.startswith("**offline mode (no LLM): answered by tool `inspect`**")
    assert "- tool `inspect`" in markdown.stdout


def test_ask_with_a_bad_provider_setting_is_one_error_line(events_csv: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["ask", "hi", "--data", str(events_csv), "--provider", "openai"], env=env_for(tmp_path)
    )
    assert result.exit_code != 0
    assert result.stderr.strip().startswith('error: [llm] provider = "openai" but $OPENAI_API_KEY is not set')


def test_ask_with_an_empty_question_is_one_error_line(events_csv: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["ask", "  ", "--data", str(events_csv)], env=env_for(tmp_path))
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: the question is empty; ask in plain words")


# ------------------------------------------------------------------------------------------ pure pieces


def test_slash_commands_are_pure() -> None:
    specs = all_tools()
    asked: list[bool] = []

    def profile() -> dict[str, Any]:
        asked.append(True)
        return {"loaded": False, "reason": "no data"}

    assert handle_slash("/quit", specs, profile) == SlashOutcome(quit=True)
    assert "/save FILE" in handle_slash("/help", specs, profile).text
    assert "**inspect**" in handle_slash("/tools", specs, profile).text
    assert asked == []
    assert handle_slash("/data", specs, profile).text == "No event data is loaded: no data" and asked == [True]
    assert handle_slash("/reset", specs, profile).reset
    assert handle_slash("/save notes/chat.md", specs, profile).save_to == Path("notes/chat.md")
    assert "Usage" in handle_slash("/save", specs, profile).text
    assert "Unknown command" in handle_slash("/funnel", specs, profile).text


def test_multi_line_rule() -> None:
    assert starts_block("Here are our numbers:")
    assert starts_block("Visitors 10,000") and starts_block("Signups: 2,300 (23%)")
    assert not starts_block("how many visitors reached step 3?")
    assert not starts_block("show me the top 5 paths")
    assert not starts_block("what data do we have")
    lines = iter(["Visitors 10,000", "Signups 2,300", "Paid 210", "", "next question"])
    assert read_message(lambda prompt: next(lines)) == "Visitors 10,000\nSignups 2,300\nPaid 210"
    assert read_message(lambda prompt: next(lines)) == "next question"

    def eof(prompt: str) -> str:
        raise EOFError

    assert read_message(eof) is None


def test_transcript_and_arguments_formatting() -> None:
    turn = TurnResult(
        answer="12 people.",
        provider="offline",
        tool_calls=[{"name": "funnel", "arguments": {"steps": ["a", "b"], "window": "7d"}, "seconds": 0.5}],
        notes=["a note"],
    )
    text = transcript_markdown([("how many?\nreally?", turn)])
    assert "> how many?\n> really?" in text and "`funnel` steps=a>b window=7d (0.50s)" in text and "- a note" in text
    assert format_arguments({"text": "x" * 100}, width=10) == "text=xxxxxxxxxx…"


class CancellingAssistant:
    """An assistant whose first turn is interrupted (Ctrl-C) and whose second answers."""

    provider = ProviderInfo("offline", "", "")
    specs: ClassVar[dict[str, Any]] = {}

    def __init__(self) -> None:
        self.calls = 0

    def ask(self, question: str, hooks: TurnHooks | None = None) -> TurnResult:
        self.calls += 1
        if self.calls == 1:
            raise KeyboardInterrupt
        return TurnResult(answer="fine", provider="offline")

    def reset(self) -> None:
        pass


def test_ctrl_c_cancels_the_turn_or_the_input_not_the_session() -> None:
    inputs: list[Any] = [KeyboardInterrupt, "first", "second", "/quit"]

    def read_line(prompt: str) -> str:
        item = inputs.pop(0)
        if item is KeyboardInterrupt:
            raise KeyboardInterrupt
        return str(item)

    buffer = io.StringIO()
    turns = run_chat(CancellingAssistant(), Console(file=buffer, width=100), dict, read_line)  # type: ignore[arg-type]
    output = buffer.getvalue()
    assert "input cancelled" in output and "turn cancelled" in output
    assert [q for q, _ in turns] == ["second"]
