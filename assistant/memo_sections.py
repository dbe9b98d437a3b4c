"""The memo's sections, each filled from existing tools' results (no analytics here: only calls and reshaping).

Every builder takes the ``MemoRun`` (data, week, settings-derived parameters) and returns a ``Section`` whose
``data`` the templates render and whose ``results`` the number verifier checks. A builder whose tool is not
registered, or whose tool refuses the data (a ``JourneyError``), yields a section marked unavailable with the
reason, so one missing analysis never stops the memo.
"""

from __future__ import annotations

import itertools
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.context import ToolContext
from tools.dataset import Dataset
from tools.errors import JourneyError
from tools.result import ToolResult
from tools.weeks import IsoWeek

COHORT_WEEKS = 4
PATHS_TOP, PATHS_DEPTH = 8, 4
SEGMENT_LABEL_MAX = 40


class ToolMissingError(JourneyError):
    """A tool the section needs is not registered in this build."""


@dataclass
class Section:
    """One section of the memo.

    Attributes:
        key: stable identifier (``kpis``, ``funnel`` …); charts and templates are keyed by it.
        title: the heading.
        available: False when the section could not be computed.
        reason: why it is unavailable (one line for the reader).
        data: what the templates render.
        results: the tool results behind it (checked by the number verifier).
        seconds: time spent computing it.
    """

    key: str
    title: str
    available: bool = True
    reason: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    results: list[ToolResult] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class MemoRun:
    """Everything the section builders share for one memo.

    Attributes:
        context: the tool context (dataset loader, feedback source, defaults).
        week: the memo's week.
        tools: names of the registered tools.
        benchmarks: transition -> conversion rate from config (may be empty).
        cache: results shared between sections (e.g. the KPI result used by recommendations).
    """

    context: ToolContext
    week: IsoWeek
    tools: set[str]
    benchmarks: dict[str, float] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def dataset(self) -> Dataset:
        return self.context.dataset()

    @property
    def stages(self) -> tuple[str, ...]:
        return tuple(self.context.defaults.stages)

    @property
    def conversion(self) -> str:
        return self.context.defaults.conversion

    def cohort_weeks(self) -> list[IsoWeek]:
        """Complete cohort weeks before this one (full funnel window by the end of this week) within the data."""
        first = IsoWeek.of(self.dataset.summary()["first"])
        weeks = [self.week.shift(-k) for k in range(COHORT_WEEKS, 0, -1)]
        return [w for w in weeks if w >= first] or [self.week.shift(-1)]

    def funnel(self, cohort: str) -> ToolResult:
        """The ``funnel`` result of a cohort (``this``, ``last`` week or the complete ``cohorts``), computed once.

        When the segments section has labelled the customers, the funnel is broken down by segment (the overall
        rows are the same), so one computation serves the funnel, friction, segments and recommendations.
        """
        from tools.funnels import funnel

        key = f"funnel:{cohort}"
        if key not in self.cache:
            weeks = self.cohort_weeks()
            since, until = {
                "this": (self.week.first_day, self.week.last_day),
                "last": (self.week.shift(-1).first_day, self.week.shift(-1).last_day),
                "cohorts": (weeks[0].first_day, weeks[-1].last_day),
            }[cohort]
            labelled = self.cache.get("labelled")
            self.cache[key] = funnel(
                labelled or self.dataset,
                by="segment" if labelled is not None else None,
                since=since,
                until=until,
                defaults=self.context.defaults,
            )
        result: ToolResult = self.cache[key]
        return result

    def invoke(self, name: str, arguments: dict[str, Any]) -> ToolResult:
        """Run a registered tool (``ToolMissingError`` when it is not registered)."""
        from tools.registry import invoke

        if name not in self.tools:
            raise ToolMissingError(f"the {name} tool is not available in this build")
        return invoke(name, arguments, self.context)


