"""Inline SVG charts for the HTML memo: no JavaScript, no network, readable on a phone (they scale by viewBox).

Each function takes already computed values and returns one ``<svg>`` element as text; every label is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 640
PALETTE = ("#2f6fb0", "#e07b39", "#3a9a5b", "#8e5cb5", "#c44e52", "#7f7f7f", "#b8a43a", "#4bb3c4")
MUTED = "#9aa5b1"
ALERT = "#c0392b"
FONT = 'font-family="system-ui,-apple-system,Segoe UI,Roboto,sans-serif"'


def _svg(height: float, body: list[str], title: str) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height:.0f}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg" {FONT} font-size="12">'
        f"<title>{escape(title)}</title>" + "".join(body) + "</svg>"
    )


def _text(x: float, y: float, text: str, anchor: str = "start", extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" {extra}>{escape(text)}</text>'


def _legend(names: Sequence[str], y: float, colors: Sequence[str]) -> list[str]:
    out, x = [], 8.0
    for name, color in zip(names, colors, strict=False):
        out.append(f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="10" height="10" fill="{color}"/>')
        out.append(_text(x + 14, y, name))
        x += 14 + 7.2 * len(name) + 18
    return out


def paired_bars(
    title: str,
    labels: Sequence[str],
    series: dict[str, Sequence[float | None]],
    fmt: Callable[[float], str],
) -> str:
    """Horizontal bars, one group per label and one bar per series (e.g. this week vs last week)."""
    names = list(series)
    colors = [PALETTE[0], MUTED, *PALETTE[1:]][: len(names)]
    values = [v for vs in series.values() for v in vs if v is not None]
    top = max(values) if values else 1.0
    top = top or 1.0
    label_w, bar_h, gap = 130.0, 14.0, 10.0
    group_h = bar_h * len(names) + gap
    plot_w = WIDTH - label_w - 70
    body = _legend(names, 16, colors)
    y0 = 28.0
    for i, label in enumerate(labels):
        y = y0 + i * group_h
        body.append(_text(label_w - 8, y + group_h / 2 - 2, label, "end"))
        for j, name in enumerate(names):
            value = series[name][i]
            if value is None:
                continue
            w = max(plot_w * value / top, 0.5)
            by = y + j * bar_h
            body.append(
                f'<rect x="{label_w:.1f}" y="{by:.1f}" width="{w:.1f}" height="{bar_h - 2:.1f}" fill="{colors[j]}"/>'
            )
            body.append(_text(label_w + w + 4, by + bar_h - 4, fmt(value), extra='font-size="11"'))
    return _svg(y0 + len(labels) * group_h + 6, body, title)


def grouped_shares(
    title: str, categories: Sequence[str], series: dict[str, Sequence[float]], marks: dict[str, str]
) -> str:
    """Attribution shares: one group per channel, one thin bar per model, and a verdict mark per channel."""
    names = list(series)
    colors = [PALETTE[i % len(PALETTE)] for i in range(len(names))]
    top = max([v for vs in series.values() for v in vs] + [0.01])
    label_w, bar_h, gap = 120.0, 7.0, 12.0
    group_h = bar_h * len(names) + gap
    plot_w = WIDTH - label_w - 150
    legend_rows = math.ceil(len(names) / 4)
    body: list[str] = []
    for r in range(legend_rows):
        body += _legend(names[r * 4 : (r + 1) * 4], 16 + r * 16, colors[r * 4 : (r + 1) * 4])
    y0 = 16 + legend_rows * 16
    for i, channel in enumerate(categories):
        y = y0 + i * group_h
        body.append(_text(label_w - 8, y + group_h / 2, channel, "end"))
        for j, name in enumerate(names):
            w = max(plot_w * series[name][i] / top, 0.5)
            body.append(
                f'<rect x="{label_w:.1f}" y="{y + j * bar_h:.1f}" width="{w:.1f}" height="{bar_h - 1:.1f}" '
                f'fill="{colors[j]}"><title>{escape(f"{channel} {name}: {series[name][i]:.1%}")}</title></rect>'
            )
        mark = marks.get(channel)
        if mark:
            color = ALERT if "not causal" in mark else "#333"
            body.append(_text(label_w + plot_w + 10, y + group_h / 2, mark, extra=f'fill="{color}" font-weight="600"'))
    return _svg(y0 + len(categories) * group_h + 4, body, title)


def stage_bars(
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    lows: Sequence[float | None],
    highs: Sequence[float | None],
) -> str:
    """Vertical bars of a share per stage with 95% interval whiskers; the highest bar is highlighted."""
    n = max(len(labels), 1)
    left, bottom, top_pad, height = 40.0, 40.0, 14.0, 220.0
    plot_h = height - bottom - top_pad
    slot = (WIDTH - left - 10) / n
    top = max([h for h in highs if h is not None] + list(values) + [0.01])
    worst = max(range(len(values)), key=lambda i: values[i]) if values else -1
    body = []
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        if tick > top * 1.05:
            break
        y = top_pad + plot_h * (1 - tick / top)
        body.append(f'<line x1="{left}" x2="{WIDTH - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e7ec"/>')
        body.append(_text(left - 4, y + 4, f"{tick:.0%}", "end", 'font-size="10"'))
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        x = left + i * slot + slot * 0.2
        w = slot * 0.6
        h = plot_h * value / top
        color = ALERT if i == worst else PALETTE[0]
        body.append(
            f'<rect x="{x:.1f}" y="{top_pad + plot_h - h:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{color}"/>'
        )
        low, high = lows[i], highs[i]
        if low is not None and high is not None:
            cx = x + w / 2
            y1, y2 = top_pad + plot_h * (1 - low / top), top_pad + plot_h * (1 - high / top)
            body.append(f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{y1:.1f}" y2="{y2:.1f}" stroke="#333"/>')
        body.append(_text(x + w / 2, top_pad + plot_h - h - 4, f"{value:.0%}", "middle", 'font-size="11"'))
        body.append(_text(x + w / 2, height - bottom + 16, label, "middle", 'font-size="11"'))
    return _svg(height, body, title)


def timeline(
    title: str, days: Sequence[str], values: Sequence[float], flagged: Sequence[bool], highlight: tuple[str, str] | None
) -> str:
    """A daily line with anomalous days marked in red; ``highlight`` shades a date range (the memo's week)."""
    left, right, top_pad, bottom, height = 44.0, 12.0, 12.0, 34.0, 200.0
    plot_w, plot_h = WIDTH - left - right, height - top_pad - bottom
    n = len(values)
    if n == 0:
        return _svg(40, [_text(8, 24, "no data")], title)
    finite = [v for v in values if math.isfinite(v)]
    hi, lo = max([*finite, 1e-9]), min([*finite, 0.0])
    lo = min(lo, 0.0)
    span = (hi - lo) or 1.0

    def xy(i: int, v: float) -> tuple[float, float]:
        x = left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)
        return x, top_pad + plot_h * (1 - (v - lo) / span)

    body = []
    if highlight is not None and highlight[0] in days:
        i0 = days.index(highlight[0])
        i1 = days.index(highlight[1]) if highlight[1] in days else n - 1
        x0, x1 = xy(i0, lo)[0], xy(i1, lo)[0]
        body.append(
            f'<rect x="{x0 - 3:.1f}" y="{top_pad}" width="{x1 - x0 + 6:.1f}" height="{plot_h}" fill="#eef3f9"/>'
        )
    for frac in (0.0, 0.5, 1.0):
        v = lo + span * frac
        y = xy(0, v)[1]
        body.append(f'<line x1="{left}" x2="{WIDTH - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e7ec"/>')
        body.append(_text(left - 4, y + 4, _short(v), "end", 'font-size="10"'))
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(i, v) for i, v in enumerate(values) if math.isfinite(v)))
    body.append(f'<polyline points="{points}" fill="none" stroke="{PALETTE[0]}" stroke-width="1.6"/>')
    for i, (day, v, flag) in enumerate(zip(days, values, flagged, strict=True)):
        if flag and math.isfinite(v):
            x, y = xy(i, v)
            body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{ALERT}"><title>{escape(day)}</title></circle>')
            body.append(_text(x, y - 9, day, "middle", f'font-size="11" fill="{ALERT}"'))
    step = max(1, n // 6)
    for i in range(0, n, step):
        body.append(_text(xy(i, lo)[0], height - bottom + 16, days[i][5:], "middle", 'font-size="10"'))
    return _svg(height, body, title)


def _short(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value / 1000:.1f}k"
    return f"{value:.2g}" if abs(value) < 1 else f"{value:.0f}"


@dataclass(frozen=True)
class Flow:
    """One Sankey link: from a node in column ``column`` to a node in column ``column + 1``."""

    column: int
    source: str
    target: str
    value: float


def sankey(title: str, flows: Sequence[Flow], drop_label: str = "dropped") -> str:
    """A left-to-right Sankey: columns of nodes sized by flow, links as bands; drop-off nodes in grey."""
    if not flows:
        return _svg(40, [_text(8, 24, "no paths")], title)
    columns = max(f.column for f in flows) + 2
    nodes: dict[tuple[int, str], float] = {}
    for f in flows:
        nodes[(f.column, f.source)] = nodes.get((f.column, f.source), 0.0)
        nodes[(f.column + 1, f.target)] = nodes.get((f.column + 1, f.target), 0.0) + f.value
    for f in flows:
        out = sum(g.value for g in flows if g.column == f.column and g.source == f.source)
        nodes[(f.column, f.source)] = max(nodes[(f.column, f.source)], out)
    height, pad, node_w = 300.0, 10.0, 10.0
    col_x = [8 + (WIDTH - 120) * c / max(columns - 1, 1) for c in range(columns)]
    totals = [sum(v for (c, _), v in nodes.items() if c == col) for col in range(columns)]
    scale = min((height - 30 - pad * 4) / t for t in totals if t > 0)
    positions: dict[tuple[int, str], list[float]] = {}
    body = []
    bottom = 0.0
    for col in range(columns):
        y = 20.0
        members = sorted(
            [(name, v) for (c, name), v in nodes.items() if c == col],
            key=lambda item: (item[0] == drop_label, -item[1]),
        )
        for name, v in members:
            h = max(v * scale, 1.0)
            positions[(col, name)] = [y, y, y]  # top, next outgoing y, next incoming y
            color = MUTED if name == drop_label else PALETTE[0]
            body.append(
                f'<rect x="{col_x[col]:.1f}" y="{y:.1f}" width="{node_w}" height="{h:.1f}" fill="{color}">'
                f"<title>{escape(f'{name}: {v:,.0f}')}</title></rect>"
            )
            label_y = y + min(h / 2, 12)
            body.append(_text(col_x[col] + node_w + 3, label_y, name, extra='font-size="10"'))
            body.append(
                _text(col_x[col] + node_w + 3, label_y + 11, f"{v:,.0f}", extra='font-size="10" fill="#5b6773"')
            )
            bottom = max(bottom, y + max(h, 22.0))
            y += max(h + pad, 26.0)  # room for the two-line label of a thin node
    # Bands leave each node top-down in the order of their targets, so they do not cross needlessly.
    for f in sorted(
        flows, key=lambda f: (f.column, positions[(f.column, f.source)][0], positions[(f.column + 1, f.target)][0])
    ):
        src, dst = positions[(f.column, f.source)], positions[(f.column + 1, f.target)]
        h = max(f.value * scale, 0.5)
        x0, x1 = col_x[f.column] + node_w, col_x[f.column + 1]
        y0, y1 = src[1], dst[2]
        mid = (x0 + x1) / 2
        color = MUTED if f.target == drop_label else PALETTE[0]
        body.append(
            f'<path d="M{x0:.1f},{y0 + h / 2:.1f} C{mid:.1f},{y0 + h / 2:.1f} {mid:.1f},{y1 + h / 2:.1f} '
            f'{x1:.1f},{y1 + h / 2:.1f}" stroke="{color}" stroke-opacity="0.35" stroke-width="{h:.1f}" fill="none">'
            f"<title>{escape(f'{f.source} → {f.target}: {f.value:,.0f}')}</title></path>"
        )
        src[1] += h
        dst[2] += h
    return _svg(max(height, bottom + 10), body, title)
