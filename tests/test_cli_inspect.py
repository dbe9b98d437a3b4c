"""`journey inspect` through the real CLI: every output format, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from assistant.cli import app

ROWS = [
    {"uid": "a", "ts": "2024-03-01T10:00:00Z", "event": "visit", "channel": "email"},
    {"uid": "a", "ts": "2024-03-01T11:00:00Z", "event": "purchase", "channel": None},
    {"uid": "b", "ts": "2024-03-02T09:00:00Z", "event": "visit", "channel": "paid_search"},
    {"uid": "b", "ts": "bad", "event": "visit", "channel": None},
]


@pytest.fixture
def events(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no ./config.toml: built-in defaults
    path = tmp_path / "e.csv"
    pd.DataFrame(ROWS).to_csv(path, index=False)
    return path


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_inspect_json_is_exactly_one_object(events: Path) -> None:
    code, out, _ = _run(
        "inspect", "--data", str(events), "--map", "customer_id=uid", "--map", "timestamp=ts", "--format", "json"
    )
    assert code == 0
    payload = json.loads(out)
    assert set(payload) == {"tool", "definition", "result", "notes"}
    assert payload["tool"] == "inspect"
    result = payload["result"]
    assert (result["customers"], result["events"]) == (2, 3)
    assert [row["event"] for row in result["events_by_name"]] == ["visit", "purchase"]
    assert {row["channel"] for row in result["channels"]} == {"email", "paid_search"}
    assert result["quality"]["unparseable_timestamp"] == 1
    assert any("could not be parsed" in note for note in payload["notes"])
    assert payload["definition"]["source_format"] == "csv"


def test_inspect_table_csv_markdown(events: Path) -> None:
    base = ["inspect", "--data", str(events), "--map", "customer_id=uid", "--map", "timestamp=ts"]
    code, out, _ = _run(*base)
    assert code == 0 and "events_by_name" in out and "could not be parsed" in out
    code, out, _ = _run(*base, "--format", "csv")
    assert code == 0 and out.splitlines()[0] == "event,events,share"
    code, out, _ = _run(*base, "--format", "markdown")
    assert code == 0 and "| event | events | share |" in out and "### Notes" in out


def test_missing_file_is_one_error_line(events: Path) -> None:
    code, out, err = _run("inspect", "--data", "nope.csv")
    assert code == 2 and out == ""
    assert err.strip().count("\n") == 0
    assert err.startswith("error: data file 'nope.csv' does not exist") and "--data" in err


def test_missing_column_names_the_fix(events: Path) -> None:
    code, _, err = _run("inspect", "--data", str(events))
    assert code == 2
    assert "'customer_id'" in err and "uid, ts, event, channel" in err and "--map customer_id=COLUMN" in err


def test_bad_map_flag(events: Path) -> None:
    code, _, err = _run("inspect", "--data", str(events), "--map", "customer_id")
    assert code == 2 and "FIELD=COLUMN" in err


def test_config_error_is_one_line(events: Path, tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[data]\npth = 'x'\n")
    code, _, err = _run("inspect", "--data", str(events))
    assert code == 2 and "unknown setting 'data.pth'" in err


def test_debug_env_shows_the_traceback(events: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tools.errors import DataError

    monkeypatch.setenv("JOURNEY_DEBUG", "1")
    with pytest.raises(DataError):
        CliRunner().invoke(app, ["inspect", "--data", "nope.csv"], catch_exceptions=False)


def test_bad_flag_value_is_one_error_line(events: Path) -> None:
    for args, expected in (
        (["inspect", "--data", str(events), "--format", "xml"], "'xml' is not one of"),
        (["funnel", "--data", str(events), "--order", "weird"], "'weird' is not one of"),
        (["nosuch"], "No such command 'nosuch'"),
    ):
        code, out, err = _run(*args)
        assert code == 2 and out == ""
        assert err.startswith("error: ") and expected in err and "--help" in err
        assert err.strip().count("\n") == 0, err


def test_percentages_are_rendered_by_their_unit() -> None:
    from assistant.render import format_value

    assert format_value("conversion_from_previous", 0.267) == "26.7%"
    assert format_value("change", -0.733) == "-73.3%"
    assert format_value("change", 1.39) == "139.0%"  # a relative change above +100% is still a fraction
    assert format_value("change_vs_trailing_pct", -0.547) == "-0.5%"  # already in percent, not -54.7%
    assert format_value("change_vs_last_week_pct", 3.85) == "3.9%"
    assert format_value("conversions", 0.5) == "0.5"  # a (fractional) count, not 50%
    assert format_value("effect_pp", 0.5) == "0.5"
    assert format_value("converted_by_day_7", 0.0438) == "4.4%"
    assert format_value("this_week", 875.0) == "875"  # a count stored as a float has no ".00"
    assert format_value("trailing_avg", 789.75) == "789.75"


def test_csv_writes_the_first_table_and_names_the_others_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    from assistant.render import emit
    from tools.result import ToolResult

    result = ToolResult(
        tool="x",
        definition={},
        result={"steps": [{"step": "visit", "customers": 3}], "breakdown": [{"value": "email", "customers": 2}]},
    )
    emit(result, "csv")
    out, err = capsys.readouterr()
    assert out == "step,customers\nvisit,3\n"
    assert err == "csv holds the first table; breakdown: use --format json\n"
