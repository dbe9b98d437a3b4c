"""The memo's assembly, rendering, LLM hook, ledger and scheduling helpers, on tiny hand-made data (fast)."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest

from assistant.errors import ProviderError
from assistant.memo import (
    Memo,
    build_memo,
    memo_paths,
    template_summary,
    weeks_since_last,
    write_memo,
    written_weeks,
)
from assistant.memo_render import md, num, pct, pp, render_template, to_html, to_markdown
from assistant.memo_sections import Section
from assistant.reco_ledger import RecommendationLedger, follow_up
from assistant.verify import verify_answer
from tools.context import JourneyDefaults, ToolContext
from tools.dataset import from_records
from tools.errors import ArgumentError
from tools.weeks import IsoWeek

DEFAULTS = JourneyDefaults(stages=("visit", "signup", "purchase"), conversion="purchase")


def _records() -> dict[str, list[Any]]:
    """Twelve customers over ISO weeks 2024-W01..W03 with a few touches."""
    rows: list[tuple[str, str, str, str | None, float | None]] = []
    days = {"2024-W01": "2024-01-0", "2024-W02": "2024-01-1", "2024-W03": "2024-01-1"}
    for week, (prefix, day0) in enumerate(zip(days.values(), (1, 1, 5), strict=True)):
        for i in range(4):
            cid = f"w{week}c{i}"
            day = f"{prefix}{day0 + i}"
            rows.append((cid, f"{day} 09:00", "visit", "paid_search" if i % 2 else "organic_search", None))
            if i < 3:
                rows.append((cid, f"{day} 10:00", "signup", None, None))
            if i < 2:
                rows.append((cid, f"{day} 10:30", "touch", "email", None))
                rows.append((cid, f"{day} 11:00", "purchase", None, 100.0 + i))
    rows.append(("late", "2024-01-21 23:00", "visit", "social", None))
    return {
        "customer_id": [r[0] for r in rows],
        "timestamp": [r[1] for r in rows],
        "event": [r[2] for r in rows],
        "channel": [r[3] for r in rows],
        "revenue": [r[4] for r in rows],
    }


@pytest.fixture(scope="module")
def context() -> ToolContext:
    return ToolContext.for_dataset(from_records(_records()), DEFAULTS)


@pytest.fixture(scope="module")
def memo(context: ToolContext, tmp_path_factory: pytest.TempPathFactory) -> Memo:
    ledger = RecommendationLedger(tmp_path_factory.mktemp("ledger") / "recs.jsonl")
    return build_memo(context, None, ledger=ledger, only={"kpis", "funnel", "friction", "quality"})


def test_memo_assembles_the_computed_sections(memo: Memo) -> None:
    assert memo.week == IsoWeek(2024, 3)
    assert memo.sections["kpis"].available and memo.sections["friction"].available
    assert memo.sections["segments"].reason == "skipped for this memo"
    assert memo.recommendations is not None and memo.recommendations.result["recommendations"]
    assert {r.tool for r in memo.results()} >= {"weekly_kpis", "funnel", "recommendations"}
    assert memo.summary.source == "template"


def test_markdown_names_every_section_and_says_what_is_missing(memo: Memo) -> None:
    text = to_markdown(memo)
    for title in ("## Summary", "## Headline KPIs", "## What to do", "## Biggest friction", "## Definitions"):
        assert title in text
    assert "_Not available: skipped for this memo_" in text
    assert "| KPI | 2024-W03 | 2024-W02 |" in text
    assert "Nothing significant changed" in text  # twelve customers: nothing can be real


def test_deterministic_summary_numbers_all_trace_to_tool_results(memo: Memo) -> None:
    check = verify_answer(template_summary(memo), memo.results())
    assert check.unverified == []
    assert check.verified


def test_unavailable_tools_render_a_clear_line(context: ToolContext) -> None:
    empty = build_memo(context, None, only=set())
    text = to_markdown(empty)
    assert text.count("_Not available: skipped for this memo_") >= 7
    assert "No recommendation" in text
    assert "<svg" not in to_html(empty)  # no chart without data, and no crash


def test_fake_llm_writes_the_summary_and_invented_numbers_are_flagged(memo: Memo) -> None:
    sent: list[tuple[str, str]] = []
    real = next(r for r in memo.sections["kpis"].data["rows"] if r["metric"] == "new_customers")

    def writer(system: str, prompt: str) -> str:
        sent.append((system, prompt))
        return f"- **Steady week**: {num(real['this_week'])} new customers.\n- **Revenue** rose 987.6% (made up)."

    from assistant.memo import llm_summary

    summary = llm_summary(memo, writer, "fake-model")
    assert summary.source == "llm" and summary.model == "fake-model"
    assert "987.6%" in summary.unverified
    assert "⚠987.6%" in summary.text
    system, prompt = sent[0]
    assert "never compute" in system
    assert "credited but not causal" in prompt and "Headline KPIs" in prompt
    assert "w0c0" not in prompt  # the model sees aggregates only, never customer ids
    text = to_markdown(dataclasses.replace(memo, summary=summary))  # the module's memo stays as built
    assert "Written by fake-model" in text and "could not be traced" in text


def test_llm_failure_falls_back_to_the_template(context: ToolContext) -> None:
    def broken(system: str, prompt: str) -> str:
        raise ProviderError("cannot reach the LLM endpoint http://127.0.0.1:9")

    result = build_memo(context, None, writer=broken, only={"kpis"})
    assert result.summary.source == "template"
    assert result.summary.note and "cannot reach" in result.summary.note
    assert "cannot reach" in to_markdown(result)


def test_html_is_self_contained_and_responsive(memo: Memo) -> None:
    html = to_html(memo)
    assert html.startswith("<!DOCTYPE html>") and 'name="viewport"' in html
    assert "@media (max-width:600px)" in html
    assert html.count("<svg") >= 2  # funnel bars and the funnel flow
    assert "<script" not in html and "<link" not in html and "src=" not in html
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", html))
    assert urls <= {"http://www.w3.org/2000/svg"}, urls  # an XML namespace, never fetched


def test_customer_text_cannot_inject_markup(memo: Memo) -> None:
    hostile = "<script>alert(1)</script> ## not a heading | [link](http://x.example)"
    memo.sections["feedback"] = Section(
        "feedback",
        "What customers say",
        data={
            "count": 1,
            "negative_share": 1.0,
            "by_stage": [
                {
                    "stage": "demo",
                    "count": 1,
                    "negative_share": 1.0,
                    "ci_low": 0.2,
                    "ci_high": 1.0,
                    "mean_sentiment": -0.8,
                }
            ],
            "worst_stage": "demo",
            "worst_row": {"stage": "demo", "count": 1, "negative_share": 1.0},
            "themes": [],
            "complaints": [{"label": hostile, "size": 1, "quotes": [hostile]}],
        },
    )
    html = to_html(memo)
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert 'href="http://x.example"' not in html
    assert html.count("<h2>") == to_markdown(memo).count("\n## ")
    memo.sections["feedback"] = Section("feedback", "What customers say", available=False, reason="skipped")


def test_formatting_filters() -> None:
    assert pct(0.1234) == "12.3%" and pct(None) == "—"
    assert pp(-1.25) == "-1.2 pp" or pp(-1.25) == "-1.3 pp"
    assert num(2883.0) == "2,883" and num(12.34) == "12.3"
    assert md("a *b* <c> #d") == r"a \*b\* \<c\> \#d"


def test_every_memo_template_renders(memo: Memo) -> None:
    data = memo.template_data()
    for name in ("memo.md.j2", "memo_summary_llm.md.j2", "recommendations.md.j2"):
        assert render_template(name, data).strip()


def test_ledger_records_replaces_and_follows_up(tmp_path: Path) -> None:
    ledger = RecommendationLedger(tmp_path / "recs.jsonl")
    recs = [
        {"id": "transition:a->b", "action": "Improve a -> b", "metric": "a -> b conversion", "kpi_metric": "rate:a->b"}
    ]
    kpis_then = [{"metric": "rate:a->b", "label": "a → b", "kind": "rate", "this_week": 0.20}]
    assert ledger.record(IsoWeek(2024, 6), recs, kpis_then) == 1
    assert ledger.record(IsoWeek(2024, 6), recs, kpis_then) == 1  # re-running a week replaces its lines
    assert len(ledger.read()) == 1
    with ledger.path.open("a") as handle:
        handle.write('{"week": "2024-W06", "torn')  # an interrupted write must not break the next memo
    week, entries = ledger.previous(IsoWeek(2024, 7))
    assert week == "2024-W06" and entries[0]["kpi_value_then"] == 0.20
    assert ledger.previous(IsoWeek(2024, 6)) == (None, [])
    now = [{"metric": "rate:a->b", "label": "a → b", "kind": "rate", "this_week": 0.25, "significant": True}]
    (row,) = follow_up(entries, now)
    assert row["value_then"] == 0.20 and row["value_now"] == 0.25
    assert row["change"] == pytest.approx(0.05) and row["status"] == "up (significant vs last week)"
    (missing,) = follow_up(entries, [])
    assert missing["status"] == "not measurable this week"
    json.dumps(ledger.read())


def test_memo_paths() -> None:
    week = IsoWeek(2024, 7)
    assert memo_paths(week, None, "memos") == [Path("memos/2024-W07.md"), Path("memos/2024-W07.html")]
    assert memo_paths(week, "x/memo.html", "memos") == [Path("x/memo.html")]
    with pytest.raises(ArgumentError, match=r"\.md or \.html"):
        memo_paths(week, "memo.pdf", "memos")


def test_since_last_picks_the_weeks_after_the_newest_memo(context: ToolContext, tmp_path: Path) -> None:
    assert weeks_since_last(context, tmp_path) == [IsoWeek(2024, 3)]  # nothing written: start now, no backfill
    (tmp_path / "2024-W01.md").write_text("x")
    (tmp_path / "notes.md").write_text("not a memo")
    assert written_weeks(tmp_path) == [IsoWeek(2024, 1)]
    assert weeks_since_last(context, tmp_path) == [IsoWeek(2024, 2), IsoWeek(2024, 3)]
    (tmp_path / "2024-W03.html").write_text("x")
    assert weeks_since_last(context, tmp_path) == []


def test_write_memo_writes_both_formats(memo: Memo, tmp_path: Path) -> None:
    paths = write_memo(memo, memo_paths(memo.week, None, tmp_path))
    assert [p.suffix for p in paths] == [".md", ".html"]
    assert paths[0].read_text().startswith("# Weekly journey memo — 2024-W03")
    assert "<svg" in paths[1].read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--out", "memo.pdf"], "must end in .md or .html"),
        (["--since-last", "--week", "2024-W07"], "--since-last picks the weeks itself"),
        (["--feedback", "no-such-feedback.csv"], "does not exist"),
    ],
)
def test_cli_rejects_bad_flags_with_one_line(args: list[str], message: str, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from assistant.cli import app

    result = CliRunner().invoke(app, ["memo", "--data", str(tmp_path / "none.csv"), *args], catch_exceptions=False)
    assert result.exit_code == 2
    assert message in result.stderr and result.stderr.count("\n") == 1


def test_configured_llm_writes_the_summary_through_the_real_client(context: ToolContext, tmp_path: Path) -> None:
    from test_providers import FakeOpenAI

    from assistant.config import load_settings

    fake = FakeOpenAI()
    try:
        fake.script.append({"message": {"role": "assistant", "content": "- **Quiet week**: nothing changed."}})
        settings = load_settings(
            None,
            {
                "llm.provider": "openai-compatible",
                "llm.base_url": fake.url,
                "llm.max_retries": 0,
                "privacy.ledger": str(tmp_path / "egress.jsonl"),
            },
            environ={},
        )
        result = build_memo(context, settings, only={"kpis"}, ledger=RecommendationLedger(tmp_path / "r.jsonl"))
    finally:
        fake.close()
    assert result.summary.source == "llm" and result.summary.text == "- **Quiet week**: nothing changed."
    assert result.summary.model == "openai-compatible gpt-4o-mini"
    (request,) = fake.requests
    assert request["messages"][0]["role"] == "system" and "Headline KPIs" in request["messages"][1]["content"]
    (entry,) = [json.loads(line) for line in (tmp_path / "egress.jsonl").read_text().splitlines()]
    assert entry["endpoint"] == fake.url and "Headline KPIs" in entry["messages"][1]["content"]


def test_charts_escape_labels_and_mark_what_matters() -> None:
    from assistant import memo_charts as charts

    bars = charts.paired_bars("t", ["<b>step</b>"], {"W1": [10.0], "W0": [5.0]}, lambda v: f"{v:.0f}")
    assert "&lt;b&gt;step&lt;/b&gt;" in bars and "<b>" not in bars
    flows = [charts.Flow(0, "visit", "signup", 40.0), charts.Flow(0, "visit", "dropped", 60.0)]
    sankey = charts.sankey("s", flows)
    assert sankey.count("<path") == 2 and "visit" in sankey
    line = charts.timeline("d", ["2024-02-13", "2024-02-14"], [100.0, 20.0], [False, True], None)
    assert line.count("<circle") == 1 and "2024-02-14" in line