def build_section(key: str, title: str, builder: Callable[[MemoRun], Section], run: MemoRun) -> Section:
    """Run one builder, turning a refused or missing tool into an unavailable section."""
    started = time.perf_counter()
    try:
        section = builder(run)
    except JourneyError as exc:
        section = Section(key, title, available=False, reason=str(exc))
    section.key, section.title = key, title
    section.seconds = time.perf_counter() - started
    return section


def _kpis(run: MemoRun) -> Section:
    from tools.kpis import weekly_kpis

    result = weekly_kpis(run.dataset, run.week, run.stages, run.conversion)
    run.cache["kpis"] = result
    rows = result.result["kpis"]
    return Section(
        "kpis",
        "",
        data={
            "rows": rows,
            "significant": [r for r in rows if r["significant"]],
            "nothing_significant": result.result["nothing_significant"],
            "last_week": result.result["last_week"],
            "trailing_weeks": result.definition["trailing_weeks"],
            "weekly": result.result["weekly"],
            "notes": result.notes,
        },
        results=[result],
    )


def _funnel(run: MemoRun) -> Section:
    this, last = run.funnel("this"), run.funnel("last")
    rows = []
    for now, before in zip(this.result["steps"], last.result["steps"], strict=True):
        rate, rate_before = now["conversion_from_previous"], before["conversion_from_previous"]
        rows.append(
            {
                "step": now["step"],
                "this_week": now["customers"],
                "last_week": before["customers"],
                "this_rate": rate,
                "last_rate": rate_before,
                "change_pp": (rate - rate_before) * 100 if rate is not None and rate_before is not None else None,
                "this_from_start": now["conversion_from_start"],
                "last_from_start": before["conversion_from_start"],
            }
        )
    open_now = next((n for n in this.notes if "may still convert" in n), None)
    return Section(
        "funnel",
        "",
        data={
            "rows": rows,
            "this_entered": this.result["customers_entered"],
            "last_entered": last.result["customers_entered"],
            "this_overall": this.result["overall_conversion"],
            "last_overall": last.result["overall_conversion"],
            "window": this.definition["window"],
            "still_open_note": open_now,
            "this_biggest_friction": this.result.get("biggest_friction"),
        },
        results=[this, last],
    )


def _friction(run: MemoRun) -> Section:
    # The funnel tool's friction rows over complete cohorts (every cohort had its full window by this week's end).
    weeks = run.cohort_weeks()
    result = run.funnel("cohorts")
    run.cache["friction"] = (result, len(weeks))
    r = result.result
    return Section(
        "friction",
        "",
        data={
            "cohorts": f"{weeks[0].label}..{weeks[-1].label}" if len(weeks) > 1 else weeks[0].label,
            "cohort_weeks": len(weeks),
            "biggest": r.get("biggest_friction"),
            "conversion": r.get("biggest_friction_conversion"),
            "lost": r.get("biggest_friction_lost"),
            "extra_recover_10pct": r.get("biggest_friction_extra_final_if_recover_10pct"),
            "extra_median": r.get("biggest_friction_extra_final_if_median_rate"),
            "most_lost": r.get("most_customers_lost"),
            "most_lost_count": r.get("most_customers_lost_count"),
            "rows": r.get("friction", []),
            "entered": r.get("customers_entered"),
            "converted": r.get("customers_converted"),
        },
        results=[result],
    )


def _anomalies(run: MemoRun) -> Section:
    result = run.invoke("anomalies", {})
    labels = result.definition.get("metric_definitions", {})
    rows = [
        {**r, "label": labels.get(r.get("metric"), r.get("metric")), "kind": _metric_kind(str(r.get("metric")))}
        for r in result.result.get("anomalies", [])
    ]
    start, end = run.week.first_day.isoformat(), run.week.last_day.isoformat()
    this_week = [r for r in rows if start <= str(r.get("date"))[:10] <= end]
    run.cache["anomalies"] = this_week
    return Section(
        "anomalies",
        "",
        data={
            "this_week": this_week,
            "other_weeks": len(rows) - len(this_week),
            "series": _anomaly_series(run, this_week),
        },
        results=[result],
    )


