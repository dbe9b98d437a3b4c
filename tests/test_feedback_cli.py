"""``journey feedback index|search|summary`` through the real CLI (WordLlama embedding, temp store)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_feedback import feedback_frame
from typer.testing import CliRunner

from assistant.cli import app
from tools.feedback_store import forget_open_stores


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    forget_open_stores()
    monkeypatch.chdir(tmp_path)  # no ./config.toml: built-in defaults
    monkeypatch.setenv("JOURNEY_FEEDBACK_EMBEDDING", "wordllama")  # real, offline and fast
    frame = feedback_frame().rename(columns={"text": "comment"})
    frame.to_csv(tmp_path / "fb.csv", index=False)
    return {"store": str(tmp_path / "store"), "file": str(tmp_path / "fb.csv")}


def run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_index_search_summary_json(env: dict[str, str]) -> None:
    out = run("feedback", "index", env["file"], "--store", env["store"], "--map", "text=comment", "--format", "json")
    indexed = json.loads(out)
    assert indexed["tool"] == "feedback_index" and indexed["result"]["indexed"] == 36
    again = json.loads(
        run("feedback", "index", env["file"], "--store", env["store"], "--map", "text=comment", "-f", "json")
    )
    assert again["result"]["indexed"] == 0 and again["result"]["skipped_already_stored"] == 36

    found = json.loads(
        run(
            "feedback",
            "search",
            "hidden fees",
            "--store",
            env["store"],
            "--top",
            "3",
            "--sentiment",
            "neg",
            "-f",
            "json",
        )
    )
    assert found["tool"] == "feedback_search" and len(found["result"]["matches"]) == 3
    assert set(found) == {"tool", "definition", "result", "notes"}

    summary = json.loads(
        run("feedback", "summary", "--store", env["store"], "--by", "channel", "--k", "3", "-f", "json")
    )
    assert summary["result"]["by_channel"] and len(summary["result"]["themes"]) == 3
    table = run("feedback", "summary", "--store", env["store"], "--no-themes")
    assert "by_stage" in table and "demo" in table


def test_errors_are_one_line(env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["feedback", "search", "x", "--store", env["store"]])
    assert result.exit_code != 0
    assert result.stderr.startswith("error: the feedback store") and "journey feedback index" in result.stderr
    bad = CliRunner().invoke(app, ["feedback", "index", env["file"], "--store", env["store"]])
    assert bad.exit_code == 2 and "--map text=COLUMN" in bad.stderr
    mapping = CliRunner().invoke(app, ["feedback", "index", env["file"], "--store", env["store"], "--map", "oops"])
    assert mapping.exit_code == 2 and "FIELD=COLUMN" in mapping.stderr
    missing = CliRunner().invoke(app, ["feedback", "index", "nope.csv", "--store", env["store"]])
    assert missing.exit_code == 2 and missing.stderr.count("\n") == 1
    assert missing.stderr.startswith("error: feedback file 'nope.csv' does not exist")
    assert "--data" not in missing.stderr and "journey feedback index FILE" in missing.stderr


def test_index_table_leaves_no_progress_residue_off_a_terminal(env: dict[str, str]) -> None:
    result = CliRunner().invoke(
        app,
        ["feedback", "index", env["file"], "--store", env["store"], "--map", "text=comment"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0 and "feedback_index" in result.stdout
    assert result.stderr == ""


def test_search_indexes_a_feedback_file_on_demand(env: dict[str, str], tmp_path: Path) -> None:
    frame = feedback_frame()
    frame.to_csv(tmp_path / "plain.csv", index=False)
    out = run(
        "feedback",
        "search",
        "demo cancelled",
        "--store",
        env["store"],
        "--feedback",
        str(tmp_path / "plain.csv"),
        "-f",
        "json",
    )
    assert json.loads(out)["result"]["matches"]


def test_search_unknown_stage_is_one_error_line(env: dict[str, str]) -> None:
    run("feedback", "index", env["file"], "--store", env["store"], "--map", "text=comment")
    result = CliRunner().invoke(app, ["feedback", "search", "x", "--store", env["store"], "--stage", "demoo"])
    assert result.exit_code != 0 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: no feedback has stage 'demoo'; stages in the store: demo, pricing, signup")
