"""The memo on the demo data: it names the planted truths; on the calm world it says nothing significant changed.

The calm week is 2024-W07 of ``calm_demo_dir`` (same world, another seed, no anomalous day): the last complete
week, so the memo's default, compared with W06 and the trailing average of W03..W06, all past the ramp-up of the
data's first weeks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from assistant.memo import Memo, build_memo, write_demo_memo
from assistant.memo_render import to_html, to_markdown
from assistant.reco_ledger import RecommendationLedger
from tools.context import ToolContext
from tools.dataset import load_events
from tools.feedback_store import FeedbackSource

pytestmark = pytest.mark.slow


def _feedback(folder: Path, store: Path) -> FeedbackSource:
    # The hashing embedding keeps indexing fast; sentiment by stage does not depend on the embedding.
    return FeedbackSource(store=store, path=folder / "feedback.csv", embedding="hashing")


@pytest.fixture(scope="module")
def demo_memo(demo_dir: Path, demo_dataset: Any, tmp_path_factory: pytest.TempPathFactory) -> Memo:
    tmp = tmp_path_factory.mktemp("memo")
    context = ToolContext.for_dataset(demo_dataset)
    context.feedback = _feedback(demo_dir, tmp / "chroma")
    return build_memo(context, None, ledger=RecommendationLedger(tmp / "recs.jsonl"))


def test_memo_names_the_planted_truths(demo_memo: Memo, demo_truth: dict[str, Any]) -> None:
    s = demo_memo.sections
    assert demo_memo.week.label == "2024-W07"
    friction = f"{demo_truth['friction']['from']} -> {demo_truth['friction']['to']}"
    assert s["friction"].data["biggest"] == friction
    assert demo_truth["anomaly"]["date"] in {r["date"] for r in s["anomalies"].data["this_week"]}
    assert "retargeting" in {r["channel"] for r in s["attribution"].data["credited_not_causal"]}
    assert "email" in {r["channel"] for r in s["attribution"].data["drivers"]}
    assert s["feedback"].data["worst_stage"] == demo_truth["feedback"]["negative_stage"]
    significant = {r["metric"] for r in s["kpis"].data["significant"]}
    assert {"reached:signup", "rate:product_view->signup"} <= significant
    unavailable = {k: v.reason for k, v in s.items() if not v.available and k != "paths"}
    assert not unavailable, unavailable


def test_summary_and_recommendations_say_it_in_words(demo_memo: Memo) -> None:
    summary = demo_memo.summary.text
    assert "Biggest friction: pricing -> demo" in summary
    assert "2024-02-14" in summary
    assert "Credited but not causal" in summary and "retargeting" in summary
    assert "most negative at demo" in summary
    ids = {r["id"] for r in demo_memo.recommendations.result["recommendations"]}  # type: ignore[union-attr]
    assert {"transition:pricing->demo", "holdout:retargeting"} <= ids
    assert any(i.startswith("anomaly:2024-02-14") for i in ids)
    text = to_markdown(demo_memo)
    assert "**retargeting: credited but not causal.**" in text


def test_html_has_every_chart(demo_memo: Memo) -> None:
    html = to_html(demo_memo)
    for label in (
        "Customers per funnel step",
        "flows through the funnel",
        "anomalous days",
        "Share of conversion credit",
        "negative feedback by stage",
    ):
        assert label in html, label


def test_calm_week_says_nothing_significant_changed(calm_demo_dir: Path) -> None:
    context = ToolContext.for_dataset(load_events(calm_demo_dir / "events.parquet"))
    memo = build_memo(context, None, only={"kpis", "funnel", "friction", "anomalies", "quality"})
    assert memo.week.label == "2024-W07"
    assert memo.sections["kpis"].data["nothing_significant"]
    assert memo.summary.text.startswith("- **Nothing significant changed** in 2024-W07")
    assert "No anomalous day" in memo.summary.text


def test_write_demo_memo(demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import assistant.memo as memo_module
    from assistant.config import load_settings
    from assistant.session import tool_context

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # the demo is offline: the template writes the summary
    real = memo_module.build_memo  # the wiring is under test here, not the sections: compute a few
    monkeypatch.setattr(memo_module, "build_memo", lambda *a, **k: real(*a, only={"kpis", "funnel", "friction"}, **k))
    settings = load_settings(
        None,
        {"data.path": str(demo_dir / "events.parquet"), "memo.recommendation_ledger": str(tmp_path / "recs.jsonl")},
        environ={},
    )
    context = tool_context(settings)
    context.feedback = _feedback(demo_dir, tmp_path / "chroma")
    path = write_demo_memo(context, settings, tmp_path / "memos")
    assert path == tmp_path / "memos" / "2024-W07.html"
    assert (tmp_path / "memos" / "2024-W07.md").is_file()
    assert RecommendationLedger(tmp_path / "recs.jsonl").read()  # this week's recommendations, for next week


def test_cli_writes_one_file_and_prints_one_json_object(
    demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from assistant.cli import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JOURNEY_MEMO_RECOMMENDATION_LEDGER", str(tmp_path / "recs.jsonl"))
    monkeypatch.setenv("JOURNEY_LLM_PROVIDER", "offline")
    out = tmp_path / "memo.html"
    result = CliRunner().invoke(
        app,
        ["memo", "--data", str(demo_dir / "events.parquet"), "--week", "2024-W06", "--out", str(out), "-f", "json"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["tool"] == "memo" and payload["result"]["files"] == [str(out)]
    (week,) = payload["result"]["memos"]
    assert week["week"] == "2024-W06" and week["nothing_significant"] is True
    assert "feedback" in week["sections_unavailable"]  # no feedback file given in this folder
    assert out.read_text().startswith("<!DOCTYPE html>")
