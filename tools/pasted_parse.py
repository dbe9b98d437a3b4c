"""Parser for pasted funnel stats: the shapes marketers paste, turned into stages with typed metrics.

Shapes understood:

* lists (bullets, numbers or none): ``- Awareness: 10,000 visitors/month, 45% bounce rate``;
* ``stage - count (rate)`` lines: ``Signups - 1,200 (12%)``;
* arrow chains: ``Visits 10,000 → Signups 1,200 → Paid 90`` (also ``->``, ``=>``, ``>`` and ``|``);
* tables: Markdown, CSV, TSV, semicolon-separated, or columns aligned with two or more spaces.

Single numbers are read by ``tools.pasted_numbers``. Every non-empty piece of text that is not used lands in
``ParsedFunnel.unparsed`` with the reason: nothing is dropped silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tools.pasted_numbers import (
    AVERAGE,
    CURRENCY_BEFORE,
    NUMBER,
    RATE_HEADER,
    VALUE_WORDS,
    Metric,
    NumberStyle,
    classify_rate,
    clean_words,
    detect_number_style,
    is_value_metric,
    parse_metrics,
    period_of,
)

__all__ = [
    "Metric",
    "ParsedFunnel",
    "Stage",
    "Unparsed",
    "is_value_metric",
    "looks_like_funnel_stats",
    "parse_funnel_text",
]

_ARROWS = re.compile(r"\s*(?:-{1,2}>|=>|→|⟶|➔|➜|➝|⇒|»|›)\s*")
_BARE_ARROW = re.compile(r"\s+>\s+")
_BULLET = re.compile(r"^\s*(?:[-*•·▪‣◦–—+>]|\d{1,2}[.)]|[a-zA-Z][.)])\s+")
_FRAGMENT_SPLIT = re.compile(
    r";|\s\|\s|,(?=\s)|,(?=[^\d\s])|[()\[\]]|\s+(?:and|with|while|but|of which|plus)\s+", re.IGNORECASE
)
_LABEL_NOISE = {
    "avg", "average", "about", "approx", "approximately", "around", "roughly", "over", "under", "only",
    "mean", "median", "~", "≈", "ca", "circa", "est", "estimated",
}  # fmt: skip
_METRIC_LABEL = re.compile(
    r"\b(?:rate|avg|average|mean|median|value|aov|acv|arr|mrr|ltv|clv|cac|cpa|cpc|cycle|churn|cost|revenue|"
    r"price|time|duration|conversion|ctr|cvr|bounce|retention|nps|csat|margin|%)\b",
    re.IGNORECASE,
)
_QUESTION_START = re.compile(
    r"^(?:what|why|how|where|when|which|who|can|could|should|would|is|are|do|does|did|please|tell)\b",
    re.IGNORECASE,
)


@dataclass
class Stage:
    """One funnel stage in the order pasted."""

    name: str
    position: int
    line: int
    text: str
    metrics: list[Metric] = field(default_factory=list)

    @property
    def count(self) -> Metric | None:
        """The stage's main count (its first count), if it has one."""
        return next((m for m in self.metrics if m.role == "stage_count"), None)

    def with_role(self, *roles: str) -> list[Metric]:
        """The stage's metrics having one of these roles, in pasted order."""
        return [m for m in self.metrics if m.role in roles]


@dataclass
class Unparsed:
    """Text that was not used, with the reason."""

    line: int
    text: str
    reason: str


@dataclass
class ParsedFunnel:
    """Everything read from the pasted text."""

    stages: list[Stage]
    funnel_metrics: list[Metric]
    unparsed: list[Unparsed]
    shape: str
    number_style: NumberStyle
    period: str | None
    notes: list[str] = field(default_factory=list)


@dataclass
class _Piece:
    """One parsed line or segment before stages are assembled."""

    line: int
    text: str
    label: str | None
    metrics: list[Metric]
    indent: int = 0
    leftovers: list[str] = field(default_factory=list)
    rejected: str | None = None  # why a line with a number is not a stage (kept out of the funnel)


# ------------------------------------------------------------------------------------------- lines, segments


def _split_label(text: str) -> tuple[str | None, str]:
    """``"Awareness: 10,000 visitors"`` -> ``("Awareness", "10,000 visitors")``; else ``(None, text)``."""
    label, rest, _ = _split_label_how(text)
    return label, rest


