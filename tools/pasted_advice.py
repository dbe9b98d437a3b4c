"""Recommendations from the pasted-funnel numbers: prioritised actions, underused touchpoints, segments.

Every recommendation states its impact (final-stage people per period, from the what-if arithmetic), its
confidence (from the consistency checks and sample sizes) and its effort (from the playbook below, by the
kind of fix), and is ranked by ``priority = impact × confidence weight ÷ effort points`` with confidence
weights high 1.0 / medium 0.7 / low 0.4 and effort points low 1 / medium 2 / high 3. The playbook is a
deterministic table of common fixes keyed by words in the stage and metric names; it is advice, not data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tools.pasted_analysis import CONFIDENCE_WEIGHT, FunnelModel, Transition
from tools.pasted_math import fmt_num, fmt_pct, relative_lift
from tools.pasted_whatif import Scenario

EFFORT_POINTS = {"low": 1, "medium": 2, "high": 3}


@dataclass(frozen=True)
class Play:
    """A common fix for a kind of friction."""

    pattern: str
    effort: str
    action: str
    effort_reason: str

    def matches(self, text: str) -> bool:
        """Whether the play applies to a stage or metric described by ``text``."""
        return re.search(self.pattern, text, re.IGNORECASE) is not None


LEAK_PLAYS: tuple[Play, ...] = (
    Play(
        r"bounce",
        "low",
        "cut the bounce: match each landing page to the ad or search intent that brings visitors, make the "
        "first screen load fast and put one clear next step above the fold",
        "landing-page copy, speed and layout changes ship in days and can be A/B tested",
    ),
    Play(
        r"pric|checkout|cart|payment|form",
        "low",
        "fix value communication where people abandon: a plan comparison, a worked ROI or payback example, "
        "plain answers on fees and contract terms, and a 'book a demo' call to action on that page",
        "page content and call-to-action changes, testable within weeks",
    ),
    Play(
        r"churn|cancel",
        "high",
        "reduce churn: onboarding that gets new customers to first value, health scores that flag inactive "
        "accounts, and outreach well before renewal",
        "needs product, customer-success and lifecycle work over more than a quarter",
    ),
    Play(
        r"unsubscri|spam",
        "low",
        "send fewer, more relevant emails: segment lists by interest and let people choose frequency",
        "email settings and segmentation",
    ),
    Play(
        r".",
        "medium",
        "find out why people leave here (exit survey, session recordings, interviews) before choosing a fix",
        "needs research before a fix can be chosen",
    ),
)

TRANSITION_PLAYS: tuple[Play, ...] = (
    Play(
        r"demo|trial|quote|consult|meeting|contact|request|book",
        "low",
        "make the next step effortless: a demo call to action on every product and pricing page, a short "
        "form and instant calendar booking",
        "call-to-action, form and booking changes",
    ),
    Play(
        r"paid|customer|purchase|order|won|closed|buy|contract|deal",
        "medium",
        "tighten the close: follow up every request within a day, agree a mutual action plan, offer a "
        "pilot, and remove what lengthens the sales cycle",
        "sales-process changes need sales alignment and a full cycle to show",
    ),
    Play(
        r"product|pricing|feature|solution|evaluat",
        "low",
        "route interest to the product: product-page links and calls to action inside the content, on the "
        "download confirmation and in nurture emails",
        "links and email changes",
    ),
    Play(
        r"download|content|lead|sign.?up|register|subscriber|consider|engag|interest",
        "medium",
        "turn visits into engagement: content offers on the top landing pages, matched to each traffic "
        "source, with in-article and exit-intent offers",
        "new offers and landing-page variants take a few weeks",
    ),
    Play(
        r"retain|retention|active|renew|repeat|loyal",
        "high",
        "improve onboarding and activation so new customers reach first value quickly",
        "a cross-team programme",
    ),
    Play(
        r".",
        "medium",
        "find where people stall between these stages (funnel analytics by source, exit surveys, session "
        "recordings) before choosing a fix",
        "needs diagnosis first",
    ),
)


def _play(plays: tuple[Play, ...], text: str) -> Play:
    return next(play for play in plays if play.matches(text))


def recommendations(
    model: FunnelModel, friction: list[dict[str, Any]], scenarios: list[Scenario]
) -> list[dict[str, Any]]:
    """One prioritised recommendation per transition (its leaks first) and per leak after the last stage."""
    rows: list[dict[str, Any]] = []
    by_transition = {row["transition"]: row for row in friction if row["kind"] == "transition"}
    for t in model.transitions:
        row = by_transition.get(t.name)
        if row is None:
            continue
        rows.append(_for_transition(model, t, row, scenarios))
    for row in friction:
        if row["kind"] == "leak" and row["transition"] is None:
            leak_play = _play(LEAK_PLAYS, row["friction"])
            weight = CONFIDENCE_WEIGHT[row["confidence"]]
            impact = row["recoverable_final"] or 0.0
            rows.append(
                {
                    "title": f"{row['friction']}",
                    "action": leak_play.action[:1].upper() + leak_play.action[1:],
                    "impact_customers": impact,
                    "impact_unit": row["unit"],
                    "impact_revenue": row["recoverable_revenue"],
                    "impact": f"{row['scenario']}: {fmt_num(impact)} {row['unit']}; halved: "
                    f"{fmt_num(row['recoverable_final_if_halved'])}",
                    "confidence": row["confidence"],
                    "confidence_reason": row["assumption"],
                    "effort": leak_play.effort,
                    "effort_reason": leak_play.effort_reason,
                    "priority_score": impact * weight / EFFORT_POINTS[leak_play.effort],
                    "priority_arithmetic": f"{fmt_num(impact)} × {weight} ({row['confidence']}) ÷ "
                    f"{EFFORT_POINTS[leak_play.effort]} ({leak_play.effort} effort)",
                    "quick_win": leak_play.effort == "low",
                }
            )
    rows.sort(key=lambda r: -r["priority_score"])
    return [{"rank": rank, **row} for rank, row in enumerate(rows, start=1)]


def _for_transition(
    model: FunnelModel, t: Transition, row: dict[str, Any], scenarios: list[Scenario]
) -> dict[str, Any]:
    target_text = f"{t.target.name} {t.target.count.measures if t.target.count else ''} " + (
        t.stated.measures if t.stated is not None else ""
    )
    move = _play(TRANSITION_PLAYS, target_text)
    leak_plays = [(leak, _play(LEAK_PLAYS, leak.measures)) for leak in t.leaks]
    primary = leak_plays[0][1] if leak_plays else move
    actions = []
    for leak, play in leak_plays:
        people = (t.from_count or 0) * leak.value
        share = f", {fmt_pct(min(people / t.lost, 1.0))} of the {fmt_num(t.lost)} lost here" if t.lost else ""
        actions.append(
            f"start with the {fmt_pct(leak.value)} '{leak.measures}' ({fmt_num(people)} people{share}): {play.action}"
        )
    actions.append(move.action if not actions else f"then {move.action}")
    action = "; ".join(actions)
    impact = row["recoverable_final"] or 0.0
    weight = CONFIDENCE_WEIGHT[t.confidence]
    points = EFFORT_POINTS[primary.effort]
    explained = f"{row['scenario']} = {fmt_num(row['extra_next_stage'])} more at {t.target.name}"
    if t.index + 1 < len(model.stages) - 1:
        explained += f" → {fmt_num(impact)} {model.unit}"
    for leak, _ in leak_plays:
        half = next((s for s in scenarios if s.transition is t and s.leak is leak and s.kind == "leak_halved"), None)
        if half is not None:
            explained += (
                f"; halving '{leak.measures}' alone: {fmt_num(half.extra_next)} more at {t.target.name} → "
                f"{fmt_num(half.extra_final)} {model.unit}"
            )
    return {
        "title": f"{t.name}: {fmt_pct(row['lost_share'])} lost ({fmt_num(t.lost)} people)",
        "action": action[:1].upper() + action[1:],
        "impact_customers": impact,
        "impact_unit": model.unit,
        "impact_revenue": row["recoverable_revenue"],
        "impact": explained,
        "confidence": t.confidence,
        "confidence_reason": "; ".join(t.confidence_reasons),
        "effort": primary.effort,
        "effort_reason": primary.effort_reason,
        "priority_score": impact * weight / points,
        "priority_arithmetic": f"{fmt_num(impact)} × {weight} ({t.confidence}) ÷ {points} ({primary.effort} effort)",
        "quick_win": primary.effort == "low",
    }


def underutilised(model: FunnelModel) -> list[dict[str, Any]]:
    """Touchpoints that carry fewer people than they could, each with its evidence and potential."""
    rows: list[dict[str, Any]] = []
    imp = model.improvement
    for t in model.transitions:
        stated = t.stated
        if stated is None or stated not in t.source.metrics or t.from_count is None:
            continue
        flow = t.from_count * stated.value
        feeds_minority = t.to_count is not None and flow < 0.5 * t.to_count
        if not (feeds_minority or stated.value < 0.2):
            continue
        down = model.downstream(t.index + 1)
        lift = relative_lift(t.from_count, stated.value, imp, down)
        evidence = (
            f"only {fmt_pct(stated.value)} of {fmt_num(t.from_count)} {_noun(t)} {stated.measures} ({fmt_num(flow)})"
        )
        if feeds_minority and t.to_count:
            evidence += (
                f", yet {fmt_num(t.to_count)} reach {t.target.name}: this path supplies "
                f"{fmt_pct(flow / t.to_count)} of them"
            )
        rows.append(
            {
                "touchpoint": f"{t.source.name}: {stated.measures}",
                "stage": t.source.name,
                "evidence": evidence,
                "potential": f"+{fmt_pct(imp)} relative ({fmt_pct(stated.value)} → {fmt_pct(lift.new_rate)}) "
                f"= {fmt_num(lift.extra_next)} more at {t.target.name}"
                + (f" → {fmt_num(lift.extra_final)} {model.unit}" if lift.extra_final is not None else ""),
                "potential_extra_final": lift.extra_final,
            }
        )
    for stage in model.stages:
        count = stage.count.value if stage.count else None
        for metric in stage.with_role("average"):
            low = metric.measures.lower()
            if "page" in low and metric.value < 2:
                rows.append(
                    {
                        "touchpoint": f"{stage.name}: {metric.measures}",
                        "stage": stage.name,
                        "evidence": f"visitors see {fmt_num(metric.value)} pages on average",
                        "potential": "internal links and next-step content are barely used: each extra page "
                        "viewed is another chance to move people on",
                        "potential_extra_final": None,
                    }
                )
            elif "touch" in low:
                rows.append(
                    {
                        "touchpoint": f"{stage.name}: {metric.measures}",
                        "stage": stage.name,
                        "evidence": f"it takes {fmt_num(metric.value)} touchpoints on average",
                        "potential": "each touch counts: make every nurture email and retargeting touch "
                        "carry the next-step call to action",
                        "potential_extra_final": None,
                    }
                )
        for metric in stage.with_role("health"):
            if metric.value < 0.9 and count:
                idle = count * (1 - metric.value)
                rows.append(
                    {
                        "touchpoint": f"{stage.name}: {metric.measures}",
                        "stage": stage.name,
                        "evidence": f"{fmt_pct(1 - metric.value)} of {fmt_num(count)} are not at "
                        f"'{metric.measures}' ({fmt_num(idle)})",
                        "potential": "onboarding and in-product guidance reach too few customers",
                        "potential_extra_final": None,
                    }
                )
    return rows


def _noun(t: Transition) -> str:
    return t.source.count.measures if t.source.count and t.source.count.measures else "people"


def segments(model: FunnelModel, problems: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Segment-specific suggestions that the pasted numbers themselves justify."""
    rows: list[dict[str, Any]] = []
    for t in model.transitions:
        if t.stated is None or t.from_count is None or t.to_count is None or t.stated not in t.source.metrics:
            continue
        flow = t.from_count * t.stated.value
        if t.to_count > flow + t.from_count * t.stated.tolerance + 0.5:
            rows.append(
                {
                    "segment": f"{t.target.name} by entry path",
                    "evidence": f"{fmt_num(t.to_count)} reach {t.target.name} but only {fmt_num(flow)} come "
                    f"from {_noun(t)}: {fmt_num(t.to_count - flow)} arrive by other entry paths",
                    "suggestion": f"segment {t.target.name} by source ({_noun(t)} vs direct, search, paid) "
                    "and compare their next-step rates before investing in either path",
                }
            )
        elif t.to_count < flow - t.from_count * t.stated.tolerance - 0.5:
            rows.append(
                {
                    "segment": f"{t.target.name} by status",
                    "evidence": f"{fmt_pct(t.stated.value)} of {fmt_num(t.from_count)} is {fmt_num(flow)}, "
                    f"yet {fmt_num(t.to_count)} are reported at {t.target.name}",
                    "suggestion": f"split '{t.stated.measures}' by status (started, completed, qualified) to "
                    f"see where the {fmt_num(flow - t.to_count)} go missing",
                }
            )
    for stage in model.stages:
        count = stage.count.value if stage.count else None
        for leak in stage.with_role("leak"):
            if count and re.search(r"bounce|abandon|exit|drop", leak.measures, re.IGNORECASE):
                rows.append(
                    {
                        "segment": f"{stage.name} by source and page",
                        "evidence": f"{fmt_pct(leak.value)} {leak.measures} = {fmt_num(count * leak.value)} people",
                        "suggestion": f"split '{leak.measures}' by traffic source, device and landing page; "
                        "fix the worst segments first instead of the average",
                    }
                )
        for metric in stage.with_role("duration"):
            rows.append(
                {
                    "segment": f"{stage.name} by deal size or segment",
                    "evidence": f"average {metric.measures or 'cycle'} of {fmt_num(metric.value)} {metric.unit}",
                    "suggestion": "compare cycle length by company size and source: a fast-track for small "
                    "deals shortens the average",
                }
            )
        for metric in stage.with_role("health"):
            if count and metric.value < 0.9:
                rows.append(
                    {
                        "segment": f"{stage.name}: not at '{metric.measures}'",
                        "evidence": f"{fmt_pct(1 - metric.value)} of {fmt_num(count)} = "
                        f"{fmt_num(count * (1 - metric.value))}",
                        "suggestion": "treat them as the churn-risk segment: onboarding outreach and usage nudges",
                    }
                )
        for metric in stage.with_role("average"):
            if "touch" in metric.measures.lower():
                rows.append(
                    {
                        "segment": f"{stage.name} by number of touches",
                        "evidence": f"average {fmt_num(metric.value)} {metric.measures}",
                        "suggestion": "compare people who progress after one or two touches with those who "
                        "need more: the content the fast group saw is what to promote",
                    }
                )
    return rows
