"""The pasted-funnel tool beyond the example: each consistency check, missing counts, errors, registry entry."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tools.context import ToolContext
from tools.errors import ArgumentError, DataError
from tools.pasted import SPECS, analyse_pasted_funnel, llm_prompt, looks_like_funnel_stats, parse_rate, parse_target
from tools.registry import invoke, validate_arguments


def _checks(text: str) -> dict[str, dict[str, Any]]:
    return {p["check"]: p for p in analyse_pasted_funnel(text).result["inconsistencies"]}


def test_stage_larger_than_the_previous_one() -> None:
    result = analyse_pasted_funnel("Visits: 1,000\nSignups: 1,200\nPaid: 90").result
    problem = {p["check"]: p for p in result["inconsistencies"]}["stage_larger_than_previous"]
    assert problem["arithmetic"] == "1,200 − 1,000 = +200"
    first = result["transitions"][0]
    assert first["observed_rate_ci_low"] is None  # not a proportion, so no interval
    assert first["confidence"] == "low"


def test_rate_over_100_percent() -> None:
    problem = _checks("Visits: 1,000, 120% returning\nSignups: 100\nPaid: 10")["rate_over_100"]
    assert (problem["severity"], problem["arithmetic"]) == ("error", "120% > 100%")


def test_mixed_count_periods_are_converted_in_the_arithmetic() -> None:
    problem = _checks("Visits: 10,000/month\nSignups: 300/week\nPaid: 20/month")["mixed_time_units"]
    assert problem["arithmetic"] == "300 per week ≈ 1,300 per month (× 4.33)"  # 300 × 52/12


def test_a_bare_rate_that_is_conversion_from_the_first_stage() -> None:
    checks = _checks("Visits 10,000 → Signups 1,200 (12%) → Paid 90 (0.9%)")
    problem = checks["rate_from_first_stage"]
    # 0.9% × 1,200 = 10.8 ≠ 90, but 0.9% × 10,000 = 90
    assert "0.9% × 10,000 = 90" in problem["message"]
    assert "rate_mismatch" not in checks  # '(12%)' reproduces 1,200 = 12% × 10,000


def test_shares_over_100_and_a_leak_larger_than_the_loss() -> None:
    checks = _checks("Visits: 1,000, 70% proceed to signup, 50% bounce\nSignups: 700\nPaid: 10")
    assert checks["shares_over_100"]["arithmetic"] == "70% proceed to signup + 50% bounce = 120% of 1,000 = 1,200"
    assert checks["leak_exceeds_loss"]["arithmetic"] == "1,000 × (1 − 50%) = 500 < 700"


def test_missing_count_estimated_from_a_stated_rate() -> None:
    result = analyse_pasted_funnel("Visits: 10,000, 20% sign up\nSignups: 15% upgrade\nPaid: 270").result
    assert [(s["count"], s["count_source"]) for s in result["stages"]] == [
        (10_000, "stated"),
        (2_000, "estimated: 20% × 10,000"),
        (270, "stated"),
    ]
    assert [(t["rate_used"], t["rate_source"]) for t in result["transitions"]] == [
        (0.2, "stated: 20% sign up"),
        (0.15, "stated: 15% upgrade"),
    ]
    # 15% × 2,000 = 300 but 270 are reported
    assert result["reconciliation"][0]["difference"] == pytest.approx(-30)


def test_no_rate_no_what_if_beyond_the_gap() -> None:
    result = analyse_pasted_funnel("Visits: 10,000\nSignups: 500\nTrials\nPaid: 20")
    assert [s["stage"] for s in result.result["stages"]] == ["Visits", "Signups", "Paid"]
    assert any("Trials" in u["text"] for u in result.result["unparsed"])


def test_pasted_value_per_customer_is_used_for_revenue() -> None:
    analysis = analyse_pasted_funnel("Visits 10,000 → Signups 1,200 → Paid 90\nACV: $12k")
    assert analysis.definition["value_per_customer"] == 12_000
    assert analysis.definition["value_source"] == "pasted: ACV USD 12,000"
    relative = analysis.result["what_if"][0]
    assert relative["extra_revenue"] == pytest.approx(90 * 0.10 * 12_000)  # +10% relative: 9 customers


def test_other_shapes_run_end_to_end() -> None:
    for text in [
        "Visits 10,000 → Signups 1,200 → Paid 90",
        "| Stage | Users |\n|---|---|\n| Visit | 10,000 |\n| Signup | 1,200 |\n| Paid | 90 |",
        "Stage,Users\nVisit,10000\nSignup,1200\nPaid,90",
    ]:
        result = analyse_pasted_funnel(text).result
        assert result["overall_conversion"] == pytest.approx(0.009)  # 90 / 10,000
        assert result["friction"][0]["friction"] == "Signup → Paid" or result["friction"][0]["friction"] == (
            "Signups → Paid"
        )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"text": ""}, DataError, "no funnel stages found"),
        ({"text": "where do we lose people?"}, DataError, "no funnel stages found"),
        ({"text": "Visits: 100\nPaid: 5", "improvement": 0}, ArgumentError, "improvement 0"),
        ({"text": "Visits: 100\nPaid: 5", "improvement": 1.5}, ArgumentError, r"\(0, 1\]"),
        ({"text": "Visits: 100\nPaid: 5", "targets": {"Demo": 0.3}}, ArgumentError, "one of: Visits"),
        ({"text": "Visits: 100\nPaid: 5", "targets": {"Paid": 0.3}}, ArgumentError, "one of: Visits"),
        ({"text": "Visits: 100\nPaid: 5", "targets": {"Visits": 150}}, ArgumentError, "between 0% and 100%"),
    ],
)
def test_errors_name_the_problem(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        analyse_pasted_funnel(**kwargs)


def test_rate_and_target_parsing() -> None:
    assert parse_rate("30%") == pytest.approx(0.3)
    assert parse_rate("0.3") == pytest.approx(0.3)
    assert parse_rate(30) == pytest.approx(0.3)
    assert parse_target("Evaluation=25%") == ("Evaluation", pytest.approx(0.25))
    with pytest.raises(ArgumentError, match="STAGE=RATE"):
        parse_target("Evaluation")
    with pytest.raises(ArgumentError, match="not a rate"):
        parse_rate("lots")


def test_registry_entry() -> None:
    (spec,) = SPECS
    assert spec.name == "analyze_pasted_funnel"
    assert spec.needs == "none"
    assert 4 <= len(spec.examples) <= 8
    assert set(spec.args.model_fields) == {"text", "improvement", "targets", "value_per_customer"}
    assert all(field.description for field in spec.args.model_fields.values())
    with pytest.raises(ArgumentError, match="arguments: text, improvement"):
        validate_arguments(spec, {"text": "Visits: 1", "bogus": 1})
    # runs with no event data loaded at all
    result = invoke("analyze_pasted_funnel", {"text": "Visits 1,000 → Paid 10", "improvement": 0.25}, ToolContext())
    assert result.tool == "analyze_pasted_funnel"
    assert result.result["what_if"][0]["extra_final"] == pytest.approx(2.5)  # 10 × 25%


def test_routing_helper_is_exported() -> None:
    assert looks_like_funnel_stats("Visits 10,000 → Signups 1,200 → Paid 90")


def test_llm_prompt_carries_the_numbers_and_rules_only() -> None:
    analysis = analyse_pasted_funnel("Visits 10,000 → Signups 1,200 → Paid 90")
    prompt = llm_prompt(analysis, question="where do we lose people?")
    assert "Never compute" in prompt
    assert "The user asked: where do we lose people?" in prompt
    assert '"overall_conversion": 0.009' in prompt
    assert "narrative" not in prompt.split("DATA:")[1]  # the deterministic prose is not handed to the LLM


_PIECES = st.sampled_from(
    [*"ab xyz:,.%$€-→>|\t\n0123456789()kM", "Visits ", "Signups ", " bounce", " per month", " annually",
     " avg ", "-day", " abandon", " proceed to", "\n- "]
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.lists(_PIECES, max_size=60).map("".join))
def test_any_text_gives_an_analysis_or_one_clear_data_error(text: str) -> None:
    try:
        result = analyse_pasted_funnel(text)
    except DataError as exc:
        assert "no funnel stages found" in str(exc) or "only one funnel stage found" in str(exc)
    else:
        json.dumps(result.model_dump(mode="json"))  # the --format json contract holds for any input


def test_a_single_stage_is_one_clear_data_error() -> None:
    with pytest.raises(DataError, match=r"only one funnel stage found.*at least two stages"):
        analyse_pasted_funnel("Visits: 10,000")


def test_transitions_that_lose_nobody_are_not_friction() -> None:
    result = analyse_pasted_funnel("Visits 10k → Signups 1.2k → Trials 1,500 → Paid 90")
    text = json.dumps(result.model_dump(mode="json"), ensure_ascii=False)
    assert "Signups → Trials" in text  # still shown as a transition (and warned about)
    for key, rows in result.tables().items():
        for row in rows:
            if row.get("transition") == "Signups → Trials" or row.get("friction") == "Signups → Trials":
                assert key not in ("friction", "friction_points", "what_if", "top_issues"), (key, row)
    assert re.search(r"(?<![\d,])0 people lost", text) is None  # "8,800 people lost" is fine
