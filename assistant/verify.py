"""Number provenance: every number in an answer must come from (or follow simply from) a tool result.

After each turn, the numbers written in the answer are matched against the numbers in that turn's tool
results. A number counts as verified when some tool number, or a simple derived value, rounds to it:

* rounding to the precision shown ("12.3" matches 12.34; "about 1,200" matches 1,187 within 5%);
* percent vs fraction ("12.3%" matches 0.123), percentage points, thousands separators, k/M/bn suffixes,
  and durations in words ("2.5 days" matches 216000 seconds);
* derived values of two tool numbers: difference, ratio and percent change (each also x100), over a capped
  set of numbers so the check stays fast.

Not claims, so never flagged: list markers ("1."), numbers and dates the question itself contains, dates
and ISO weeks present in the tool results, and small counts (0-10) in prose ("two channels", "top 3").
Unverified numbers are marked in the text as ``⚠12.3%``.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tools.result import ToolResult

WARNING_MARK = "⚠"
# Cap on the numbers combined pairwise for derived values (n^2 pairs).
MAX_DERIVED_BASE = 60
SMALL_COUNT = 10

_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?)?\b|\b\d{4}-W\d{2}\b|\b\d{1,2}:\d{2}\b")
_NUMBER = re.compile(
    r"(?<![\w.,/])(?P<sign>[-−+])?[$€£]?"
    r"(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?P<frac>\.\d+)?"
    r"(?P<suffix>\s?%|\s?(?:pp|p\.p\.|percentage points?|points?)\b|\s?(?:k|K|M|bn|B)\b"
    r"|\s(?:thousand|million|billion)\b|x\b|×)?"
    r"(?P<unit>\s(?:seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?))?"
    r"(?![\w])"
)
_EVIDENCE_NUMBER = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?")
_LIST_MARKER = re.compile(r"(?m)^\s*(?:[-*]\s+)?\d+[.)](?=\s)")
_SCALE = {"k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6, "bn": 1e9, "b": 1e9, "billion": 1e9}
_UNIT_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


@dataclass(frozen=True)
class NumberMention:
    """A number as written in the text."""

    start: int
    end: int
    text: str
    value: float  # after scaling by the suffix (k/M), sign dropped
    resolution: float  # the unit of the last digit shown, after scaling
    kind: str  # "plain", "percent", "points", "ratio"
    unit_seconds: float | None = None
    small_count: bool = False


@dataclass
class NumberCheck:
    """The outcome of checking one answer."""

    verified: list[str] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)
    marked: str = ""

    def as_dict(self) -> dict[str, list[str]]:
        """``{"verified": [...], "unverified": [...]}`` for the JSON output."""
        return {"verified": list(self.verified), "unverified": list(self.unverified)}


def _mention(match: re.Match[str]) -> NumberMention:
    digits = match.group("int").replace(",", "")
    frac = match.group("frac") or ""
    suffix = (match.group("suffix") or "").strip().lower()
    value = float(digits + frac)
    if frac:
        resolution = 10.0 ** -(len(frac) - 1)
    else:
        trailing = len(digits) - len(digits.rstrip("0")) if value >= 1000 else 0
        # "about 20,000" is a rounded claim: accept the rounding, but never looser than 5%.
        resolution = min(10.0**trailing, value * 0.05) if trailing else 1.0
    kind = "plain"
    if suffix == "%":
        kind = "percent"
    elif suffix in ("pp", "p.p.") or suffix.startswith("percentage") or suffix.startswith("point"):
        kind = "points"
    elif suffix in ("x", "×"):
        kind = "ratio"
    elif suffix in _SCALE:
        value *= _SCALE[suffix]
        resolution *= _SCALE[suffix]
    unit = (match.group("unit") or "").strip().lower()
    unit_seconds = _UNIT_SECONDS[unit[0]] if unit else None
    if unit.startswith(("min",)):
        unit_seconds = 60.0
    return NumberMention(
        start=match.start(),
        end=match.end(),
        text=match.group(0).strip(),
        value=value,
        resolution=resolution,
        kind=kind,
        unit_seconds=unit_seconds,
        small_count=not frac and not suffix and not unit and value <= SMALL_COUNT,
    )


def find_numbers(text: str) -> list[NumberMention]:
    """Every number written in ``text`` that could be a claim (dates and list markers excluded)."""
    blocked: list[tuple[int, int]] = [m.span() for m in _DATE.finditer(text)]
    blocked += [m.span() for m in _LIST_MARKER.finditer(text)]
    out = []
    for match in _NUMBER.finditer(text):
        if any(start <= match.start() < end for start, end in blocked):
            continue
        out.append(_mention(match))
    return out


def _walk(value: Any) -> Iterator[float | str]:
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, (int, float)):
        if math.isfinite(value):
            yield float(value)
    elif isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, (list, tuple)):
        yield float(len(value))
        for item in value:
            yield from _walk(item)
    elif hasattr(value, "isoformat"):
        yield value.isoformat()


class Evidence:
    """The numbers (and dates) of a turn's tool results, indexed for fast lookup."""

    def __init__(self, results: Iterable[ToolResult]) -> None:
        numbers: list[float] = []
        self.dates: set[str] = set()
        for result in results:
            # The full numbers, and the rounded ones the model was shown (``compact``): an LLM quoting a
            # rounded value at the shown precision must still verify.
            shown = result.compact(max_rows=1_000_000)
            for payload in (result.result, result.definition, result.notes, shown["result"]):
                for item in _walk(payload):
                    if isinstance(item, str):
                        self.dates.update(
                            m.group(0)[:10] if "-W" not in m.group(0) else m.group(0) for m in _DATE.finditer(item)
                        )
                        # Liberal on the evidence side: "7d", "p90", "top 5" all contribute their digits.
                        numbers.extend(float(n.replace(",", "")) for n in _EVIDENCE_NUMBER.findall(item))
                    else:
                        numbers.append(abs(item))
        self.base = numbers
        self.values = sorted(set(numbers) | {v * 100 for v in numbers})
        self._derived: dict[str, np.ndarray] = {}

    def derived(self, kind: str) -> np.ndarray:
        """Sorted values derivable from two tool numbers, by the kind of number written.

        plain: differences; percent: percent changes, ratios and differences (x100, and differences as is);
        points: differences (as is and x100); ratio ("2.6x"): ratios.
        """
        if kind not in self._derived:
            a = np.fromiter(dict.fromkeys(v for v in self.base if v != 0), dtype=float)[:MAX_DERIVED_BASE]
            if a.size < 2:
                self._derived[kind] = np.empty(0)
            else:
                x, y = np.meshgrid(a, a)
                off = ~np.eye(a.size, dtype=bool)
                x, y = x[off], y[off]
                diff = np.abs(x - y)
                parts = {
                    "plain": [diff],
                    "percent": [diff, diff * 100, x / y * 100, diff / y * 100],
                    "points": [diff, diff * 100],
                    "ratio": [x / y],
                }[kind]
                self._derived[kind] = np.sort(np.concatenate(parts))
        return self._derived[kind]

    def _within(self, sorted_values: Any, target: float, tolerance: float) -> bool:
        if isinstance(sorted_values, np.ndarray):
            i = int(np.searchsorted(sorted_values, target - tolerance))
            return i < sorted_values.size and sorted_values[i] <= target + tolerance
        i = bisect_left(sorted_values, target - tolerance)
        return i < len(sorted_values) and sorted_values[i] <= target + tolerance

    def supports(self, mention: NumberMention) -> bool:
        """Whether some tool number (or a simple derived value) rounds to the mention."""
        targets = [(mention.value, mention.resolution / 2)]
        if mention.unit_seconds:
            targets.append((mention.value * mention.unit_seconds, mention.resolution * mention.unit_seconds / 2))
        for target, half in targets:
            tolerance = half * (1 + 1e-9) + 1e-12
            if self._within(self.values, target, tolerance):
                return True
        # Derived values are dense near small numbers: only use them for numbers written precisely enough.
        precise = mention.resolution <= abs(mention.value) * (0.02 if mention.kind == "plain" else 0.05)
        if precise:
            derived = self.derived(mention.kind)
            for target, half in targets:
                if self._within(derived, target, half * (1 + 1e-9) + 1e-12):
                    return True
        return False


