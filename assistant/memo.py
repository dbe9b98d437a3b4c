"""The weekly insight memo: what changed, whether it is real, and what to do.

``build_memo`` runs the existing tools for one ISO week (``assistant.memo_sections``), turns their results into
prioritised recommendations (``tools.recommend``), follows up last week's recommendations from the ledger
(``assistant.reco_ledger``) and writes an executive summary: by the LLM when one is configured (fed only the
computed sections, its numbers checked by ``assistant.verify``), else deterministically from the template.
``write_memo`` renders Markdown and a self-contained HTML page (``assistant.memo_render``). No numbers are
computed here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.memo_sections import SECTIONS, MemoRun, Section, build_section
from assistant.reco_ledger import RecommendationLedger, follow_up
from tools.context import ToolContext
from tools.errors import ArgumentError, JourneyError
from tools.result import ToolResult
from tools.weeks import IsoWeek

if TYPE_CHECKING:
    from assistant.config import Settings

# (system prompt, user prompt) -> the model's text. Tests inject a fake; see ``llm_writer`` for the real one.
SummaryWriter = Callable[[str, str], str]
SUMMARY_SYSTEM = (
    "You write the executive summary of a weekly marketing memo. Use only the facts given; never compute, "
    "estimate or invent a number; copy numbers exactly as written."
)
# Where each section goes in the document; "recommendations" and "follow_up" are not tool sections.
ORDER = (
    "kpis",
    "recommendations",
    "follow_up",
    "funnel",
    "friction",
    "anomalies",
    "attribution",
    "segments",
    "feedback",
    "quality",
    "definitions",
)
TITLES = {"recommendations": "What to do", "follow_up": "Last week's recommendations", "definitions": "Definitions"}


@dataclass
class Summary:
    """The executive summary and how it was written.

    Attributes:
        text: Markdown bullets.
        source: ``template`` (deterministic) or ``llm``.
        model: the model that wrote it (LLM only).
        verified: numbers traced to a tool result.
        unverified: numbers that could not be traced (marked ⚠ in ``text``).
        note: why the template was used although an LLM was configured, if so.
    """

    text: str
    source: str = "template"
    model: str | None = None
    verified: list[str] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)
    note: str | None = None


@dataclass
class Memo:
    """A computed memo, ready to render."""

    week: IsoWeek
    generated_at: str
    source: str
    stages: list[str]
    conversion: str
    sections: dict[str, Section]
    recommendations: ToolResult | None
    follow_up_week: str | None
    follow_up: list[dict[str, Any]]
    summary: Summary
    timings: list[tuple[str, float]] = field(default_factory=list)

    def results(self) -> list[ToolResult]:
        """Every tool result behind the memo (what the number verifier checks against)."""
        out = [r for s in self.sections.values() for r in s.results]
        if self.recommendations is not None:
            out.append(self.recommendations)
        return out

    def template_data(self, summary: bool = True) -> dict[str, Any]:
        """The dict the templates render (``m`` in ``prompts/memo.md.j2``)."""
        data = {
            "week": self.week.label,
            "week_start": self.week.first_day.isoformat(),
            "week_end": self.week.last_day.isoformat(),
            "last_week": self.week.shift(-1).label,
            "generated_at": self.generated_at,
            "source": self.source,
            "stages": self.stages,
            "conversion": self.conversion,
            "order": [k for k in ORDER if k in self.sections or k in TITLES],
            "titles": {**{k: s.title for k, s in self.sections.items()}, **TITLES},
            "sections": {
                k: {"title": s.title, "available": s.available, "reason": s.reason, **s.data}
                for k, s in self.sections.items()
            },
            "recommendations": self.recommendations.result["recommendations"] if self.recommendations else [],
            "recommendations_notes": self.recommendations.notes if self.recommendations else [],
            "follow_up": {"week": self.follow_up_week, "rows": self.follow_up},
            "definitions": definitions(self),
            "summary": None,
        }
        if summary:
            data["summary"] = {
                "text": self.summary.text,
                "source": self.summary.source,
                "model": self.summary.model,
                "verified": len(self.summary.verified),
                "unverified": self.summary.unverified,
                "note": self.summary.note,
            }
        return data


def definitions(memo: Memo) -> list[dict[str, str]]:
    """The definitions used, read from the results' ``definition`` fields (what the reader needs to trust them)."""
    wanted = (
        ("weekly_kpis", "weeks", "Weeks"),
        ("weekly_kpis", "new_customers", "New customers"),
        ("weekly_kpis", "reached", "Customers reaching a stage"),
        ("weekly_kpis", "rates", "Stage conversion (KPIs)"),
        ("weekly_kpis", "trailing_avg", "Trailing average"),
        ("weekly_kpis", "multiple_comparisons", "Significance"),
        ("funnel", "order_rule", "Funnel"),
        ("funnel", "date_filter", "Funnel cohorts"),
        ("funnel", "friction_rule", "Friction"),
        ("anomalies", "method", "Anomalies"),
        ("attribution", "causal", "Attribution"),
        ("impact", "estimand", "Causal impact"),
        ("impact", "verdict", "Impact verdict"),
        ("segments", "algorithm", "Segments"),
        ("feedback_summary", "sentiment", "Sentiment"),
        ("feedback_summary", "redaction", "Quotes"),
    )
    by_tool: dict[str, ToolResult] = {}
    for found in memo.results():
        by_tool.setdefault(found.tool, found)
    out = []
    for tool, key, label in wanted:
        result = by_tool.get(tool)
        if result is None or key not in result.definition:
            continue
        value = result.definition[key]
        if tool == "weekly_kpis" and key == "multiple_comparisons":
            tests = result.definition.get("tests", {})
            value = f"{'; '.join(f'{k}: {v}' for k, v in tests.items())}; {value}"
        if tool == "funnel" and key == "order_rule":
            value = f"{', '.join(result.definition['steps'])} within {result.definition['window']}: {value}"
        if tool == "attribution":
            value = next((n for n in result.notes if "credit, not causation" in n), "credit, not causation")
        out.append({"name": label, "text": str(value)})
    if memo.recommendations is not None:
        out.append(
            {
                "name": "Recommendations",
                "text": "assumed improvement = the most conservative of a configured benchmark, the best segment and "
                "the best recent week; experiments sized for a two-sided test at alpha 0.05 and power 0.8",
            }
        )
    return out


