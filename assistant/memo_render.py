"""Rendering the memo: Markdown from ``prompts/memo.md.j2``, and one self-contained HTML page with inline SVG charts.

The HTML page is the Markdown rendered by markdown-it (raw HTML disabled, so customer quotes can never inject
markup), with each section's charts inserted under its heading, inline CSS that reflows on a phone, no scripts
and no external resources.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from html import escape
from typing import TYPE_CHECKING, Any

import jinja2

from assistant import memo_charts as charts

if TYPE_CHECKING:
    from assistant.memo import Memo

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|])")


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def pct(value: Any, digits: int = 1) -> str:
    """0.1234 -> ``12.3%``."""
    return "—" if _missing(value) else f"{float(value) * 100:.{digits}f}%"


def pp(value: Any, digits: int = 1) -> str:
    """Percentage points with a sign: 1.23 -> ``+1.2 pp``."""
    return "—" if _missing(value) else f"{float(value):+.{digits}f} pp"


def signed_pct(value: Any, digits: int = 1) -> str:
    """A change already in percent: -12.34 -> ``-12.3%``."""
    return "—" if _missing(value) else f"{float(value):+.{digits}f}%"


def num(value: Any, digits: int = 1) -> str:
    """Counts with thousands separators; small fractional values keep ``digits`` decimals."""
    if _missing(value):
        return "—"
    number = float(value)
    if number.is_integer() or abs(number) >= 100:
        return f"{number:,.0f}"
    return f"{number:,.{digits}f}"


def qvalue(value: Any) -> str:
    """``q=0.003`` (``q<0.001`` below that)."""
    if _missing(value):
        return "—"
    return "q<0.001" if value < 0.001 else f"q={value:.3f}"


def md(value: Any) -> str:
    """Customer text made inert in Markdown: one line, special characters escaped."""
    text = " ".join(str(value).split())
    return _MD_SPECIAL.sub(r"\\\1", text)


def kpi_value(row: dict[str, Any], key: str = "this_week") -> str:
    """A KPI value as a person reads it: rates as %, counts with separators, amounts rounded."""
    value = row.get(key)
    return pct(value) if row.get("kind") == "rate" else num(value)


def kpi_change(row: dict[str, Any], baseline: str = "last_week") -> str:
    """Change of a KPI: percentage points for rates, percent for counts and amounts."""
    if row.get("kind") == "rate":
        return pp(row.get(f"change_vs_{baseline}_pp"))
    return signed_pct(row.get(f"change_vs_{baseline}_pct"))


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The shared prompt environment (strict) with the memo's formatting filters, on a copy of its filters."""
    from assistant.prompts import environment as base

    env = base().overlay()
    # An overlay shares the filter dict with its parent: copy it so the memo's filters stay the memo's.
    env.filters = dict(env.filters)
    env.filters.update(
        pct=pct, pp=pp, signed_pct=signed_pct, num=num, qvalue=qvalue, md=md, kpi_value=kpi_value, kpi_change=kpi_change
    )
    return env


def render_template(name: str, data: dict[str, Any]) -> str:
    """Render ``prompts/<name>`` with the memo data as ``m``."""
    return environment().get_template(name).render(m=data)


def template_module(data: dict[str, Any]) -> Any:
    """``prompts/memo.md.j2`` as a module, to call its macros (e.g. ``summary_bullets``)."""
    return environment().get_template("memo.md.j2").make_module({"m": data})


def to_markdown(memo: Memo) -> str:
    """The memo as Markdown."""
    text = render_template("memo.md.j2", memo.template_data())
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


# ---------------------------------------------------------------------------------------------- charts


def section_charts(memo: Memo) -> dict[str, list[str]]:
    """SVG charts per section key."""
    out: dict[str, list[str]] = {}
    s = memo.sections
    funnel = s.get("funnel")
    if funnel is not None and funnel.available:
        rows = funnel.data["rows"]
        out["funnel"] = [
            charts.paired_bars(
                "Customers per funnel step, this week's cohort vs last week's",
                [r["step"] for r in rows],
                {
                    memo.week.label: [r["this_week"] for r in rows],
                    memo.week.shift(-1).label: [r["last_week"] for r in rows],
                },
                lambda v: f"{v:,.0f}",
            ),
            *_sankeys(memo),
        ]
    anomalies = s.get("anomalies")
    if anomalies is not None and anomalies.available and anomalies.data.get("series"):
        series = anomalies.data["series"]
        points = series["points"]
        out["anomalies"] = [
            charts.timeline(
                f"Daily {series['label']} (red: anomalous days; shaded: {memo.week.label})",
                [p["day"] for p in points],
                [p["value"] for p in points],
                [p["flagged"] for p in points],
                (memo.week.first_day.isoformat(), memo.week.last_day.isoformat()),
            )
        ]
    attribution = s.get("attribution")
    if attribution is not None and attribution.available and attribution.data["rows"]:
        rows = attribution.data["rows"]
        models = attribution.data["models"]
        flagged = {r["channel"] for r in attribution.data["credited_not_causal"]}
        marks = {
            r["channel"]: "credited, not causal" if r["channel"] in flagged else (r["verdict"] or "") for r in rows
        }
        out["attribution"] = [
            charts.grouped_shares(
                "Share of conversion credit by model, with the causal verdict",
                [r["channel"] for r in rows],
                {m: [float(r.get(f"{m}_share") or 0.0) for r in rows] for m in models},
                marks,
            )
        ]
    feedback = s.get("feedback")
    if feedback is not None and feedback.available and feedback.data["by_stage"]:
        rows = feedback.data["by_stage"]
        out["feedback"] = [
            charts.stage_bars(
                "Share of negative feedback by stage (95% interval)",
                [str(r["stage"]) for r in rows],
                [float(r["negative_share"]) for r in rows],
                [r.get("ci_low") for r in rows],
                [r.get("ci_high") for r in rows],
            )
        ]
    return out