def verify_answer(text: str, results: Iterable[ToolResult], question: str = "") -> NumberCheck:
    """Check every number in ``text`` against the tool results of the turn.

    Args:
        text: the answer as written (by the LLM or a template).
        results: the tool results of this turn.
        question: the person's question (its own numbers and dates are not claims).

    Returns:
        The verified and unverified numbers (as written) and the text with unverified ones marked ``⚠``.
    """
    evidence = Evidence(results)
    asked_values = {m.value for m in find_numbers(question)}
    asked_dates = {m.group(0) for m in _DATE.finditer(question)}
    check = NumberCheck()
    marks: list[int] = []
    for match in _DATE.finditer(text):
        token = match.group(0)
        if ":" in token and len(token) <= 5:
            continue  # a clock time in prose
        key = token if "-W" in token else token[:10]
        if token in asked_dates or key in evidence.dates:
            check.verified.append(token)
        else:
            check.unverified.append(token)
            marks.append(match.start())
    for mention in find_numbers(text):
        if mention.value in asked_values:
            continue
        if evidence.supports(mention):
            check.verified.append(mention.text)
        elif not mention.small_count:
            check.unverified.append(mention.text)
            marks.append(mention.start)
    marked = text
    for position in sorted(marks, reverse=True):
        marked = marked[:position] + WARNING_MARK + marked[position:]
    check.marked = marked
    return check
