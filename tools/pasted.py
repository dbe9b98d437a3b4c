"""``analyze_pasted_funnel``: the pasted funnel stats doctor (no event data needed).

A marketer pastes stage counts and rates from a slide or a dashboard; this tool parses them
(``tools.pasted_parse``), settles one rate per transition and checks the numbers against each other
(``tools.pasted_analysis``), computes what-if impact (``tools.pasted_math``), and derives prioritised
recommendations (``tools.pasted_advice``). The deterministic narrative is rendered from
``prompts/pasted_funnel.md.j2``; ``llm_prompt`` renders ``prompts/pasted_funnel_llm.md.j2`` for an LLM that
writes prose from these numbers only.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tools.context import ToolContext
from tools.errors import ArgumentError, DataError
from tools.pasted_advice import recommendations, segments, underutilised
from tools.pasted_analysis import FunnelModel, assess_confidence, build_model, reconcile
from tools.pasted_math import wilson_interval
from tools.pasted_parse import ParsedFunnel, is_value_metric, looks_like_funnel_stats, parse_funnel_text
from tools.pasted_whatif import friction_points, scenario_rows, top_issues, what_if
from tools.registry import ToolSpec
from tools.result import ToolResult

__all__ = [
    "SPECS",
    "analyse_pasted_funnel",
    "llm_prompt",
    "looks_like_funnel_stats",
    "narrative",
    "parse_rate",
    "parse_target",
]

TOOL_NAME = "analyze_pasted_funnel"
MAX_TEXT = 50_000

SEMANTICS = {
    "transition_rate": (
        "observed stage-count ratio next/this when both counts are given; otherwise a stated rate that "
        "describes the transition (a progression rate at this stage or a conversion rate at the next), and "
        "the missing count is estimated from it; stated rates are always reported beside the observed ratio"
    ),
    "interval": (
        "Wilson score 95% interval on next/this counts when the next stage is not larger than this one "
        "(treats the period's counts as a binomial sample: period-to-period noise, not measurement error)"
    ),
    "what_if": (
        "extra people at the next stage = this count × (new rate − rate); extra final-stage people = that × "
        "the product of the downstream rates (final count / next count)"
    ),
    "relative_improvement": (
        "rate × (1 + improvement), capped at 100%: in a chain of rates this adds the same final-stage "
        "people at every transition (final × improvement), so it does not rank friction"
    ),
    "recover_lost": (
        "rate + improvement × (1 − rate): recover that share of the people the transition loses; friction "
        "is ranked by this, which favours the weakest transitions"
    ),
    "leak": (
        "a within-stage leak (bounce, abandon, churn) is cut by the improvement (leak × (1 − improvement)) "
        "or halved; the people kept are assumed to progress like those who did not leak, i.e. at next / "
        "(this × (1 − leak)); a leak at the last stage keeps customers of each cohort instead"
    ),
    "consistency": (
        "a stated rate reproduces the next count when |rate × this − next| ≤ this × half the rate's last digit + 0.5"
    ),
    "confidence": (
        "high, minus one level for a stated rate that disagrees with counts, a long cycle mixing cohorts, a "
        "stated-only rate, fewer than 30 people or a wide interval; minus two for other entry paths or a "
        "next stage larger than this one"
    ),
    "priority": (
        "impact (final-stage people per period) × confidence weight (high 1.0, medium 0.7, low 0.4) ÷ "
        "effort points (low 1, medium 2, high 3); effort comes from a fixed playbook by kind of fix"
    ),
    "top_issues": "the top friction points on distinct transitions; combined effect multiplies their lifts",
}


# ------------------------------------------------------------------------------------------- arguments


def parse_rate(text: str | float, name: str = "rate") -> float:
    """``"30%"``, ``"0.3"`` or ``30`` -> 0.3. Numbers above 1 are percentages; over 100% is refused."""
    raw = str(text).strip()
    percent = raw.endswith("%")
    try:
        value = float(raw.rstrip("%").strip().replace(",", "."))
    except ValueError:
        raise ArgumentError(f"{name} {text!r} is not a rate; write 30% or 0.3") from None
    if percent or value > 1:
        value /= 100.0
    if not 0 <= value <= 1:
        raise ArgumentError(f"{name} {text!r} is not between 0% and 100%")
    return value


def parse_target(option: str) -> tuple[str, float]:
    """``"Evaluation=30%"`` -> ``("Evaluation", 0.3)`` (the CLI's ``--target STAGE=RATE``)."""
    stage, sep, rate = option.rpartition("=")
    if not sep or not stage.strip() or not rate.strip():
        raise ArgumentError(f"--target {option!r} is not STAGE=RATE; e.g. --target Evaluation=30%")
    return stage.strip(), parse_rate(rate, f"--target {stage.strip()}")


def _resolve_targets(targets: dict[str, float], parsed: ParsedFunnel) -> dict[int, float]:
    names = [s.name for s in parsed.stages]
    resolved: dict[int, float] = {}
    for key, value in targets.items():
        wanted = re.split(r"\s*(?:→|->|>)\s*", key.strip())[0].lower()
        index = next((i for i, n in enumerate(names) if n.lower() == wanted), None)
        if index is None:
            index = next((i for i, n in enumerate(names) if n.lower().startswith(wanted)), None)
        if index is None or index >= len(names) - 1:
            leaving = ", ".join(names[:-1]) or "none"
            raise ArgumentError(
                f"target {key!r} names no stage with a next stage; name the stage people leave, one of: {leaving}"
            )
        resolved[index] = parse_rate(value, f"target {key!r}")
    return resolved


# ------------------------------------------------------------------------------------------------ tool


def analyse_pasted_funnel(
    text: str,
    improvement: float = 0.10,
    targets: dict[str, float] | None = None,
    value_per_customer: float | None = None,
) -> ToolResult:
    """Analyse pasted funnel stats: conversions, inconsistencies, what-if impact, friction, recommendations.

    Args:
        text: the stats as pasted (a list, an arrow chain, a table or ``stage - count (rate)`` lines).
        improvement: the improvement to model, as a fraction (0.10 = +10% relative on a rate, or a 10%
            cut of a loss or a leak).
        targets: target rates for transitions, keyed by the stage people leave (``{"Evaluation": 0.3}``).
        value_per_customer: value of one final-stage customer; when absent, a pasted ACV/AOV/LTV is used.

    Raises:
        DataError: fewer than two stages with a number could be read from the text.
        ArgumentError: improvement outside (0, 1], or a target naming no stage.
    """
    if not 0 < improvement <= 1:
        raise ArgumentError(f"improvement {improvement!r} must be a fraction in (0, 1], e.g. 0.10 for +10%")
    if len(text) > MAX_TEXT:
        raise DataError(f"the pasted text has {len(text):,} characters; paste at most {MAX_TEXT:,}")
    if value_per_customer is not None and value_per_customer < 0:
        raise ArgumentError(f"value per customer {value_per_customer!r} must not be negative")
    parsed = parse_funnel_text(text)
    if not parsed.stages:
        reasons = "; ".join(f"line {u.line}: {u.text!r} ({u.reason})" for u in parsed.unparsed[:3])
        raise DataError(
            "no funnel stages found in the pasted text; paste one stage per line such as 'Visits: 10,000' "
            "or an arrow chain 'Visits 10,000 → Signups 1,200'" + (f" — {reasons}" if reasons else "")
        )
    if len(parsed.stages) < 2:
        # One stage has no transition to diagnose: a report would read "Visits → Visits: 100% overall".
        only = parsed.stages[0]
        raise DataError(
            f"only one funnel stage found in the pasted text ({only.name!r}, line {only.line}); a funnel needs at "
            "least two stages with counts, e.g. 'Visits: 10,000' and 'Signups: 1,200' on separate lines"
        )
    notes: list[str] = []
    value_source = "argument" if value_per_customer is not None else None
    if value_per_customer is None:
        pasted_value = next(
            (m for m in parsed.funnel_metrics + [m for s in parsed.stages for m in s.metrics] if is_value_metric(m)),
            None,
        )
        if pasted_value is not None:
            value_per_customer = pasted_value.value
            value_source = f"pasted: {pasted_value.measures} {pasted_value.display()}"
            notes.append(f"revenue uses the pasted {value_source[8:]} as the value of one final-stage customer")
    model = build_model(parsed, improvement, _resolve_targets(targets or {}, parsed), value_per_customer)
    return _result(model, parsed, notes, value_source)


def _result(model: FunnelModel, parsed: ParsedFunnel, notes: list[str], value_source: str | None) -> ToolResult:
    reconciliation, problems = reconcile(model)
    assess_confidence(model, problems)
    scenarios = what_if(model)
    friction = friction_points(model, scenarios)
    top = top_issues(model, friction, scenarios)
    recs = recommendations(model, friction, scenarios)
    first, last = model.counts[0], model.counts[-1]
    overall = last / first if first and last is not None else None
    overall_ci = wilson_interval(last, first) if first and last is not None and last <= first else None
    result: dict[str, Any] = {
        "stages": [
            {
                "position": s.position + 1,
                "stage": s.name,
                "count": model.counts[s.position],
                "count_source": model.count_sources[s.position],
                "unit": s.count.measures if s.count else None,
                "period": (s.count.period or model.period) if s.count else None,
                "metrics": "; ".join(m.text for m in s.metrics),
            }
            for s in model.stages
        ],
        "metrics": [m.as_row(s.name) for s in model.stages for m in s.metrics]
        + [m.as_row("(whole funnel)") for m in parsed.funnel_metrics],
        "transitions": [_transition_row(t) for t in model.transitions],
        "drop_offs": _drop_offs(model),
        "friction": friction,
        "what_if": scenario_rows(model, scenarios),
        "top_issues": top["items"],
        "inconsistencies": problems,
        "reconciliation": reconciliation,
        "underutilised": underutilised(model),
        "segments": segments(model, problems),
        "recommendations": recs,
        "quick_wins": [
            {
                "rank": r["rank"],
                "title": r["title"],
                "action": r["action"].split("; then")[0],
                "impact_customers": r["impact_customers"],
                "confidence": r["confidence"],
            }
            for r in recs
            if r["quick_win"]
        ],
        "unparsed": [{"line": u.line, "text": u.text, "reason": u.reason} for u in parsed.unparsed],
        "first_stage": model.stages[0].name,
        "final_stage": model.stages[-1].name,
        "first_count": first,
        "final_count": last,
        "overall_conversion": overall,
        "overall_conversion_ci_low": overall_ci[0] if overall_ci else None,
        "overall_conversion_ci_high": overall_ci[1] if overall_ci else None,
        "period": model.period,
        "unit": model.unit,
        "top_issues_sum_extra_final": top["sum_extra_final"],
        "top_issues_combined_extra_final": top["combined_extra_final"],
        "top_issues_combined_revenue": top["combined_revenue"],
    }
    notes.extend(_notes(model, parsed, problems))
    definition = {
        "improvement": model.improvement,
        "targets": {model.stages[i].name: rate for i, rate in model.targets.items()},
        "value_per_customer": model.value_per_customer,
        "value_source": value_source,
        "shape": parsed.shape,
        "number_style": parsed.number_style,
        "period": model.period,
        **SEMANTICS,
    }
    tool_result = ToolResult(tool=TOOL_NAME, definition=definition, result=_whole_counts(result), notes=notes)
    tool_result.result["narrative"] = narrative(tool_result)
    return tool_result


_COUNT_KEYS = {"count", "from_count", "to_count", "lost", "people_lost", "first_count", "final_count", "reported"}


def _whole_counts(value: Any, key: str = "") -> Any:
    """Counts of people that are whole numbers as ints (52, not 52.0), in every row of the result."""
    if isinstance(value, dict):
        return {k: _whole_counts(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_counts(v, key) for v in value]
    if key in _COUNT_KEYS and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _transition_row(t: Any) -> dict[str, Any]:
    return {
        "transition": t.name,
        "from_count": t.from_count,
        "to_count": t.to_count,
        "observed_rate": t.observed,
        "observed_rate_ci_low": t.interval[0] if t.interval else None,
        "observed_rate_ci_high": t.interval[1] if t.interval else None,
        "stated_rate": t.stated.value if t.stated else None,
        "stated": t.stated.text if t.stated else None,
        "rate_used": t.rate,
        "rate_source": t.rate_source,
        "lost": t.lost,
        "lost_share": t.lost / t.from_count if t.lost is not None and t.from_count else None,
        "confidence": t.confidence,
    }


def _drop_offs(model: FunnelModel) -> list[dict[str, Any]]:
    known = [t for t in model.transitions if t.lost is not None]
    total = sum(t.lost for t in known if t.lost is not None)
    ranked = sorted(known, key=lambda t: -(t.lost or 0.0))
    return [
        {
            "rank": i + 1,
            "transition": t.name,
            "lost": t.lost,
            "lost_share": (t.lost or 0.0) / t.from_count if t.from_count else None,
            "share_of_all_lost": (t.lost or 0.0) / total if total else None,
        }
        for i, t in enumerate(ranked)
    ]


def _notes(model: FunnelModel, parsed: ParsedFunnel, problems: list[dict[str, Any]]) -> list[str]:
    notes = list(parsed.notes)
    if model.period_note:
        notes.append(model.period_note)
    if model.period is None:
        notes.append("no period is stated for the counts: figures are per the period the counts cover")
    for stage in model.stages:
        for metric in stage.metrics:
            notes.extend(f"{stage.name}: {note}" for note in metric.notes)
    for t in model.transitions:
        if t.stated is not None and not t.stated_matches:
            notes.append(f"'{t.stated.text}' is taken to describe {t.name} (its words do not name {t.target.name})")
        if t.rate is None:
            notes.append(f"{t.name}: no counts and no stated rate, so what-if figures stop before this step")
    if parsed.unparsed:
        notes.append(f"{len(parsed.unparsed)} piece(s) of text were not used: see 'unparsed'")
    if problems:
        notes.append(f"{len(problems)} consistency finding(s): see 'inconsistencies'")
    notes.append("the playbook actions and effort levels are common practice, not learned from your data")
    return notes


# ------------------------------------------------------------------------------------------ rendering


def narrative(analysis: ToolResult) -> str:
    """The deterministic Markdown narrative (``prompts/pasted_funnel.md.j2``) of an analysis."""
    from assistant.prompts import render  # the shared template loader; lazy so tools import no Jinja2 setup

    data = {k: v for k, v in analysis.result.items() if k != "narrative"}
    return render("pasted_funnel.md.j2", r=data, definition=analysis.definition, notes=analysis.notes)


def llm_prompt(analysis: ToolResult, question: str = "") -> str:
    """The prompt an LLM gets to write the narrative from the computed numbers only.

    Args:
        analysis: the result of ``analyse_pasted_funnel``.
        question: what the user asked for, if anything beyond the stats.
    """
    from assistant.prompts import render

    compact = analysis.compact(max_rows=12, digits=4)
    compact["result"].pop("narrative", None)
    compact["result"].pop("metrics", None)
    return render(
        "pasted_funnel_llm.md.j2",
        data_json=json.dumps(compact, ensure_ascii=False, indent=1, default=str),
        question=question,
        unit=analysis.result.get("unit") or "customers per period",
    )


# ------------------------------------------------------------------------------------------- registry


class PastedFunnelArgs(BaseModel):
    """Arguments of the ``analyze_pasted_funnel`` tool."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(
        ...,
        min_length=1,
        max_length=MAX_TEXT,
        description="The funnel stats exactly as the user pasted them (lists, arrow chains, tables); do not "
        "rewrite or compute anything.",
    )
    improvement: float = Field(
        0.10,
        gt=0,
        le=1,
        description=(
            "Improvement to model as a fraction: 0.10 = +10% relative on a rate and a 10% cut of losses and "
            "leaks. Use the user's figure if they give one (e.g. 0.25 for +25%)."
        ),
    )
    targets: dict[str, float] = Field(
        default_factory=dict,
        description=(
            "Target or benchmark rates the user gives, keyed by the stage people leave, as fractions, e.g. "
            "{'Evaluation': 0.3} for 'get 30% of evaluators to request a demo'."
        ),
    )
    value_per_customer: float | None = Field(
        None,
        ge=0,
        description=("Value of one final-stage customer (ACV, order value) if the user gives it, for revenue impact."),
    )


def _run(context: ToolContext, args: PastedFunnelArgs) -> ToolResult:
    del context  # needs no loaded data
    return analyse_pasted_funnel(args.text, args.improvement, args.targets, args.value_per_customer)


SPECS = [
    ToolSpec(
        name=TOOL_NAME,
        description=(
            "Analyse funnel stats the user PASTED as text (stage counts and rates from a slide, dashboard "
            "or spreadsheet) without any event data: conversion between stages with intervals, drop-offs "
            "ranked, inconsistencies in the pasted numbers (rates that do not reproduce counts, mixed time "
            "units), what-if impact of improving each step or cutting a leak (bounce, pricing-page "
            "abandonment, churn), ranked friction points, underused touchpoints, segment suggestions, quick "
            "wins and prioritised recommendations with impact, confidence and effort. Pass the pasted text "
            "verbatim."
        ),
        args=PastedFunnelArgs,
        run=_run,
        needs="none",
        examples=(
            "Visits 10,000 → Signups 1,200 → Paid 90: where is our biggest drop-off?",
            "Here are our stage stats from a slide: Awareness 10,000 visitors, Consideration 2,500 "
            "downloads, Evaluation 800, Purchase 150, Retention 52. What are the friction points?",
            "what happens to paid customers if we improve each funnel step by 25%?",
            "do these funnel numbers I pasted add up?",
            "predict the impact of fixing our top 3 funnel issues from these stats",
            "which quick wins can we implement this quarter given these conversion rates?",
            "40% abandon after the pricing page: how many customers would halving that recover?",
        ),
    )
]