def _benchmarks(settings: Settings | None) -> dict[str, float]:
    memo_settings = getattr(settings, "memo", None)
    raw = getattr(memo_settings, "benchmarks", None) or {}
    return {str(k): float(v) for k, v in dict(raw).items()}


def _recommendations(run: MemoRun, sections: dict[str, Section]) -> ToolResult | None:
    from tools.recommend import recommend

    friction = run.cache.get("friction")
    if friction is None:
        return None
    summary = run.dataset.summary()
    days = max((summary["last"] - summary["first"]).total_seconds() / 86_400, 1.0)
    return recommend(
        friction[0],
        friction[1],
        kpis=run.cache.get("kpis"),
        segment_funnel=run.funnel("cohorts") if "labelled" in run.cache else None,
        segment_names=run.cache.get("segment_names"),
        attribution=run.cache.get("attribution"),
        impact=run.cache.get("impact"),
        anomalies=run.cache.get("anomalies", []),
        feedback=run.cache.get("feedback"),
        benchmarks=run.benchmarks,
        weeks_of_data=days / 7,
    )


def template_summary(memo: Memo) -> str:
    """The deterministic executive summary (the ``summary_bullets`` macro of ``prompts/memo.md.j2``)."""
    from assistant.memo_render import template_module

    data = memo.template_data(summary=False)
    return str(template_module(data).summary_bullets(data)).strip()