def _sankeys(memo: Memo) -> list[str]:
    """This week's funnel flow with its drop-offs, and the most common journeys from the ``paths`` tool if it ran."""
    rows = memo.sections["funnel"].data["rows"]
    flows = []
    for i in range(len(rows) - 1):
        here, there = rows[i], rows[i + 1]
        flows.append(charts.Flow(i, here["step"], there["step"], float(there["this_week"])))
        dropped = float(here["this_week"]) - float(there["this_week"])
        if dropped > 0:
            flows.append(charts.Flow(i, here["step"], "dropped", dropped))
    out = [charts.sankey(f"How {memo.week.label}'s cohort flows through the funnel", flows)]
    paths = memo.sections.get("paths")
    if paths is not None and paths.available and paths.data.get("flows"):
        top = [charts.Flow(**f) for f in paths.data["flows"]]
        out.append(charts.sankey(f"The most common journeys: their first {paths.data['depth']} events", top))
    return out


# ---------------------------------------------------------------------------------------------- HTML

CSS = """
:root{--fg:#1d2733;--muted:#5b6773;--line:#dde3ea;--accent:#2f6fb0;--bg:#fff;--soft:#f5f7fa;--alert:#c0392b}
*{box-sizing:border-box}
body{margin:0;background:var(--soft);color:var(--fg);font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:980px;margin:0 auto;padding:24px 28px 48px;background:var(--bg)}
h1{font-size:1.6rem;line-height:1.25;margin:.2em 0 .4em}
h2{font-size:1.25rem;margin:2em 0 .6em;padding-top:.6em;border-top:2px solid var(--line)}
h3{font-size:1.05rem;margin:1.4em 0 .4em}
p,li{max-width:72ch}
em{color:var(--muted)}
blockquote{margin:.6em 0;padding:.3em 1em;border-left:4px solid var(--line);color:var(--muted);background:var(--soft)}
.table-wrap{overflow-x:auto;-webkit-overflow-scrolling:touch;margin:.6em 0 1em}
table{border-collapse:collapse;font-size:.92rem;min-width:60%}
th,td{border-bottom:1px solid var(--line);padding:.35em .6em;text-align:left;white-space:nowrap;vertical-align:top}
td:first-child{white-space:normal;min-width:9em}
th{background:var(--soft);font-weight:600}
td:not(:first-child){font-variant-numeric:tabular-nums}
.chart{display:block;width:100%;height:auto;max-width:760px;margin:.8em 0 1.2em}
code{background:var(--soft);padding:0 .25em;border-radius:3px}
footer{color:var(--muted);font-size:.85rem;margin-top:3em}
@media (max-width:600px){
 main{padding:14px 12px 32px}
 body{font-size:15px}
 h1{font-size:1.3rem}
 th,td{padding:.3em .4em;font-size:.85rem}
}
@media print{body{background:#fff}main{max-width:none}}
"""


def _markdown_to_html(markdown: str) -> str:
    from markdown_it import MarkdownIt

    renderer = MarkdownIt("commonmark", {"html": False, "typographer": False}).enable("table")
    html = renderer.render(markdown)
    return html.replace("<table>", '<div class="table-wrap"><table>').replace("</table>", "</table></div>")


def to_html(memo: Memo, markdown: str | None = None) -> str:
    """The memo as one self-contained HTML page (inline CSS and SVG; no scripts, no network)."""
    body = _markdown_to_html(markdown if markdown is not None else to_markdown(memo))
    by_title = {escape(title, quote=False): key for key, title in memo.template_data(summary=False)["titles"].items()}
    figures = section_charts(memo)
    parts = re.split(r"(<h2>.*?</h2>)", body)
    out = []
    for part in parts:
        out.append(part)
        match = re.fullmatch(r"<h2>(.*?)</h2>", part)
        if match and by_title.get(match.group(1)) in figures:
            out.append("".join(f"<figure>{svg}</figure>" for svg in figures[by_title[match.group(1)]]))
    title = f"Weekly journey memo {memo.week.label}"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
        + "".join(out)
        + f"<footer>Generated {escape(memo.generated_at)} from {escape(memo.source)}. Every number comes from a "
        "deterministic tool; definitions are listed above.</footer>\n</main>\n</body>\n</html>\n"
    )
