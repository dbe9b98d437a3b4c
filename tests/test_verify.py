"""Number provenance: numbers in an answer are matched against the turn's tool results."""

from __future__ import annotations

from assistant.verify import WARNING_MARK, find_numbers, verify_answer
from tools.result import ToolResult

FUNNEL = ToolResult(
    tool="funnel",
    definition={"steps": ["visit", "signup", "purchase"], "window": "7d", "since": "2024-02-01"},
    result={
        "customers_entered": 12_345,
        "overall_conversion": 0.123456,
        "steps": [
            {"step": "visit", "customers": 12_345, "conversion_from_previous": None},
            {"step": "signup", "customers": 4_000, "conversion_from_previous": 0.324},
            {
                "step": "purchase",
                "customers": 1_524,
                "conversion_from_previous": 0.381,
                "median_seconds_from_previous": 216_000.0,
            },
        ],
        "worst_day": "2024-02-14",
        "effect_pp": -5.2,
    },
    notes=["2 customers excluded"],
)


def check(text: str, question: str = "") -> tuple[list[str], list[str]]:
    result = verify_answer(text, [FUNNEL], question)
    return result.verified, result.unverified


def test_exact_and_rounded_numbers_are_verified() -> None:
    verified, unverified = check("12,345 customers entered; 4000 signed up and 1,524 bought.")
    assert unverified == []
    assert verified == ["12,345", "4000", "1,524"]


def test_percent_versus_fraction_and_rounding_to_the_shown_precision() -> None:
    assert check("Overall conversion is 12.3% (0.1235 as a fraction), about 12%.")[1] == []
    assert check("Step conversion was 32.4% then 38.1%.")[1] == []
    assert check("Overall conversion is 12.9%.")[1] == ["12.9%"]


def test_thousands_suffixes_and_approximate_counts() -> None:
    assert check("About 12.3k customers entered, roughly 12,300 people.")[1] == []
    assert check("About 1.5k bought.")[1] == []
    assert check("About 3.3k bought.")[1] == ["3.3k"]


def test_percentage_points_and_signs() -> None:
    assert check("Email lowered conversion by 5.2 pp (effect −5.2).")[1] == []
    assert check("The effect is 5.2 percentage points.")[1] == []


def test_derived_differences_ratios_and_percent_changes() -> None:
    # 12,345 - 4,000 = 8,345 lost; 4,000 / 1,524 = 2.62x; (4000 - 1524) / 4000 = 61.9% fewer.
    assert check("We lose 8,345 people before signup.")[1] == []
    assert check("Signups outnumber buyers 2.6x, and 61.9% of sign-ups never buy.")[1] == []
    # 38.1% - 32.4% = 5.7 points.
    assert check("Purchase converts 5.7 points better than signup.")[1] == []


def test_durations_in_words_match_seconds() -> None:
    assert check("The median time from signup to purchase is 2.5 days (60 hours).")[1] == []
    assert check("The median time from signup to purchase is 4 days.")[1] == ["4 days"]


def test_invented_numbers_are_flagged_and_marked() -> None:
    result = verify_answer("Conversion is 12.3% but retargeting adds 37.5% and 9,999 buyers.", [FUNNEL])
    assert result.unverified == ["37.5%", "9,999"]
    assert f"{WARNING_MARK}37.5%" in result.marked and f"{WARNING_MARK}9,999" in result.marked
    assert f"{WARNING_MARK}12.3%" not in result.marked


def test_list_markers_dates_question_numbers_and_small_counts_are_not_claims() -> None:
    text = (
        "1. The worst day was 2024-02-14.\n"
        "2. Since 2024-02-01, three steps were analysed; the top 3 steps and 2 channels matter.\n"
        "3. You asked about 90 days."
    )
    verified, unverified = check(text, question="what happened in the last 90 days?")
    assert unverified == []
    assert "2024-02-14" in verified


def test_unknown_dates_are_flagged() -> None:
    _, unverified = check("Signups collapsed on 2024-02-15.")
    assert unverified == ["2024-02-15"]


def test_numbers_inside_identifiers_are_ignored() -> None:
    assert [m.text for m in find_numbers("p90 of step2, 2024-W07 and a 7d window")] == []


def test_numbers_in_tool_strings_count_as_evidence() -> None:
    assert check("2 customers were excluded and the window is 7 days.")[1] == []


def test_no_results_means_every_real_claim_is_unverified() -> None:
    result = verify_answer("Conversion is 12.3% from 4,000 signups.", [])
    assert result.unverified == ["12.3%", "4,000"]
    assert result.as_dict() == {"verified": [], "unverified": ["12.3%", "4,000"]}


def test_many_numbers_are_checked_quickly() -> None:
    rows = [{"channel": f"c{i}", "conversions": float(i * 7 + 0.25), "share": i / 1000} for i in range(1000)]
    big = ToolResult(tool="attribution", result={"channels": rows})
    text = " ".join(f"{i * 7 + 0.25:.2f}" for i in range(0, 1000, 10)) + " and 123456.78."
    result = verify_answer(text, [big])
    assert len(result.verified) == 100
    assert result.unverified == ["123456.78"]
