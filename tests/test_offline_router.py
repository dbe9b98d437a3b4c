"""Offline router: tool choice and argument reading on tests/data/router_questions.yaml, and offline answers."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field

from tools.registry import ToolSpec, all_tools
from tools.result import ToolResult

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from eval_router import demo_vocabulary, evaluate, load_cases, values_found  # noqa: E402


def _stub(context: Any, args: Any) -> ToolResult:
    return ToolResult(tool="stub", result={"args": args.model_dump()})


class _PathsArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    from_event: str | None = Field(None, description="Show what customers do after this event.")
    to_event: str | None = Field(None, description="Show what customers do before this event.")
    depth: int = Field(3, description="Steps to follow.")
    top: int = Field(10, description="Paths to list.")


class _PatternsArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_support: float = Field(0.05, description="Minimum share of customers.")
    max_length: int = Field(4, description="Longest pattern.")


class _AnomalyArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    metric: Literal["all", "signups", "purchases", "conversion"] = Field("all", description="Metric to scan.")


class _SummaryArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    by: Literal["stage", "channel"] = Field("stage", description="Group feedback by stage or channel.")


class _SearchArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str = Field(description="What to search the feedback for.")
    top: int = Field(5, description="Matches to return.")


class _PastedArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(description="The pasted funnel stats, verbatim.")


def planned_specs() -> dict[str, ToolSpec]:
    """Stand-ins for the tools still being written (name, args and examples as planned), for router tests."""
    specs = [
        ToolSpec(
            "paths",
            "Next-step and previous-step flows around an event, and the top paths customers take.",
            _PathsArgs,
            _stub,
            examples=(
                "what do customers do after signup?",
                "what happens before purchase?",
                "top paths through the site",
                "where do people go after pricing?",
            ),
        ),
        ToolSpec(
            "patterns",
            "Frequent ordered subsequences of events, contrasted between converters and "
            "non-converters (support and lift).",
            _PatternsArgs,
            _stub,
            examples=(
                "which behaviour patterns predict purchase?",
                "what sequences do converters share?",
                "frequent event sequences",
            ),
        ),
        ToolSpec(
            "anomalies",
            "Anomalous days in journey metrics (daily counts and step conversion), most severe first.",
            _AnomalyArgs,
            _stub,
            examples=("were there unusual days?", "any anomalies last week?", "did anything spike or drop on one day?"),
        ),
        ToolSpec(
            "feedback_summary",
            "Customer feedback summarised by journey stage or channel: volume, negative "
            "share, sentiment and main themes.",
            _SummaryArgs,
            _stub,
            needs="feedback",
            examples=("what do customers complain about?", "feedback sentiment by stage", "main complaint themes"),
        ),
        ToolSpec(
            "feedback_search",
            "Semantic search over customer feedback: the most relevant redacted quotes for a topic.",
            _SearchArgs,
            _stub,
            needs="feedback",
            examples=(
                "what do customers say about pricing?",
                "find feedback about onboarding",
                "quotes mentioning support",
            ),
        ),
        ToolSpec(
            "analyze_pasted_funnel",
            "Analyse funnel stage counts or rates pasted as text.",
            _PastedArgs,
            _stub,
            needs="none",
            examples=("analyse these funnel numbers",),
        ),
    ]
    return {spec.name: spec for spec in specs}


CASES = load_cases()


def test_the_evaluation_set_is_broad() -> None:
    tools = {case["expect"][0] for case in CASES}
    assert len(CASES) >= 40
    assert {
        "inspect",
        "funnel",
        "paths",
        "patterns",
        "attribution",
        "impact",
        "segments",
        "anomalies",
        "feedback_summary",
        "feedback_search",
        "analyze_pasted_funnel",
    } <= tools


def test_router_accuracy_on_registered_tools() -> None:
    """The contract: >= 90% of the questions whose tool is registered go to that tool."""
    specs = all_tools()
    report = evaluate(dict(specs), CASES)
    if report["registered_n"] == 0:
        pytest.skip("no evaluated tool is registered yet")
    misses = [(r["q"], r["target"], r["got"]) for r in report["rows"] if r["target"] and r["got"] != r["target"]]
    assert report["registered"] >= 0.9, misses
    assert report["arguments"] >= 0.8


def test_router_accuracy_with_planned_tools() -> None:
    """The same set with stand-ins for the tools not registered yet: every question has its tool."""
    specs = {**planned_specs(), **all_tools()}
    report = evaluate(specs, CASES)
    misses = [
        (r["q"], r["target"], r["got"], r["missing"]) for r in report["rows"] if r["got"] != r["target"] or r["missing"]
    ]
    assert report["registered_n"] == len(CASES)
    assert report["registered"] >= 0.9, misses
    assert report["arguments"] >= 0.85, misses


def test_values_found_checks_lists_in_order() -> None:
    assert values_found([["a", "b"], "7d"], {"steps": ["a", "b"], "window": "7d"}) == []
    assert values_found([["a", "b"]], {"steps": ["b", "a"]}) == [["a", "b"]]
    assert values_found(["4"], {"k": 4}) == []


def test_unrelated_question_is_not_routed() -> None:
    from assistant.offline import Router

    router = Router({**planned_specs(), **all_tools()}, demo_vocabulary())
    assert router.route("what is the capital of France?") is None
    assert router.route("tell me a joke about penguins") is None


# ------------------------------------------------------------------------------------------ argument reading


def test_mentions_use_stemming_synonyms_and_keep_order() -> None:
    from assistant.routing import find_mentions

    vocabulary = demo_vocabulary()
    found = find_mentions("people who signed up after product views, then bought", vocabulary, "events")
    assert [m.name for m in found] == ["signup", "product_view", "purchase"]
    channels = find_mentions("compare paid search with Email and social media", vocabulary, "channels")
    assert [m.name for m in channels] == ["paid_search", "email", "social"]


def test_durations_dates_and_weeks() -> None:
    from assistant.routing import dates_in, durations_in, week_in

    assert [d for _, _, d in durations_in("within 14 days, a 48h window and a week, but not 'and'")] == [
        "14d",
        "48h",
        "1w",
    ]
    assert durations_in("before and after 2024-02-01") == []
    vocabulary = demo_vocabulary()
    assert [d for _, d in dates_in("since 2024-02-01 and on Feb 14th", vocabulary)] == ["2024-02-01", "2024-02-14"]
    assert week_in("the memo for week 7", vocabulary) == "2024-W07"
    assert week_in("what changed in 2024-W03?", vocabulary) == "2024-W03"
    assert week_in("what happened last week?", vocabulary) == "2024-W07"


def test_field_kinds_follow_names_types_and_descriptions() -> None:
    from assistant.arguments import field_kind

    kinds = {name: field_kind(name, info) for name, info in _PathsArgs.model_fields.items()}
    assert kinds == {"from_event": "event_from", "to_event": "event_to", "depth": "number", "top": "number"}
    assert field_kind("query", _SearchArgs.model_fields["query"]) == "query"
    assert field_kind("text", _PastedArgs.model_fields["text"]) == "text"
    assert field_kind("by", _SummaryArgs.model_fields["by"]) == "choice"


def test_fill_arguments_reads_only_what_the_question_says() -> None:
    from assistant.arguments import fill_arguments

    spec = planned_specs()["paths"]
    vocabulary = demo_vocabulary()
    assert fill_arguments(spec, "top 5 paths after pricing, 3 steps deep", vocabulary) == {
        "from_event": "pricing",
        "depth": 3,
        "top": 5,
    }
    assert fill_arguments(spec, "what leads to a purchase?", vocabulary) == {"to_event": "purchase"}
    assert fill_arguments(spec, "show me paths", vocabulary) == {}


def test_offline_answers_to_the_demo_questions_recover_planted_truths(demo_dataset: Any) -> None:
    from assistant.offline import OfflineAssistant
    from tools.context import ToolContext

    assistant = OfflineAssistant(ToolContext.for_dataset(demo_dataset), all_tools())
    friction = assistant.ask("Where do we lose the most people in the funnel?")
    assert friction.tool_calls[0]["name"] in ("friction", "funnel")
    assert "pricing -> demo" in friction.answer
    assert friction.numbers["unverified"] == [] and friction.numbers["verified"]
    impact = assistant.ask("Which channels really drive purchases?")
    assert impact.tool_calls[0]["name"] == "impact"
    assert "retargeting" in impact.answer and "email" in impact.answer
    assert impact.numbers["unverified"] == []


def test_a_named_period_is_a_date_range_not_a_window() -> None:
    """ "in the last 2 weeks" filters dates; it must not become a 2-week conversion window."""
    from assistant.arguments import fill_arguments

    funnel = all_tools()["funnel"]
    vocabulary = demo_vocabulary()  # data ends on Sunday 2024-02-18
    args = fill_arguments(funnel, "conversion from signup to purchase in the last 2 weeks", vocabulary)
    assert args == {"steps": ["signup", "pricing", "demo", "purchase"], "since": "2024-02-05"}
    args = fill_arguments(funnel, "funnel over the past 7 days with a 2 day window", vocabulary)
    assert args == {"window": "2d", "since": "2024-02-12"}
    assert fill_arguments(funnel, "what was the funnel in February?", vocabulary) == {
        "since": "2024-02-01",
        "until": "2024-02-29",
    }
    assert fill_arguments(funnel, "the funnel on Feb 14", vocabulary) == {"since": "2024-02-14", "until": "2024-02-14"}
    anomalies = all_tools()["anomalies"]
    assert fill_arguments(anomalies, "anything weird last week?", vocabulary) == {
        "since": "2024-02-12",
        "until": "2024-02-18",
    }
    kpis = all_tools()["weekly_kpis"]
    assert fill_arguments(kpis, "how did signups change on Feb 14?", vocabulary) == {"week": "2024-W07"}


def test_one_stage_with_a_direction_bounds_the_steps() -> None:
    from assistant.arguments import fill_arguments

    vocabulary = demo_vocabulary()
    friction = all_tools()["friction"]
    assert fill_arguments(friction, "where do we lose people after pricing?", vocabulary) == {
        "steps": ["pricing", "demo", "purchase"]
    }
    funnel = all_tools()["funnel"]
    assert fill_arguments(funnel, "show the funnel up to demo", vocabulary)["steps"][-1] == "demo"
    assert fill_arguments(funnel, "how many customers reach the demo step?", vocabulary) == {}


def test_conversion_by_a_column_goes_to_the_funnel() -> None:
    from assistant.offline import Router

    router = Router(all_tools(), demo_vocabulary())
    for question, column in (
        ("conversion by device", "device"),
        ("which channel converts best?", "channel"),
        ("which country converts best?", "country"),
    ):
        route = router.route(question)
        assert route is not None and (route.tool, route.arguments) == ("funnel", {"by": column}), question
    segments = router.route("which segment converts best?")
    assert segments is not None and segments.tool == "segments"


def test_routed_dates_are_not_flagged_as_unverified(demo_dataset: Any) -> None:
    from assistant.offline import OfflineAssistant
    from tools.context import ToolContext

    assistant = OfflineAssistant(ToolContext.for_dataset(demo_dataset), all_tools())
    turn = assistant.ask("what was the funnel in February?")
    assert turn.tool_calls[0]["arguments"] == {"since": "2024-02-01", "until": "2024-02-29"}
    assert turn.numbers["unverified"] == []


def test_counts_of_a_stage_and_channel_comparisons_are_routed() -> None:
    from assistant.offline import Router

    router = Router(all_tools(), demo_vocabulary())
    routes = {
        q: router.route(q)
        for q in (
            "how many people signed up last month?",
            "how many days does it take to purchase?",
            "compare email and paid search",
            "what do customers from email and social say about pricing?",
            "what leads to a purchase?",
        )
    }
    assert {q: r.tool for q, r in routes.items() if r} == {
        "how many people signed up last month?": "funnel",
        "how many days does it take to purchase?": "time_to_convert",
        "compare email and paid search": "attribution",
        "what do customers from email and social say about pricing?": "feedback_search",
        "what leads to a purchase?": "paths",
    }


def test_pasted_funnel_tool_needs_pasted_stats() -> None:
    from assistant.offline import Router

    router = Router(all_tools(), demo_vocabulary())
    for question in ("what should we do to improve conversions?", "what are the quick wins?"):
        route = router.route(question)
        assert route is not None and route.tool == "friction", question
    stats = "Visits: 10,000\nSignups: 1,200\nPaid: 90"
    follow_up = router.route("what are the quick wins?", pasted_text=stats)
    assert follow_up is not None and follow_up.tool == "analyze_pasted_funnel"
    assert follow_up.arguments["text"] == stats


def test_offline_chat_follow_up_uses_the_earlier_paste(demo_dataset: Any) -> None:
    from assistant.offline import OfflineAssistant
    from tools.context import ToolContext

    assistant = OfflineAssistant(ToolContext.for_dataset(demo_dataset), all_tools())
    assert assistant.ask("what should we do to improve conversions?").tool_calls[0]["name"] == "friction"
    stats = "Visits: 10,000\nSignups: 1,200\nTrials: 400\nPaid: 90"
    assert assistant.ask(stats).tool_calls[0]["name"] == "analyze_pasted_funnel"
    turn = assistant.ask("what are the quick wins?")
    assert turn.tool_calls[0]["name"] == "analyze_pasted_funnel"
    assert turn.tool_calls[0]["arguments"]["text"] == stats
    assistant.reset()
    assert assistant.ask("what are the quick wins?").tool_calls[0]["name"] == "friction"


def test_event_typos_are_read_as_the_close_event_with_a_note(demo_dataset: Any) -> None:
    from assistant.offline import OfflineAssistant
    from assistant.routing import correct_event_typos, event_typos
    from tools.context import ToolContext

    vocabulary = demo_vocabulary()
    assert event_typos("show me the funnel from visit to purchse", vocabulary) == [("purchse", "purchase", "purchase")]
    # Real words and inflections are not typos ("logic" is not "login", "signed up" is a signup).
    assert event_typos("what logic do visitors who signed up and purchased follow?", vocabulary) == []
    corrected, notes = correct_event_typos("funnel from singup to purchase", vocabulary)
    assert corrected == "funnel from signup to purchase"
    assert notes == ["'singup' is not an event in the data; read it as 'signup'"]

    assistant = OfflineAssistant(ToolContext.for_dataset(demo_dataset), all_tools())
    turn = assistant.ask("show me the funnel from pricing to purchse")
    assert turn.tool_calls[0]["name"] == "funnel"
    assert turn.tool_calls[0]["arguments"]["steps"] == ["pricing", "demo", "purchase"]
    assert "'purchse' is not an event in the data; read it as 'purchase'" in turn.answer