def llm_summary(memo: Memo, writer: SummaryWriter, model: str = "llm") -> Summary:
    """The executive summary written by ``writer`` from the computed sections, numbers checked.

    Raises:
        ProviderError: the model could not be reached (the caller falls back to the template).
    """
    from assistant.memo_render import render_template
    from assistant.verify import verify_answer

    data = memo.template_data(summary=False)
    prompt = render_template("memo_summary_llm.md.j2", data)
    text = writer(SUMMARY_SYSTEM, prompt).strip()
    check = verify_answer(text, memo.results())
    return Summary(check.marked, "llm", model, check.verified, check.unverified)


def llm_writer(settings: Settings) -> tuple[SummaryWriter | None, str | None]:
    """A writer for the configured LLM (every request recorded in the egress ledger), or ``(None, None)`` offline."""
    from assistant.providers import resolve_provider

    info = resolve_provider(settings.llm)
    if info.is_offline:
        return None, None

    def write(system: str, prompt: str) -> str:
        from langchain_core.messages import HumanMessage, SystemMessage

        from assistant.ledger import EgressLedger, LedgerCallback
        from assistant.providers import make_chat_model, provider_exceptions, translate_error

        callback = LedgerCallback(EgressLedger(settings.privacy.ledger), info.name, info.endpoint, info.model, [])
        model = make_chat_model(settings.llm, info, callbacks=[callback])
        try:
            reply = model.invoke([SystemMessage(system), HumanMessage(prompt)])
        except provider_exceptions() as exc:
            raise translate_error(exc, info, settings.llm) from exc
        return str(reply.content)

    return write, info.label()


def build_memo(
    context: ToolContext,
    settings: Settings | None = None,
    week: str | IsoWeek | None = None,
    writer: SummaryWriter | None = None,
    writer_name: str = "injected",
    ledger: RecommendationLedger | None = None,
    only: Collection[str] | None = None,
) -> Memo:
    """Compute the memo for one ISO week.

    Args:
        context: the tool context (event data, feedback source, defaults).
        settings: the application settings (LLM, ``[memo]``); ``None`` uses defaults and no LLM.
        week: ``2024-W07``; default: the last complete ISO week in the data.
        writer: a summary writer (tests inject a fake); default: the configured LLM, if any.
        writer_name: how to label an injected writer.
        ledger: the recommendation ledger (default: ``[memo] recommendation_ledger``); recommendations are
            recorded and last week's are followed up.
        only: compute only these sections (keys of ``SECTIONS``); the others are marked as skipped.
    """
    from tools.kpis import resolve_week
    from tools.registry import all_tools

    started = time.perf_counter()
    dataset = context.dataset()
    # A memo without its headline numbers is no memo: wrong stages or conversion fail here, in one line.
    dataset.require_events(list(context.defaults.stages), "stage")
    dataset.require_events([context.defaults.conversion], "conversion event")
    target = resolve_week(dataset, week)
    run = MemoRun(context, target, set(all_tools()), _benchmarks(settings))
    sections: dict[str, Section] = {}
    timings: list[tuple[str, float]] = []
    for key, title, builder in SECTIONS:
        if only is not None and key not in only:
            sections[key] = Section(key, title, available=False, reason="skipped for this memo")
            continue
        section = build_section(key, title, builder, run)
        sections[key] = section
        timings.append((key, section.seconds))
    step = time.perf_counter()
    recommendations = _recommendations(run, sections)
    timings.append(("recommendations", time.perf_counter() - step))
    if ledger is None and settings is not None:
        ledger = RecommendationLedger(settings.memo.recommendation_ledger)
    follow_week, follow_rows = None, []
    kpi_rows = sections["kpis"].data.get("rows", []) if sections["kpis"].available else []
    if ledger is not None:
        follow_week, entries = ledger.previous(target)
        follow_rows = follow_up(entries, kpi_rows)
        if recommendations is not None and kpi_rows:
            ledger.record(target, recommendations.result["recommendations"], kpi_rows)
    memo = Memo(
        week=target,
        generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        source=dataset.source,
        stages=list(run.stages),
        conversion=run.conversion,
        sections=sections,
        recommendations=recommendations,
        follow_up_week=follow_week,
        follow_up=follow_rows,
        summary=Summary(""),
    )
    step = time.perf_counter()
    memo.summary = _summary(memo, settings, writer, writer_name)
    timings.append(("summary", time.perf_counter() - step))
    timings.append(("total", time.perf_counter() - started))
    memo.timings = timings
    return memo