def _metric_kind(metric: str) -> str:
    """How to format a daily metric of ``tools.daily``: rates as percentages, the rest as numbers."""
    return "rate" if metric.startswith("rate_") else "count"


def _anomaly_series(run: MemoRun, rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The daily series of the most anomalous metric of the week (for the timeline chart)."""
    if not rows:
        return None
    try:
        from tools.daily import daily_metrics
    except ImportError:
        return None
    metric = str(rows[0].get("metric"))
    daily = daily_metrics(run.dataset, run.stages)
    if metric not in daily.values:
        return None
    flagged = {str(r.get("date"))[:10] for r in rows if r.get("metric") == metric}
    return {
        "metric": metric,
        "label": daily.labels.get(metric, metric),
        "points": [
            {"day": d.isoformat(), "value": float(v), "flagged": d.isoformat() in flagged}
            for d, v in zip(daily.days, daily.values[metric], strict=True)
        ],
    }


def _attribution(run: MemoRun) -> Section:
    from tools.recommend import credited_not_causal

    attribution = run.invoke("attribution", {"model": "all"})
    run.cache["attribution"] = attribution
    results = [attribution]
    impact: ToolResult | None = None
    impact_reason = None
    try:
        impact = run.invoke("impact", {})
        results.append(impact)
    except JourneyError as exc:
        impact_reason = str(exc)
    run.cache["impact"] = impact
    comparison = attribution.result.get("comparison", [])
    models = list(attribution.result.get("by_model", {}))
    verdicts = {r["channel"]: r for r in (impact.result.get("channels", []) if impact else [])}
    rows = []
    for row in comparison:
        effect = verdicts.get(row["channel"])
        rows.append(
            {
                **row,
                "effect_pp": effect.get("effect_pp") if effect else None,
                "ci_low_pp": effect.get("ci_low_pp") if effect else None,
                "ci_high_pp": effect.get("ci_high_pp") if effect else None,
                "verdict": effect.get("verdict") if effect else None,
            }
        )
    return Section(
        "attribution",
        "",
        data={
            "models": models,
            "rows": rows,
            "impact": impact.result.get("channels", []) if impact else [],
            "impact_reason": impact_reason,
            "credited_not_causal": credited_not_causal(attribution, impact),
            "drivers": [
                r for r in (impact.result.get("channels", []) if impact else []) if r.get("verdict") == "drives"
            ],
            "flips": attribution.result.get("ranking_flips", []),
            "total_conversions": attribution.result.get("total_conversions"),
        },
        results=results,
    )


def _segments(run: MemoRun) -> Section:
    from tools.segments import segments, with_segments

    with tempfile.TemporaryDirectory(prefix="journey-memo-") as tmp:
        assignments = Path(tmp) / "segments.csv"
        result = segments(
            run.dataset,
            seed=run.context.defaults.seed,
            stages=run.stages,
            conversion=run.conversion,
            assignments=assignments,
        )
        # The labels are read into the engine here, so the file may go when the folder does.
        run.cache["labelled"] = with_segments(run.dataset, assignments=assignments)
    names = {str(r["segment"]): f"{r['segment']} · {r['name']}" for r in result.result["segments"]}
    run.cache["segment_names"] = names
    this, last = run.funnel("this"), run.funnel("last")
    final = run.stages[-1]
    entered = {"this": _entered(this), "last": _entered(last)}
    final_rate = {"this": _final_rate(this, final), "last": _final_rate(last, final)}
    total = {key: sum(entered[key].values()) or 1 for key in ("this", "last")}
    movement = []
    for segment_id, name in names.items():
        now, before = entered["this"].get(segment_id, 0), entered["last"].get(segment_id, 0)
        movement.append(
            {
                "segment": name,
                "this_week": now,
                "last_week": before,
                "this_share": now / total["this"],
                "last_share": before / total["last"],
                "share_change_pp": (now / total["this"] - before / total["last"]) * 100,
                "this_conversion": final_rate["this"].get(segment_id),
                "last_conversion": final_rate["last"].get(segment_id),
            }
        )
    return Section(
        "segments",
        "",
        data={"rows": result.result["segments"], "movement": movement, "final_step": final},
        results=[result],
    )


def _entered(result: ToolResult) -> dict[str, int]:
    first = result.definition["steps"][0]
    return {str(r["value"]): int(r["customers"]) for r in result.result.get("breakdown", []) if r["step"] == first}


def _final_rate(result: ToolResult, final: str) -> dict[str, float | None]:
    return {
        str(r["value"]): r["conversion_from_start"] for r in result.result.get("breakdown", []) if r["step"] == final
    }


def _feedback(run: MemoRun) -> Section:
    if run.context.feedback is None:
        raise ToolMissingError("no feedback file or store is configured (pass --feedback FILE or set [feedback] path)")
    summary = run.invoke("feedback_summary", {"by": "stage", "themes": True})
    results = [summary]
    worst = summary.result.get("most_negative_stage")
    complaints: ToolResult | None = None
    if worst:
        try:
            complaints = run.invoke(
                "feedback_summary", {"by": "stage", "stage": worst, "sentiment": "negative", "themes": True}
            )
            results.append(complaints)
        except JourneyError:
            complaints = None  # too few negative texts to cluster: the stage table still says it
    run.cache["feedback"] = summary
    by_stage = summary.result.get("by_stage", [])
    worst_row = next((r for r in by_stage if r.get("stage") == worst), None)
    return Section(
        "feedback",
        "",
        data={
            "count": summary.result.get("count"),
            "negative_share": summary.result.get("negative_share"),
            "by_stage": by_stage,
            "worst_stage": worst,
            "worst_row": worst_row,
            "themes": summary.result.get("themes", [])[:5],
            "complaints": complaints.result.get("themes", [])[:3] if complaints else [],
        },
        results=results,
    )


def _paths(run: MemoRun) -> Section:
    """Top journey paths for the Sankey chart (not a section of its own: the funnel section shows it)."""
    result = run.invoke("paths", {"top": PATHS_TOP, "depth": PATHS_DEPTH})
    flows: dict[tuple[int, str, str], float] = {}
    for row in result.result.get("paths", []):
        path = row.get("path")
        steps = path.split(" > ") if isinstance(path, str) else list(path or [])
        steps = [s for s in steps if s != "…"]  # the paths tool marks journeys that go on
        weight = float(row.get("customers") or 0)
        for i, (a, b) in enumerate(itertools.pairwise(steps)):
            flows[(i, str(a), str(b))] = flows.get((i, str(a), str(b)), 0.0) + weight
    return Section(
        "paths",
        "",
        data={
            "depth": PATHS_DEPTH,
            "flows": [{"column": i, "source": a, "target": b, "value": v} for (i, a, b), v in flows.items()],
        },
        results=[result],
    )


def _quality(run: MemoRun) -> Section:
    summary = run.dataset.summary()
    lines = list(run.dataset.quality.notes())
    return Section(
        "quality",
        "",
        data={
            "source": run.dataset.source,
            "customers": summary["customers"],
            "events": summary["events"],
            "first": summary["first"].isoformat(sep=" ") if summary["first"] else None,
            "last": summary["last"].isoformat(sep=" ") if summary["last"] else None,
            "lines": lines,
        },
    )


SECTIONS: tuple[tuple[str, str, Callable[[MemoRun], Section]], ...] = (
    ("kpis", "Headline KPIs", _kpis),
    # Segments first: their labels let one funnel computation per cohort serve every section.
    ("segments", "Segments", _segments),
    ("funnel", "Funnel: this week's cohort vs last week's", _funnel),
    ("friction", "Biggest friction", _friction),
    ("anomalies", "Anomalies this week", _anomalies),
    ("attribution", "Channels: credit vs causal impact", _attribution),
    ("feedback", "What customers say", _feedback),
    ("paths", "Top journey paths", _paths),
    ("quality", "Data quality", _quality),
)
