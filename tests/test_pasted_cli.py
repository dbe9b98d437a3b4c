"""``journey analyze-funnel`` through the real CLI: stdin, files, formats, options and errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.cli import app

runner = CliRunner()
EXAMPLE = """Journey Stage Data:
- Awareness: 10,000 visitors/month, 45% bounce rate, avg 1.2 pages viewed
- Consideration: 2,500 content downloads, 15% proceed to product pages, avg 3 touchpoints before progression
- Evaluation: 800 product page visitors, 25% request demos, 40% abandon after pricing page
- Purchase: 150 demo requests, 35% convert to paid customers, avg 28-day sales cycle
- Retention: 52 customers, 85% active usage, 12% churn annually
"""


def test_stdin_table_output_offline() -> None:
    out = runner.invoke(app, ["analyze-funnel", "-"], input=EXAMPLE, catch_exceptions=False)
    assert out.exit_code == 0, out.output
    for text in ["Funnel diagnosis: Awareness → Retention", "Biggest friction points", "Quick wins", "+22.5"]:
        assert text in out.output


def test_no_argument_reads_stdin_too() -> None:
    out = runner.invoke(app, ["analyze-funnel", "--format", "json"], input=EXAMPLE, catch_exceptions=False)
    assert out.exit_code == 0
    assert json.loads(out.output)["result"]["final_count"] == 52


def test_json_is_exactly_one_object() -> None:
    out = runner.invoke(app, ["analyze-funnel", "-", "--format", "json"], input=EXAMPLE, catch_exceptions=False)
    assert out.exit_code == 0
    payload = json.loads(out.output)  # fails if anything else is printed
    assert set(payload) == {"tool", "definition", "result", "notes"}
    assert payload["tool"] == "analyze_pasted_funnel"
    for key in ["stages", "friction", "inconsistencies", "what_if", "recommendations", "narrative"]:
        assert key in payload["result"]
    assert payload["definition"]["improvement"] == 0.1


def test_options_reach_the_tool(tmp_path: Path) -> None:
    stats = tmp_path / "stats.txt"
    stats.write_text(EXAMPLE, encoding="utf-8")
    out = runner.invoke(
        app,
        ["analyze-funnel", str(stats), "--improvement", "0.25", "--target", "Evaluation=25%",
         "--target", "purchase=0.4", "--value-per-customer", "12000", "-f", "json"],
        catch_exceptions=False,
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    payload = json.loads(out.output)
    assert payload["definition"]["targets"] == {"Evaluation": 0.25, "Purchase": 0.4}
    assert payload["definition"]["value_per_customer"] == 12_000
    relative = [r for r in payload["result"]["what_if"] if r["scenario"].startswith("raise the rate")]
    assert [r["extra_final"] for r in relative] == pytest.approx([13.0] * 4)  # 52 × 25%
    assert relative[0]["extra_revenue"] == pytest.approx(13 * 12_000)


def test_markdown_and_csv() -> None:
    markdown = runner.invoke(app, ["analyze-funnel", "-f", "markdown"], input=EXAMPLE, catch_exceptions=False)
    assert markdown.output.startswith("# Funnel diagnosis: Awareness → Retention")
    assert "### what_if" in markdown.output
    csv = runner.invoke(app, ["analyze-funnel", "-f", "csv"], input=EXAMPLE, catch_exceptions=False)
    assert csv.output.splitlines()[0].startswith("position,stage,count")


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["analyze-funnel", "nope.txt"], None, "no file 'nope.txt'"),
        (["analyze-funnel", "-"], "", "no funnel stages found"),
        (["analyze-funnel", "-", "--target", "Evaluation"], EXAMPLE, "is not STAGE=RATE"),
        (["analyze-funnel", "-", "--target", "Demo=30%"], EXAMPLE, "one of: Awareness"),
        (["analyze-funnel", "-", "--improvement", "10"], EXAMPLE, "must be a fraction"),
    ],
)
def test_errors_are_one_line(args: list[str], stdin: str | None, message: str) -> None:
    out = runner.invoke(app, args, input=stdin, catch_exceptions=False)
    assert out.exit_code == 2
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("error: ")
    assert message in out.stderr
    assert out.stdout == ""


def test_a_single_pasted_stage_is_one_error_line() -> None:
    out = runner.invoke(app, ["analyze-funnel", "-"], input="Visits: 10,000\n", catch_exceptions=False)
    assert out.exit_code == 2
    lines = [line for line in out.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: only one funnel stage found")
    assert "Visits → Visits" not in out.output
