"""What-if impact and friction ranking for the pasted-funnel doctor.

Per transition: a relative lift of its rate, recovering a share of the people it loses, and a user target.
Per within-stage leak: cutting it by the improvement and halving it (see ``tools.pasted_math`` for the leak
assumption). Friction points are ranked by the final-stage people they recover per period.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tools.pasted_analysis import FunnelModel, Transition
from tools.pasted_math import (
    Lift,
    combined_lift,
    fmt_num,
    fmt_pct,
    leak_lift,
    lift_rate,
    recover_lost,
    relative_lift,
)
from tools.pasted_numbers import Metric
from tools.pasted_parse import Stage


@dataclass
class Scenario:
    """One what-if: which rate changes, how, and what it adds at the next and final stage."""

    transition: Transition | None
    stage: Stage
    scenario: str
    base_rate: float
    new_rate: float
    extra_next: float | None
    extra_final: float | None
    arithmetic: str
    kind: str  # relative | recover | target | leak | leak_halved | retention | retention_halved
    lift: float | None = None
    leak: Metric | None = None


def what_if(model: FunnelModel) -> list[Scenario]:
    """Every scenario: per transition (relative lift, recovering lost people, targets) and per leak."""
    out: list[Scenario] = []
    imp = model.improvement
    for t in model.transitions:
        if t.rate is None or t.from_count is None or t.rate >= 1:
            # A transition that loses nobody (the next stage is as large or larger) has nothing to recover.
            continue
        down = model.downstream(t.index + 1)
        base = t.rate
        options: list[tuple[str, str, Lift]] = [
            (
                "relative",
                f"raise the rate {fmt_pct(imp)} (relative)",
                relative_lift(t.from_count, base, imp, down),
            ),
            (
                "recover",
                f"recover {fmt_pct(imp)} of the {fmt_num(t.lost)} lost"
                if t.lost is not None
                else f"recover {fmt_pct(imp)} of those lost",
                recover_lost(t.from_count, base, imp, down),
            ),
        ]
        if t.index in model.targets:
            target = model.targets[t.index]
            options.append(
                (
                    "target",
                    f"reach the target rate {fmt_pct(target)}",
                    lift_rate(t.from_count, base, target, down),
                )
            )
        for kind, label, lift in options:
            arithmetic = (
                f"{fmt_num(t.from_count)} × ({fmt_pct(lift.new_rate)} − {fmt_pct(base)}) = "
                f"{fmt_num(lift.extra_next)} more at {t.target.name}"
            )
            if lift.extra_final is not None and t.index + 1 < len(model.stages) - 1:
                arithmetic += (
                    f"; × {fmt_num(model.final)}/{fmt_num(t.to_count)} downstream = "
                    f"{fmt_num(lift.extra_final)} {model.unit}"
                    if t.to_count
                    else f"; × downstream {fmt_pct(down)} = {fmt_num(lift.extra_final)}"
                )
            if lift.capped:
                arithmetic += " (capped at 100%)"
            out.append(
                Scenario(
                    t,
                    t.source,
                    label,
                    base,
                    lift.new_rate,
                    lift.extra_next,
                    lift.extra_final,
                    arithmetic,
                    kind,
                    lift=(lift.new_rate / base - 1) if base else None,
                )
            )
        for leak in t.leaks:
            out.extend(_leak_scenarios(model, t, leak, down))
    last = model.stages[-1] if model.stages else None
    if last is not None and model.final is not None:
        for leak in last.with_role("leak"):
            for kind, new in (("retention", leak.value * (1 - imp)), ("retention_halved", leak.value / 2)):
                kept = model.final * (leak.value - new)
                label = _leak_label(leak, new, kind == "retention_halved")
                period = f" per {leak.period}" if leak.period else ""
                out.append(
                    Scenario(
                        None,
                        last,
                        label,
                        leak.value,
                        new,
                        None,
                        kept,
                        f"{fmt_num(model.final)} × ({fmt_pct(leak.value)} − {fmt_pct(new)}) = "
                        f"{fmt_num(kept)} {last.count.measures if last.count else 'customers'} kept{period} "
                        f"per cohort of {fmt_num(model.final)}",
                        kind,
                        leak=leak,
                    )
                )
    return out


def _kept_unit(leak: Metric) -> str:
    return f"customers kept per {leak.period or 'period'} per cohort"


def _leak_label(leak: Metric, new: float, halved: bool) -> str:
    if halved:
        return f"halve '{leak.measures}' ({fmt_pct(leak.value)} → {fmt_pct(new)})"
    return f"cut '{leak.measures}' from {fmt_pct(leak.value)} to {fmt_pct(new)}"


def _leak_scenarios(model: FunnelModel, t: Transition, leak: Metric, down: float | None) -> list[Scenario]:
    out: list[Scenario] = []
    assert t.rate is not None and t.from_count is not None
    for kind, new in (("leak", leak.value * (1 - model.improvement)), ("leak_halved", leak.value / 2)):
        lift = leak_lift(leak.value, new)
        if lift is None:
            continue
        capped = t.rate * (1 + lift) > 1
        new_rate = min(t.rate * (1 + lift), 1.0)
        extra_next = t.from_count * (new_rate - t.rate)
        extra_final = None if down is None else extra_next * down
        stayers_rate = t.rate / (1 - leak.value)
        label = _leak_label(leak, new, kind == "leak_halved")
        arithmetic = (
            f"{fmt_num(t.from_count)} × ({fmt_pct(leak.value)} − {fmt_pct(new)}) = "
            f"{fmt_num(t.from_count * (leak.value - new))} kept; × {fmt_pct(stayers_rate)} onward rate of "
            f"non-leavers ({fmt_num(t.to_count)}/({fmt_num(t.from_count)} × {fmt_pct(1 - leak.value)})) = "
            f"{fmt_num(extra_next)} more at {t.target.name}"
        )
        if extra_final is not None and t.index + 1 < len(model.stages) - 1:
            arithmetic += f"; × {fmt_num(model.final)}/{fmt_num(t.to_count)} = {fmt_num(extra_final)} {model.unit}"
        if capped:
            arithmetic += " (capped at 100%)"
        out.append(
            Scenario(
                t,
                t.source,
                label,
                t.rate,
                new_rate,
                extra_next,
                extra_final,
                arithmetic,
                kind,
                lift=lift,
                leak=leak,
            )
        )
    return out


def scenario_rows(model: FunnelModel, scenarios: list[Scenario]) -> list[dict[str, Any]]:
    """The ``what_if`` table."""
    return [
        {
            "transition": s.transition.name if s.transition else f"{s.stage.name} (after the last transition)",
            "scenario": s.scenario,
            "base_rate": s.base_rate,
            "new_rate": s.new_rate,
            "extra_next_stage": s.extra_next,
            "extra_final": s.extra_final,
            "extra_revenue": model.revenue(s.extra_final),
            "unit": model.unit if s.leak is None or s.transition is not None else _kept_unit(s.leak),
            "arithmetic": s.arithmetic,
        }
        for s in scenarios
    ]


# ------------------------------------------------------------------------------------------ friction


def friction_points(model: FunnelModel, scenarios: list[Scenario]) -> list[dict[str, Any]]:
    """Transitions and within-stage leaks ranked by final-stage people recoverable per period.

    A transition's recoverable people come from recovering ``improvement`` of the people it loses (a
    relative lift of the same size would add the same number everywhere, because rates multiply); a leak's
    come from cutting it by ``improvement``. ``*_if_halved`` halves the loss or the leak instead.
    """
    by_key = {(id(s.transition), id(s.leak), s.kind): s for s in scenarios}
    rows: list[dict[str, Any]] = []
    for t in model.transitions:
        main = by_key.get((id(t), id(None), "recover"))
        if main is None or t.lost is None or t.from_count is None or t.rate is None:
            continue
        halved = recover_lost(t.from_count, t.rate, 0.5, model.downstream(t.index + 1))
        causes = [
            ("largest identified leak here: " if rank == 0 else "also ")
            + f"{fmt_pct(m.value)} {m.measures} = {fmt_num(t.from_count * m.value)} people"
            + (
                f" ({fmt_pct(min(t.from_count * m.value / t.lost, 1.0))} of the {fmt_num(t.lost)} lost)"
                if t.lost
                else ""
            )
            for rank, m in enumerate(sorted(t.leaks, key=lambda leak: -leak.value))
        ]
        rows.append(
            {
                "friction": t.name,
                "kind": "transition",
                "stage": t.source.name,
                "transition": t.name,
                "people_lost": t.lost,
                "lost_share": t.lost / t.from_count if t.from_count else None,
                "scenario": main.scenario,
                "extra_next_stage": main.extra_next,
                "recoverable_final": main.extra_final,
                "recoverable_final_if_halved": halved.extra_final,
                "recoverable_revenue": model.revenue(main.extra_final),
                "unit": model.unit,
                "confidence": t.confidence,
                "identified_causes": "; ".join(causes) or None,
                "assumption": "people recovered at this step continue at the observed downstream rates",
            }
        )
        for leak in t.leaks:
            cut = by_key.get((id(t), id(leak), "leak"))
            half = by_key.get((id(t), id(leak), "leak_halved"))
            if cut is None:
                continue
            rows.append(
                {
                    "friction": f"{fmt_pct(leak.value)} {leak.measures} ({t.source.name})",
                    "kind": "leak",
                    "stage": t.source.name,
                    "transition": t.name,
                    "people_lost": t.from_count * leak.value,
                    "lost_share": leak.value,
                    "scenario": cut.scenario,
                    "extra_next_stage": cut.extra_next,
                    "recoverable_final": cut.extra_final,
                    "recoverable_final_if_halved": half.extra_final if half else None,
                    "recoverable_revenue": model.revenue(cut.extra_final),
                    "unit": model.unit,
                    "confidence": "medium" if t.confidence != "low" else "low",
                    "identified_causes": None,
                    "assumption": "the people a leak loses would not have progressed; those kept progress "
                    "like non-leavers",
                }
            )
    for s in scenarios:
        if s.kind == "retention" and s.leak is not None:
            half = next((h for h in scenarios if h.kind == "retention_halved" and h.leak is s.leak), None)
            mixed = s.leak.period is not None and model.period is not None and s.leak.period != model.period
            rows.append(
                {
                    "friction": f"{fmt_pct(s.leak.value)} {s.leak.measures} ({s.stage.name})",
                    "kind": "leak",
                    "stage": s.stage.name,
                    "transition": None,
                    "people_lost": (model.final or 0) * s.leak.value,
                    "lost_share": s.leak.value,
                    "scenario": s.scenario,
                    "extra_next_stage": None,
                    "recoverable_final": s.extra_final,
                    "recoverable_final_if_halved": half.extra_final if half else None,
                    "recoverable_revenue": model.revenue(s.extra_final),
                    "unit": _kept_unit(s.leak),
                    "confidence": "low" if mixed else "medium",
                    "identified_causes": None,
                    "assumption": "the stage's leak applies to each cohort of the final stage"
                    + (f"; the leak is per {s.leak.period} while counts are per {model.period}" if mixed else ""),
                }
            )
    rows.sort(key=lambda r: -(r["recoverable_final"] or 0.0))
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    return [{"rank": r.pop("rank"), **r} for r in rows]


def top_issues(
    model: FunnelModel, friction: list[dict[str, Any]], scenarios: list[Scenario], n: int = 3
) -> dict[str, Any]:
    """The top ``n`` friction points on distinct transitions and their separate and combined effect."""
    chosen: list[dict[str, Any]] = []
    used: set[str] = set()
    for row in friction:
        key = row["transition"] or row["friction"]
        if key in used or row["recoverable_final"] is None:
            continue
        used.add(key)
        chosen.append(row)
        if len(chosen) == n:
            break
    lifts = []
    kept = 0.0
    for row in chosen:
        if row["transition"] is None:
            kept += row["recoverable_final"]
            continue
        transition = next(t for t in model.transitions if t.name == row["transition"])
        scenario = next(
            s
            for s in scenarios
            if s.transition is transition
            and (s.kind == "recover" if row["kind"] == "transition" else s.kind == "leak")
            and (row["kind"] == "transition" or row["friction"].startswith(fmt_pct(s.leak.value if s.leak else 0)))
        )
        lifts.append(scenario.new_rate / scenario.base_rate - 1 if scenario.base_rate else 0.0)
    total_sum = sum(row["recoverable_final"] for row in chosen)
    combined = None
    if model.final is not None:
        combined = model.final * combined_lift(lifts) + kept
    return {
        "items": [
            {
                "rank": i + 1,
                "friction": row["friction"],
                "scenario": row["scenario"],
                "extra_final": row["recoverable_final"],
                "extra_revenue": row["recoverable_revenue"],
            }
            for i, row in enumerate(chosen)
        ],
        "lifts": lifts,
        "sum_extra_final": total_sum,
        "combined_extra_final": combined,
        "combined_revenue": model.revenue(combined),
    }