def _summary(memo: Memo, settings: Settings | None, writer: SummaryWriter | None, writer_name: str) -> Summary:
    deterministic = template_summary(memo)
    name = writer_name
    if writer is None and settings is not None:
        writer, label = llm_writer(settings)
        name = label or name
    if writer is None:
        return Summary(deterministic)
    try:
        return llm_summary(memo, writer, name)
    except JourneyError as exc:
        # The memo still goes out on Monday: the deterministic summary stands in, and says why.
        return Summary(deterministic, note=f"the LLM summary failed ({exc}); the deterministic summary is shown")


def memo_paths(week: IsoWeek, out: str | Path | None, out_dir: str | Path) -> list[Path]:
    """Where to write: ``out`` (``.md`` or ``.html``), else ``<out_dir>/<week>.md`` and ``.html``.

    Raises:
        ArgumentError: ``out`` has another extension.
    """
    if out is not None:
        path = Path(out)
        if path.suffix.lower() not in (".md", ".html", ".htm"):
            raise ArgumentError(f"--out {str(path)!r} must end in .md or .html (or omit it to write both)")
        return [path]
    folder = Path(out_dir)
    return [folder / f"{week.label}.md", folder / f"{week.label}.html"]


def write_memo(memo: Memo, paths: list[Path]) -> list[Path]:
    """Render and write the memo to each path (Markdown or HTML by extension)."""
    from assistant.memo_render import to_html, to_markdown

    markdown = to_markdown(memo)
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        text = markdown if path.suffix.lower() == ".md" else to_html(memo, markdown)
        path.write_text(text, encoding="utf-8")
    return paths


def written_weeks(out_dir: str | Path) -> list[IsoWeek]:
    """Weeks with a memo file (``<week>.md`` or ``.html``) in ``out_dir``, oldest first."""
    folder = Path(out_dir)
    found = set()
    if folder.is_dir():
        for path in folder.iterdir():
            if path.suffix.lower() in (".md", ".html"):
                try:
                    found.add(IsoWeek.parse(path.stem))
                except ArgumentError:
                    continue
    return sorted(found)


def weeks_since_last(context: ToolContext, out_dir: str | Path) -> list[IsoWeek]:
    """Weeks to write for ``--since-last``: every complete week after the newest memo in ``out_dir``.

    With no memo there yet, only the last complete week (a schedule starts now; it does not backfill history).
    """
    from tools.kpis import resolve_week

    last = resolve_week(context.dataset(), None)
    done = written_weeks(out_dir)
    if not done:
        return [last]
    weeks = []
    week = done[-1].shift(1)
    while week <= last:
        weeks.append(week)
        week = week.shift(1)
    return weeks


def write_demo_memo(context: ToolContext, settings: Settings, out_dir: str | Path) -> Path:
    """Write the memo of the demo data's last complete week (Markdown and HTML); returns the HTML path.

    ``journey demo`` calls this last. The context's feedback source is set from ``settings`` when missing.
    """
    if context.feedback is None:
        from assistant.session import feedback_source

        context.feedback = feedback_source(settings)
    memo = build_memo(context, settings)
    paths = write_memo(memo, memo_paths(memo.week, None, out_dir))
    return paths[-1]