def _split_label_how(text: str) -> tuple[str | None, str, str]:
    """``_split_label`` plus how the label was found: ``colon``, ``dash``, ``lead`` (words then a number), ``""``."""
    colon = re.match(r"^(?P<label>[^:]{1,60}?)\s*:\s*(?P<rest>.*)$", text)
    if colon and re.search(r"[A-Za-z]", colon.group("label")) and not NUMBER.fullmatch(colon.group("label")):
        return colon.group("label").strip(), colon.group("rest"), "colon"
    dash = re.match(r"^(?P<label>[^\d$€£¥]{1,60}?)\s+[-–—]\s+(?P<rest>.*\d.*)$", text)
    if dash:
        return dash.group("label").strip(), dash.group("rest"), "dash"
    lead = re.match(r"^(?P<label>[A-Za-z][^\d$€£¥~≈]*?)\s*(?P<rest>[~≈]?\s*[$€£¥(\[]?\s*\d.*)$", text)
    if lead:
        label = lead.group("label").strip(" -–—(")
        noise = label.lower() in _LABEL_NOISE or CURRENCY_BEFORE.search(" " + label)
        if label and not noise and not (AVERAGE.fullmatch(label) or VALUE_WORDS.search(label)):
            return label, lead.group("rest"), "lead"
    return None, text, ""


# Words that may follow a stage's count on a line with no ':' or ' - ' ("Paid 90 customers", "Visits 10k this
# month"): periods, and plural or past-tense words (people, actions). Anything else ("foo bar 77 baz") makes
# the line prose, not a stage.
_UNIT_LIKE = re.compile(
    r"^(?:people|staff|per|total|new|unique|paid|active|this|last|each|every|a|an|in|the|so|far|approx\w*"
    r"|about|roughly|around|day|week|month|quarter|year|daily|weekly|monthly|quarterly|yearly|annually"
    r"|wk|mo|mth|qtr|yr|d|w|q\d|\w{2,}s|\w{2,}ed)$",
    re.IGNORECASE,
)


def _stray_words(rest: str) -> str | None:
    """The words right after the first number of ``rest`` when none of them reads as a unit or period."""
    match = NUMBER.search(rest)
    if match is None:
        return None
    after = re.split(r"[(\[;,|/]", rest[match.end() :], maxsplit=1)[0]
    words = re.findall(r"[A-Za-z][A-Za-z'-]*", after)
    if not words or any(_UNIT_LIKE.match(word) for word in words):
        return None
    return " ".join(words)


def _parse_piece(text: str, line: int, style: NumberStyle, indent: int = 0, line_shape: bool = False) -> _Piece:
    body = _BULLET.sub("", text, count=1).strip()
    label, rest, how = _split_label_how(body)
    if line_shape and how == "lead" and (stray := _stray_words(rest)):
        reason = f"the number is followed by {stray!r}, not a unit or period; not read as a stage"
        return _Piece(line=line, text=text.strip(), label=label, metrics=[], indent=indent, rejected=reason)
    metrics: list[Metric] = []
    leftovers: list[str] = []
    for fragment in _FRAGMENT_SPLIT.split(rest):
        if fragment and fragment.strip():
            found, left = parse_metrics(fragment, style)
            metrics.extend(found)
            leftovers.extend(left)
    return _Piece(line=line, text=text.strip(), label=label, metrics=metrics, indent=indent, leftovers=leftovers)


def _arrow_segments(line: str) -> list[str] | None:
    """The segments of an arrow chain (``a → b → c``), or ``None`` when the line is not one."""
    unified = _ARROWS.sub(" → ", line)
    if "→" not in unified and len(_BARE_ARROW.findall(line)) >= 1:
        unified = _BARE_ARROW.sub(" → ", line)
    if "→" not in unified and unified.count(" | ") >= 1 and "|" not in unified.strip()[:1]:
        unified = unified.replace(" | ", " → ")
    parts = [part.strip() for part in unified.split("→")]
    numbered = [part for part in parts if NUMBER.search(part)]
    if len(parts) < 2 or len(numbered) < 2:
        return None
    return parts


