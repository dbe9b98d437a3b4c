"""Recommendations about channels, from attribution credit and causal impact.

A channel with a large attribution share whose causal effect shows no evidence is "credited but not causal": it
gets a holdout test, and no extra conversions are claimed. A channel that drives conversion is extended to the
customers it does not reach yet. Only channels that reach customers mid-journey (the impact tool compares them
from a stage, not from arrival) are actionable this way: acquisition channels are not withheld per customer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tools.recommend_model import FunnelFacts, Recommendation, experiment, pct
from tools.result import ToolResult

CREDIT_SHARE_THRESHOLD = 0.10


def credited_not_causal(
    attribution: ToolResult | None, impact: ToolResult | None, min_share: float = CREDIT_SHARE_THRESHOLD
) -> list[dict[str, Any]]:
    """Channels with a large attribution share whose causal effect shows no evidence, largest credit first.

    Args:
        attribution: an ``attribution`` result (``--model all`` or a single model).
        impact: an ``impact`` result.
        min_share: the smallest credit share (highest over the models) counted as large.
    """
    if attribution is None or impact is None:
        return []
    shares = _credit_shares(attribution)
    out = []
    for row in impact.result.get("channels", []):
        verdict = str(row.get("verdict", ""))
        share = shares.get(str(row.get("channel")))
        if share is not None and share >= min_share and verdict.startswith("no evidence"):
            out.append({**row, "max_credit_share": share})
    out.sort(key=lambda r: -r["max_credit_share"])
    return out


def _credit_shares(attribution: ToolResult) -> dict[str, float]:
    """The highest share each channel gets under any model in the result."""
    shares: dict[str, float] = {}
    by_model = attribution.result.get("by_model") or {"model": attribution.result.get("channels", [])}
    for rows in by_model.values():
        for row in rows:
            channel = str(row["channel"])
            shares[channel] = max(shares.get(channel, 0.0), float(row.get("share") or 0.0))
    return shares


def _mid_journey(row: Mapping[str, Any], facts: FunnelFacts) -> int | None:
    """Index of the stage a channel is compared from, when it reaches customers mid-journey (not at arrival)."""
    stage = row.get("compared_from")
    return facts.steps.index(stage) if stage in facts.steps else None


def channel_recommendations(
    facts: FunnelFacts,
    attribution: ToolResult | None,
    impact: ToolResult | None,
    weeks_of_data: float,
    value_per_conversion: float | None,
) -> list[Recommendation]:
    """Holdouts for credited-but-not-causal channels and extensions of channels that drive conversion.

    Only channels that reach customers mid-journey (compared from a stage, not from arrival) are actionable
    this way: acquisition channels are neither withheld nor extended per customer.
    """
    if impact is None:
        return []
    weeks = max(weeks_of_data, 1e-9)
    out = []
    for row in credited_not_causal(attribution, impact):
        index = _mid_journey(row, facts)
        if index is None:
            continue
        channel, stage = row["channel"], facts.steps[index]
        baseline = facts.downstream(index)
        high = row.get("ci_high_pp")
        target = baseline + high / 100 if baseline is not None and high is not None and high > 0 else None
        per_week = float(row.get("exposed_customers") or 0) / weeks or None
        out.append(
            Recommendation(
                id=f"holdout:{channel}",
                kind="holdout",
                action=f"Hold out {channel} for a random half of the customers it targets before spending more on it",
                why=f"{channel} gets up to {pct(row['max_credit_share'])} of attribution credit, but shows no "
                "causal effect: credited but not causal",
                metric=f"{stage} -> {facts.steps[-1]} conversion of customers {channel} targets",
                kpi_metric="conversions",
                baseline=baseline,
                assumed_value=baseline,
                assumed_improvement="no conversions lost without it "
                f"(measured effect {row.get('effect_pp', 0):+.1f} pp)",
                assumption_source="causal impact estimate (impact tool)",
                alternatives=[],
                expected_extra_conversions_per_week=0.0,
                expected_extra_revenue_per_week=None,
                confidence="high",
                effort="low",
                experiment=experiment(
                    f"withhold {channel} from a random half of the customers it would reach; sized to detect the "
                    "largest effect the data still allows (upper end of its 95% interval)",
                    f"{stage} -> {facts.steps[-1]} conversion, {channel} vs holdout",
                    baseline,
                    target,
                    per_week,
                ),
                evidence=[
                    f"effect {row.get('effect_pp', 0):+.1f} pp (95% CI {row.get('ci_low_pp', 0):+.1f} to "
                    f"{row.get('ci_high_pp', 0):+.1f}) against a naive difference of "
                    f"{row.get('naive_difference_pp', 0):+.1f} pp",
                    "the saving is the channel's spend, which is not in the data",
                ],
            )
        )
    for row in impact.result.get("channels", []):
        index = _mid_journey(row, facts)
        effect, unexposed = row.get("effect_pp"), row.get("analysed_unexposed")
        if row.get("verdict") != "drives" or index is None or effect is None or not unexposed:
            continue
        channel, stage = row["channel"], facts.steps[index]
        per_week = float(unexposed) / weeks
        extra = per_week * float(effect) / 100
        baseline = facts.downstream(index)
        target = min(baseline + float(effect) / 100, 0.99) if baseline is not None else None
        out.append(
            Recommendation(
                id=f"scale:{channel}",
                kind="scale",
                action=f"Extend {channel} to the customers at {stage} who do not get it",
                why=f"{channel} causes {effect:+.1f} pp more conversions among the customers it reaches",
                metric=f"{stage} -> {facts.steps[-1]} conversion",
                kpi_metric="conversions",
                baseline=baseline,
                assumed_value=target,
                assumed_improvement=f"{effect:+.1f} pp for each newly reached customer",
                assumption_source="causal impact estimate (impact tool), assumed to hold for the customers not "
                "yet reached",
                alternatives=[],
                expected_extra_conversions_per_week=extra,
                expected_extra_revenue_per_week=extra * value_per_conversion if value_per_conversion else None,
                confidence="medium",
                effort="medium",
                experiment=experiment(
                    f"randomise {channel} among the customers at {stage} who do not get it today",
                    f"{stage} -> {facts.steps[-1]} conversion, {channel} vs control",
                    baseline,
                    target,
                    per_week,
                ),
                evidence=[
                    f"effect {effect:+.1f} pp "
                    f"(95% CI {row.get('ci_low_pp', 0):+.1f} to {row.get('ci_high_pp', 0):+.1f})",
                    f"{int(unexposed):,} customers at {stage} did not get it ({per_week:,.0f} a week)",
                ],
            )
        )
    return out
