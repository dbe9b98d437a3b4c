"""LLM sentiment for feedback through the real CLI and the real OpenAI client, against a fake endpoint."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from test_providers import FakeOpenAI
from typer.testing import CliRunner

from assistant.cli import app
from tools.feedback_store import forget_open_stores

TEXTS = [
    "The demo was rescheduled twice, mail me at jane.doe@example.com",
    "Setup was quick and the team was lovely",
    "Pricing page is fine",
]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    forget_open_stores()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JOURNEY_FEEDBACK_EMBEDDING", "wordllama")
    pd.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3"],
            "timestamp": ["2024-01-01T10:00:00Z", "2024-01-02T10:00:00Z", "2024-01-03T10:00:00Z"],
            "text": TEXTS,
            "stage": ["demo", "signup", "pricing"],
        }
    ).to_csv(tmp_path / "fb.csv", index=False)
    return {
        "store": str(tmp_path / "store"),
        "file": str(tmp_path / "fb.csv"),
        "ledger": str(tmp_path / "egress.jsonl"),
    }


def _run(*args: str) -> dict:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_index_with_llm_sentiment_scores_caches_and_records_egress(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = FakeOpenAI()
    try:
        monkeypatch.setenv("JOURNEY_LLM_PROVIDER", "openai-compatible")
        monkeypatch.setenv("JOURNEY_LLM_BASE_URL", server.url)
        monkeypatch.setenv("JOURNEY_PRIVACY_LEDGER", env["ledger"])
        # The model scores in stored order; the store returns records by id, so answer by content below.
        server.script = [{"message": {"content": "[-0.9, 0.8, 0.0]"}}]
        indexed = _run("feedback", "index", env["file"], "--store", env["store"], "--llm-sentiment", "-f", "json")
        assert any("LLM sentiment" in note and "3 texts scored" in note for note in indexed["notes"])
        assert len(server.requests) == 1  # one batch for three texts
        sent = json.dumps(server.requests[0])
        assert "jane.doe@example.com" not in sent and "[EMAIL]" in sent  # redacted before it left
        entries = [json.loads(line) for line in Path(env["ledger"]).read_text().splitlines()]
        assert len(entries) == 1 and "jane.doe@example.com" not in json.dumps(entries)

        again = _run("feedback", "index", env["file"], "--store", env["store"], "--llm-sentiment", "-f", "json")
        assert len(server.requests) == 1  # cached: nothing new is sent
        assert any("0 texts scored, 3 already cached" in note for note in again["notes"])

        summary = _run(
            "feedback", "summary", "--store", env["store"], "--no-themes", "--sentiment-source", "llm", "-f", "json"
        )
        scores = sorted(r["mean_sentiment"] for r in summary["result"]["by_stage"])
        assert scores == sorted([-0.9, 0.8, 0.0])  # the LLM's numbers, one text per stage
        assert not any("not cached" in note for note in summary["notes"])
    finally:
        server.close()


def test_llm_sentiment_offline_is_one_clear_error(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOURNEY_LLM_PROVIDER", "offline")
    result = CliRunner().invoke(app, ["feedback", "index", env["file"], "--store", env["store"], "--llm-sentiment"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --llm-sentiment needs an LLM")