# ------------------------------------------------------------------------------------------------- tables


def _split_row(line: str, delimiter: str) -> list[str]:
    if delimiter == "|":
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
    elif delimiter == "  ":
        cells = [cell.strip() for cell in re.split(r"\s{2,}|\t", line.strip())]
    else:
        cells = [cell.strip().strip('"') for cell in line.split(delimiter)]
    return cells


def _padded(cells: list[str], width: int) -> list[str]:
    """Rows may drop trailing empty cells (aligned text, spreadsheets): pad them to the header's width."""
    return cells + [""] * (width - len(cells)) if len(cells) < width else cells


def _merge_thousands(cells: list[str], width: int) -> list[str] | None:
    """Undo a CSV split inside ``10,000``: join a 3-digit cell onto the number before it until widths fit."""
    cells = list(cells)
    index = 1
    while len(cells) > width and index < len(cells):
        if re.fullmatch(r"\d{3}(?:\.\d+)?%?", cells[index]) and re.search(r"\d$", cells[index - 1]):
            cells[index - 1] = f"{cells[index - 1]},{cells.pop(index)}"
        else:
            index += 1
    return cells if len(cells) == width else None


_PURE_CELL = re.compile(r"^[~≈]?\s*[$€£¥]?\s?[\d.,  ]+\s?(?:[kKmM]|bn)?\s?%?$")


def _find_table(lines: list[str]) -> tuple[int, int, str] | None:
    """The first block that is a table: (first line, end line, delimiter)."""
    for start, header in enumerate(lines):
        if not header.strip() or re.search(r"\d", header):
            continue
        for delimiter in ("|", "\t", ";", ",", "  "):
            head = _split_row(header, delimiter)
            if len(head) < 2 or not all(re.search(r"[A-Za-z%$€£]", cell) for cell in head if cell):
                continue
            end = start + 1
            rows = 0
            while end < len(lines) and lines[end].strip():
                if delimiter == "|" and re.fullmatch(r"\s*\|?[\s:|-]+\|?\s*", lines[end]):
                    end += 1
                    continue
                cells = _split_row(lines[end], delimiter)
                if delimiter == ",":
                    cells = _merge_thousands(cells, len(head)) or cells
                cells = _padded(cells, len(head))
                numeric = [cell for cell in cells[1:] if cell]
                if len(cells) != len(head) or not numeric:
                    break
                if sum(bool(_PURE_CELL.match(cell)) for cell in numeric) * 2 < len(numeric):
                    break
                rows += 1
                end += 1
            if rows >= 2:
                return start, end, delimiter
    return None


def _parse_table(lines: list[str], offset: int, delimiter: str, style: NumberStyle) -> list[_Piece]:
    header = _split_row(lines[0], delimiter)
    pieces: list[_Piece] = []
    for index, line in enumerate(lines[1:], start=1):
        if delimiter == "|" and re.fullmatch(r"\s*\|?[\s:|-]+\|?\s*", line):
            continue
        cells = _split_row(line, delimiter)
        if delimiter == ",":
            cells = _merge_thousands(cells, len(header)) or cells
        cells = _padded(cells, len(header))
        metrics: list[Metric] = []
        leftovers: list[str] = []
        for column, cell in zip(header[1:], cells[1:], strict=False):
            if not cell:
                continue
            found, left = parse_metrics(cell, style, context=column)
            for metric in found:
                _rate_from_header(metric, column, cell)
            metrics.extend(found)
            leftovers.extend(f"{column}: {text}" for text in left)
        pieces.append(
            _Piece(
                line=offset + index + 1,
                text=line.strip(),
                label=cells[0] or None,
                metrics=metrics,
                leftovers=leftovers,
            )
        )
    return pieces


def _rate_from_header(metric: Metric, column: str, cell: str) -> None:
    """A bare ``0.12`` or ``12`` under a 'Conversion rate' column is a rate (<= 1 a fraction, else %)."""
    if metric.kind != "count" or "%" in cell:
        return
    if RATE_HEADER.search(column):
        metric.kind = "rate"
        metric.unit = "%"
        if metric.value > 1:
            metric.value /= 100.0
            metric.notes.append(f"read {cell!r} under {column!r} as {metric.value:.4g} (a percentage)")
        else:
            metric.notes.append(f"read {cell!r} under {column!r} as a fraction")
        metric.tolerance = 0.0


