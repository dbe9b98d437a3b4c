"""The real OpenAI code path (ChatOpenAI over HTTP) against a fake OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from assistant.agent import JourneyAgent, TurnHooks, build_assistant
from assistant.config import LLMSettings, Settings
from assistant.errors import ConfigError, ProviderError
from assistant.ledger import EgressLedger
from assistant.providers import OPENAI_ENDPOINT, make_chat_model, resolve_provider
from tools.context import ToolContext
from tools.dataset import from_records
from tools.registry import all_tools

KEY_ENV = "JOURNEY_TEST_OPENAI_KEY"


class FakeOpenAI:
    """A scripted Chat Completions endpoint: each request takes the next reply from ``script``.

    A reply is a dict: ``{"status": 200, "message": {...}}`` (a completion), ``{"stream": [...deltas]}`` (SSE),
    ``{"status": 429/401/..., "error": "..."}``, optionally with ``"delay"`` seconds and ``"headers"``.
    """

    def __init__(self) -> None:
        self.script: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(body)
                fake.headers.append({k.lower(): v for k, v in self.headers.items()})
                reply = fake.script.pop(0) if fake.script else {"message": {"role": "assistant", "content": "?"}}
                time.sleep(reply.get("delay", 0))
                status = reply.get("status", 200)
                if "stream" in reply:
                    payload = (
                        "".join(f"data: {json.dumps(_chunk(d))}\n\n" for d in reply["stream"]) + "data: [DONE]\n\n"
                    )
                    content_type = "text/event-stream"
                elif status == 200:
                    payload = json.dumps(_completion(reply["message"]))
                    content_type = "application/json"
                else:
                    payload = json.dumps({"error": {"message": reply.get("error", "failed"), "type": "error"}})
                    content_type = "application/json"
                data = payload.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in reply.get("headers", {}).items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _completion(message: dict[str, Any]) -> dict[str, Any]:
    finish = "tool_calls" if message.get("tool_calls") else "stop"
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "fake-model",
        "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def _chunk(delta: dict[str, Any]) -> dict[str, Any]:
    finish = delta.pop("finish_reason", None)
    return {
        "id": "chatcmpl-2",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "fake-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def tool_call_message(name: str, arguments: dict[str, Any], call_id: str = "call_1") -> dict[str, Any]:
    return {
        "content": None,
        "tool_calls": [
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}
        ],
    }


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    yield fake
    fake.close()


@pytest.fixture(scope="module")
def context() -> ToolContext:
    frame = pd.DataFrame(
        {
            "customer_id": ["u1", "u1", "u2"],
            "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-01"]),
            "event": ["visit", "purchase", "visit"],
            "channel": ["email", None, None],
        }
    )
    return ToolContext.for_dataset(from_records(frame))


def make_agent(
    context: ToolContext, server: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **llm: Any
) -> JourneyAgent:
    monkeypatch.setenv(KEY_ENV, "sk-test-123")
    settings = LLMSettings(
        provider="openai-compatible",
        base_url=server.url,
        api_key_env=KEY_ENV,
        model="fake-model",
        **{"max_retries": 0, "timeout": 5.0, **llm},
    )
    info = resolve_provider(settings)
    model = make_chat_model(settings, info)
    specs = {"inspect": all_tools()["inspect"]}
    return JourneyAgent(context, model, info, settings, ledger=EgressLedger(tmp_path / "egress.jsonl"), specs=specs)


def test_tool_calls_round_trip_through_the_openai_client(
    context: ToolContext, server: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.script = [
        {"message": tool_call_message("inspect", {"top": 5})},
        {"message": {"content": "There are 2 customers and 3 events."}},
    ]
    agent = make_agent(context, server, tmp_path, monkeypatch)
    turn = agent.ask("what data do we have?")
    assert turn.answer == "There are 2 customers and 3 events."
    assert turn.provider == "openai-compatible" and turn.numbers["unverified"] == []
    assert [c["name"] for c in turn.tool_calls] == ["inspect"] and turn.tool_calls[0]["arguments"] == {"top": 5}
    first, second = server.requests
    assert first["model"] == "fake-model" and first["temperature"] == 0
    assert [t["function"]["name"] for t in first["tools"]] == ["inspect"]
    assert first["messages"][0]["role"] == "system" and first["messages"][-1]["content"] == "what data do we have?"
    tool_message = second["messages"][-1]
    assert tool_message["role"] == "tool" and json.loads(tool_message["content"])["result"]["customers"] == 2
    assert server.headers[0]["authorization"] == "Bearer sk-test-123"
    entries = EgressLedger(tmp_path / "egress.jsonl").read()
    assert len(entries) == 2 and entries[0]["endpoint"] == server.url and entries[0]["model"] == "fake-model"
    assert entries[0]["tools"] == ["inspect"]
    assert [m["role"] for m in entries[1]["messages"]] == [m["role"] for m in second["messages"]]


def test_streaming_tokens_and_streamed_tool_calls(
    context: ToolContext, server: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.script = [
        {
            "stream": [
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_9",
                            "type": "function",
                            "function": {"name": "inspect", "arguments": ""},
                        }
                    ],
                },
                {"tool_calls": [{"index": 0, "function": {"arguments": '{"top"'}}]},
                {"tool_calls": [{"index": 0, "function": {"arguments": ": 3}"}}]},
                {"finish_reason": "tool_calls"},
            ]
        },
        {
            "stream": [
                {"role": "assistant", "content": "We have "},
                {"content": "2 customers"},
                {"content": "."},
                {"finish_reason": "stop"},
            ]
        },
    ]
    agent = make_agent(context, server, tmp_path, monkeypatch)
    tokens: list[str] = []
    turn = agent.ask("customers?", TurnHooks(on_token=tokens.append))
    assert all(r.get("stream") is True for r in server.requests)
    assert turn.tool_calls[0]["arguments"] == {"top": 3}
    assert "".join(tokens) == "We have 2 customers." == turn.answer


def test_rate_limit_is_retried_with_backoff_then_succeeds(
    context: ToolContext, server: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.script = [
        {"status": 429, "error": "slow down", "headers": {"retry-after-ms": "10"}},
        {"message": {"content": "Hello."}},
    ]
    agent = make_agent(context, server, tmp_path, monkeypatch, max_retries=2)
    assert agent.ask("hi").answer == "Hello."
    assert len(server.requests) == 2


def test_rate_limit_after_all_retries_is_one_clear_error(
    context: ToolContext, server: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.script = [{"status": 429, "error": "slow down", "headers": {"retry-after-ms": "5"}}] * 2
    agent = make_agent(context, server, tmp_path, monkeypatch, max_retries=1)
    with pytest.raises(ProviderError, match=r"rate-limiting \(HTTP 429\) after 1 retries"):
        agent.ask("hi")


def test_a_timeout_names_the_timeout_setting(
    context: ToolContext, server: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.script = [{"message": {"content": "late"}, "delay": 2.0}]
    agent = make_agent(context, server, tmp_path, monkeypatch, timeout=0.3)
    with pytest.raises(ProviderError, match=r"did not answer within \[llm\] timeout = 0.3s"):
        agent.ask("hi")


def test_an_auth_error_is_one_line_naming_the_key_variable(
    context: ToolContext, server: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.script = [{"status": 401, "error": "Incorrect API key provided"}]
    agent = make_agent(context, server, tmp_path, monkeypatch, max_retries=2)
    with pytest.raises(ProviderError) as caught:
        agent.ask("hi")
    assert str(caught.value) == (
        f'the API key in ${KEY_ENV} was rejected by {server.url}; set a valid key or [llm] provider = "offline"'
    )
    assert len(server.requests) == 1  # 401 is not retried


def test_an_unreachable_endpoint_names_base_url(
    context: ToolContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = LLMSettings(provider="openai-compatible", base_url=f"http://127.0.0.1:{port}/v1", max_retries=0)
    info = resolve_provider(settings, environ={})
    agent = JourneyAgent(
        context, make_chat_model(settings, info, environ={}), info, settings, specs={"inspect": all_tools()["inspect"]}
    )
    with pytest.raises(ProviderError, match=r"cannot reach the LLM endpoint .*check \[llm\] base_url"):
        agent.ask("hi")


def test_no_token_counting_is_used(
    context: ToolContext, server: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tiktoken = pytest.importorskip("tiktoken")

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("tiktoken must not be used (it downloads encodings)")

    monkeypatch.setattr(tiktoken, "get_encoding", refuse)
    monkeypatch.setattr(tiktoken, "encoding_for_model", refuse)
    server.script = [{"message": tool_call_message("inspect", {})}, {"message": {"content": "2 customers."}}]
    assert make_agent(context, server, tmp_path, monkeypatch).ask("hi").answer == "2 customers."


def test_provider_resolution() -> None:
    auto = LLMSettings()
    assert resolve_provider(auto, {}).is_offline
    openai = resolve_provider(auto, {"OPENAI_API_KEY": "sk-1"})
    assert (openai.name, openai.endpoint, openai.model) == ("openai", OPENAI_ENDPOINT, "gpt-4o-mini")
    local = resolve_provider(LLMSettings(base_url="http://localhost:11434/v1/"), {})
    assert (local.name, local.endpoint) == ("openai-compatible", "http://localhost:11434/v1")
    assert resolve_provider(LLMSettings(provider="offline"), {"OPENAI_API_KEY": "sk-1"}).is_offline
    with pytest.raises(ProviderError, match=r"\$OPENAI_API_KEY is not set"):
        resolve_provider(LLMSettings(provider="openai"), {})
    with pytest.raises(ConfigError, match=r"needs \[llm\] base_url"):
        resolve_provider(LLMSettings(provider="openai-compatible"), {})


def test_build_assistant_uses_the_configured_endpoint(
    context: ToolContext, server: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    settings = Settings.model_validate(
        {
            "llm": {"base_url": server.url, "model": "fake-model", "max_retries": 0},
            "privacy": {"ledger": str(tmp_path / "ledger.jsonl")},
        }
    )
    server.script = [{"message": {"content": "Hi from the local model."}}]
    assistant = build_assistant(context, settings)
    assert assistant.provider.name == "openai-compatible"
    assert assistant.ask("hello").answer == "Hi from the local model."
    assert server.headers[0]["authorization"] == "Bearer not-needed"
    assert len(EgressLedger(tmp_path / "ledger.jsonl").read()) == 1