# -------------------------------------------------------------------------------------------- assembling


def normalise(text: str) -> str:
    """Unify line ends and odd spaces so the rules below see one spelling."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return re.sub(r"[\u00a0\u202f\u2009\u2007]", " ", text)


def parse_funnel_text(text: str) -> ParsedFunnel:
    """Parse pasted funnel stats into stages, funnel-level metrics and what could not be read.

    Args:
        text: the stats as pasted (list, arrows, table or ``stage - count (rate)`` lines).

    Returns:
        The stages in pasted order with their metrics, funnel-level metrics (e.g. ``ACV $12k``), the
        detected shape, number style and period, and every unused piece of text with the reason.
    """
    lines = normalise(text).split("\n")
    unparsed: list[Unparsed] = []
    pieces: list[_Piece] = []
    shapes: set[str] = set()
    table = _find_table(lines)
    style = detect_number_style(lines)
    if table:
        start, end, delimiter = table
        shapes.add(
            {"|": "markdown table", "\t": "tsv table", ",": "csv table", ";": "csv table"}.get(
                delimiter, "aligned table"
            )
        )
        table_pieces = _parse_table(lines[start:end], start, delimiter, style)
    else:
        start = end = len(lines)
        table_pieces = []
    for number, line in enumerate(lines, start=1):
        if start < number <= end:
            if number == start + 1:
                pieces.extend(table_pieces)
            continue
        if not line.strip():
            continue
        segments = _arrow_segments(line)
        if segments:
            shapes.add("arrows")
            pieces.extend(_chain_pieces(segments, number, style, unparsed))
        else:
            indent = len(line) - len(line.lstrip())
            piece = _parse_piece(line, number, style, indent, line_shape=True)
            if piece.metrics:
                shapes.add("list")
            pieces.append(piece)
    doc_period = None
    for piece in pieces:
        if not piece.metrics and period_of(piece.text):
            doc_period = doc_period or period_of(piece.text)
    stages, funnel_metrics = _assemble(pieces, unparsed)
    notes = []
    if doc_period:
        for stage in stages:
            for metric in stage.metrics:
                if metric.kind == "count" and metric.period is None:
                    metric.period = doc_period
        notes.append(f"the heading gives the period: counts are per {doc_period}")
    return ParsedFunnel(
        stages=stages,
        funnel_metrics=funnel_metrics,
        unparsed=sorted(unparsed, key=lambda u: u.line),
        shape=" + ".join(sorted(shapes)) or "none",
        number_style=style,
        period=doc_period,
        notes=notes,
    )


def _chain_pieces(segments: list[str], line: int, style: NumberStyle, unparsed: list[Unparsed]) -> list[_Piece]:
    pieces: list[_Piece] = []
    pending: list[Metric] = []
    for index, segment in enumerate(segments):
        piece = _parse_piece(segment, line, style)
        if index == 0 and piece.label and piece.metrics:
            # "Funnel: Visits 10,000 → ..." — the words before the colon are a heading, not the stage
            inner_label, _ = _split_label(_BULLET.sub("", segment).split(":", 1)[-1].strip())
            if ":" in segment and inner_label:
                unparsed.append(Unparsed(line, piece.label, "heading before the arrow chain"))
                piece.label = inner_label
        if piece.metrics and all(m.kind == "rate" for m in piece.metrics) and not piece.label:
            # "A 10,000 → (12%) → B 1,200": a rate between arrows describes the arrow, so B carries it
            pending.extend(piece.metrics)
            continue
        piece.metrics = pending + piece.metrics
        for metric in pending:
            metric.measures = metric.measures or "conversion from previous stage"
        pending = []
        pieces.append(piece)
    for metric in pending:
        unparsed.append(Unparsed(line, metric.text, "rate after the last stage of the arrow chain"))
    return pieces


def _assemble(pieces: list[_Piece], unparsed: list[Unparsed]) -> tuple[list[Stage], list[Metric]]:
    stages: list[Stage] = []
    funnel_metrics: list[Metric] = []
    pending_label: _Piece | None = None
    for piece in pieces:
        if piece.rejected:
            unparsed.append(Unparsed(piece.line, piece.text, piece.rejected))
            continue
        if piece.metrics:
            for leftover in piece.leftovers:
                unparsed.append(Unparsed(piece.line, leftover, "no number in this part; kept only as a comment"))
        else:
            if pending_label is not None:
                unparsed.append(Unparsed(pending_label.line, pending_label.text, "heading or text without numbers"))
            pending_label = piece
            continue
        has_count = any(m.kind == "count" for m in piece.metrics)
        label = piece.label
        text = piece.text
        if label is None and pending_label is not None and has_count:
            # a line with only words ("Awareness") names the stage whose numbers follow it
            label = clean_words(_BULLET.sub("", pending_label.text)) or None
            if label is None:
                unparsed.append(Unparsed(pending_label.line, pending_label.text, "no words to name a stage"))
            else:
                text = f"{pending_label.text.strip()} | {text}"
            pending_label = None
        current = stages[-1] if stages else None
        continuation = (
            current is not None
            and label is None
            and (not has_count or (piece.indent > 0 and piece.indent > _indent_of(current, pieces)))
        )
        metric_line = label is not None and not has_count and bool(_METRIC_LABEL.search(label))
        if metric_line or continuation:
            for metric in piece.metrics:
                if label and (not metric.measures or metric.kind != "count"):
                    metric.measures = clean_words(
                        f"{label} {metric.measures}"
                        if metric.kind != "rate"
                        else (metric.measures if metric.measures else label)
                    )
            is_value = all(m.kind == "money" for m in piece.metrics)
            if current is None or is_value:
                funnel_metrics.extend(piece.metrics)
            else:
                current.metrics.extend(piece.metrics)
                current.text += " | " + piece.text
            if pending_label is not None:
                unparsed.append(Unparsed(pending_label.line, pending_label.text, "heading or text without numbers"))
                pending_label = None
            continue
        if pending_label is not None:
            unparsed.append(Unparsed(pending_label.line, pending_label.text, "heading or text without numbers"))
            pending_label = None
        stages.append(
            Stage(
                name=label or "",
                position=len(stages),
                line=piece.line,
                text=text,
                metrics=list(piece.metrics),
            )
        )
    if pending_label is not None:
        unparsed.append(Unparsed(pending_label.line, pending_label.text, "heading or text without numbers"))
    _name_and_type(stages)
    return stages, funnel_metrics


def _indent_of(stage: Stage, pieces: list[_Piece]) -> int:
    return next((p.indent for p in pieces if p.line == stage.line), 0)


def _name_and_type(stages: list[Stage]) -> None:
    """Give every stage a unique name and every metric its role."""
    seen: dict[str, int] = {}
    for stage in stages:
        first_count = next((m for m in stage.metrics if m.kind == "count"), None)
        if not stage.name:
            stage.name = (first_count.measures if first_count and first_count.measures else "") or (
                f"Stage {stage.position + 1}"
            )
            stage.name = stage.name[:1].upper() + stage.name[1:]
        key = stage.name.lower()
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            stage.name = f"{stage.name} ({seen[key]})"
        for metric in stage.metrics:
            if metric is first_count:
                metric.role = "stage_count"
                if not metric.measures:
                    metric.measures = stage.name.lower()
                    metric.unit = metric.unit or None
            elif metric.kind == "count":
                metric.role = "count"
            elif metric.kind == "rate":
                metric.role = classify_rate(metric.measures)
            elif metric.kind == "money":
                metric.role = "value"
            else:
                metric.role = metric.kind


def looks_like_funnel_stats(text: str) -> bool:
    """Whether pasted text looks like funnel stats (for the chat REPL to route it to the pasted-funnel tool).

    True for at least three lines or segments that each carry a stage-like label and a number, or for an
    arrow chain of labelled counts. A question with numbers in it is not stats.
    """
    if not text or len(text) > 20_000:
        return False
    parsed = parse_funnel_text(text)
    labelled = [
        s
        for s in parsed.stages
        if s.count is not None and not _QUESTION_START.match(s.name) and len(s.name.split()) <= 6
    ]
    if "arrows" in parsed.shape and len(labelled) >= 2 and len(parsed.stages) == len(labelled):
        return True
    return len(labelled) >= 3
