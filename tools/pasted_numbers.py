"""Reading one number of pasted funnel stats with its meaning: kind, what it measures, unit, period.

Numbers: thousands separators (``10,000``; European ``10.000`` and ``10 000`` where unambiguous), decimal
commas (``1,5``), ``k``/``M``/``bn`` suffixes, percentages, currency (``$120``, ``€12k``, ``ACV $12k``),
periods (``/month``, ``per week``, ``annually``), averages (``avg 3 touchpoints``) and durations
(``avg 28-day sales cycle``). A reading that was a choice (``10.000`` as ten thousand) is noted on the metric.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from tools.pasted_math import fmt_num, fmt_pct

MetricKind = Literal["count", "rate", "average", "duration", "money"]
NumberStyle = Literal["english", "european", "unknown"]
NUMBER = re.compile(
    r"(?<![\w.,])(?P<cur>[$€£¥])?\s?(?P<num>"
    r"\d{1,3}(?:,\d{3})+(?:\.\d+)?"  # 10,000 / 1,234.5
    r"|\d{1,3}(?:\.\d{3})+(?:,\d+)?"  # 10.000 / 1.234,5 (decided later: may be a decimal)
    r"|\d{1,3}(?: \d{3})+(?![\d,.])"  # 10 000
    r"|\d+(?:[.,]\d+)?"  # 1200 / 1.2 / 1,5
    r"|[.,]\d+)"
    r"(?:(?P<suffix>[kKmM])(?![A-Za-z])|\s?(?P<word>thousand|million|billion|bn|mn)\b)?"
    r"(?P<pct>\s?(?:%|percent\b|pct\b))?"
)
_SUFFIX = {"k": 1e3, "m": 1e6, "thousand": 1e3, "million": 1e6, "mn": 1e6, "billion": 1e9, "bn": 1e9}
_CURRENCY_SYMBOL = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}
_CURRENCY_AFTER = re.compile(
    r"^\s?(?P<c>[$€£¥]|usd|eur|gbp|chf|cad|aud|dollars?|euros?|pounds?)(?![A-Za-z])", re.IGNORECASE
)
CURRENCY_BEFORE = re.compile(r"(?:^|\s)(?P<c>usd|eur|gbp|chf|cad|aud)\s*$", re.IGNORECASE)
_CURRENCY_WORDS = {
    "dollar": "USD",
    "dollars": "USD",
    "euro": "EUR",
    "euros": "EUR",
    "pound": "GBP",
    "pounds": "GBP",
}
_DURATION_AFTER = re.compile(
    r"^\s*-?\s*(?P<u>days?|d|weeks?|wks?|w|months?|mos?|mths?|years?|yrs?|hours?|hrs?|h|minutes?|mins?)\b",
    re.IGNORECASE,
)
_DURATION_UNITS = {
    "d": "days", "day": "days", "days": "days", "w": "weeks", "wk": "weeks", "wks": "weeks", "week": "weeks",
    "weeks": "weeks", "mo": "months", "mos": "months", "mth": "months", "mths": "months", "month": "months",
    "months": "months", "yr": "years", "yrs": "years", "year": "years", "years": "years", "h": "hours",
    "hr": "hours", "hrs": "hours", "hour": "hours", "hours": "hours", "min": "minutes", "mins": "minutes",
    "minute": "minutes", "minutes": "minutes",
}  # fmt: skip
AVERAGE = re.compile(r"\b(?:avg|average|mean|median|typical(?:ly)?|on average)\b\.?", re.IGNORECASE)
_PER_THING = re.compile(r"\bper\s+(?:visit|visitor|user|customer|session|lead|account|person)s?\b", re.IGNORECASE)
_PERIOD_PREFIX = r"(?:/\s*|\bper\s+|\ba\s+|\beach\s+|\bevery\s+|\bin\s+a\s+)"
_PERIODS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("day", re.compile(_PERIOD_PREFIX + r"(?:day|d)\b|\bdaily\b", re.IGNORECASE)),
    ("week", re.compile(_PERIOD_PREFIX + r"(?:week|wk|w)\b|\bweekly\b|\bWoW\b", re.IGNORECASE)),
    ("month", re.compile(_PERIOD_PREFIX + r"(?:month|mo|mth)\b|\bmonthly\b|\bMoM\b", re.IGNORECASE)),
    ("quarter", re.compile(_PERIOD_PREFIX + r"(?:quarter|qtr)\b|\bquarterly\b", re.IGNORECASE)),
    (
        "year",
        re.compile(_PERIOD_PREFIX + r"(?:year|yr|annum)\b|\bannually\b|\byearly\b|\bp\.a\.|\bYoY\b", re.IGNORECASE),
    ),
)
# Rate roles, checked in this order: a leak word wins over a progression word ("drop to pricing").
_LEAK_WORDS = (
    "bounce", "abandon", "drop", "exit", "leave", "left", "churn", "cancel", "unsubscrib", "lost", "lose",
    "attrition", "quit", "fail", "reject", "declin", "ignore", "skip", "no-show", "no show", "disengag",
    "inactive", "dormant", "refund",
)  # fmt: skip
_HEALTH_WORDS = (
    "active", "usage", "retain", "retention", "renew", "satisf", "nps", "csat", "engag", "open rate",
    "repeat", "returning", "adoption",
)  # fmt: skip
_PROGRESS_WORDS = (
    "proceed", "progress", "move", "go on", "go to", "goes to", "continue", "convert", "request", "book",
    "sign", "register", "click", "reach", "advance", "become", "upgrade", "purchase", "buy", "subscribe",
    "start", "schedule", "download", "visit", "view", "qualif", "accept", "close", "win", "won", "ctr", "opt",
    "submit", "apply", "trial", "demo", "contact", "enter", "take", "complete", "pay", "activate", "onboard",
)  # fmt: skip
_CONVERSION_ONLY = re.compile(
    r"^(?:overall\s+)?(?:conversion(?:\s+rate)?|conv\.?(?:\s+rate)?|cvr|cr|rate)"
    r"(?:\s+from\s+(?:the\s+)?previous(?:\s+stage|\s+step)?)?$"
)
VALUE_WORDS = re.compile(
    r"\b(?:acv|aov|ltv|clv|arpu|arpa|arr per|order value|contract value|deal size|deal value|customer value|"
    r"revenue per|value per|lifetime value|average revenue|basket)\b",
    re.IGNORECASE,
)


RATE_HEADER = re.compile(r"\b(?:rate|conversion|ctr|cvr|churn|bounce|share|ratio|pct)\b", re.IGNORECASE)


@dataclass
class Metric:
    """One number as pasted, with what it means.

    Attributes:
        kind: count, rate (stored as a fraction: 45% -> 0.45), average, duration (in ``unit``) or money.
        value: the number in those units.
        measures: what it measures in the user's words ("bounce rate", "proceed to product pages").
        unit: "visitors", "%", "days", "USD" …
        period: "day", "week", "month", "quarter" or "year" when stated (or set by a heading), else None.
        text: the fragment it was read from.
        role: how the analysis uses it: stage_count, count, progression (share moving to the next stage),
            conversion (share arriving from the previous stage), leak (share lost inside the stage), health,
            info, average, duration or value.
        tolerance: half of the last stated digit (0.005 for "35%"), for rounding-aware consistency checks.
        notes: how an ambiguous number was read.
    """

    kind: MetricKind
    value: float
    measures: str
    unit: str | None
    period: str | None
    text: str
    role: str = "info"
    tolerance: float = 0.0
    notes: list[str] = field(default_factory=list)

    def display(self) -> str:
        """The value as a person writes it: ``45%``, ``10,000``, ``USD 12,000``, ``28 days``."""
        if self.kind == "rate":
            return fmt_pct(self.value)
        if self.kind == "money":
            return f"{self.unit} {fmt_num(self.value)}"
        if self.kind == "duration":
            return f"{fmt_num(self.value)} {self.unit}"
        return fmt_num(self.value)

    def as_row(self, stage: str) -> dict[str, Any]:
        """A flat row for the ``metrics`` table."""
        return {
            "stage": stage,
            "kind": self.kind,
            "role": self.role,
            "value": self.value,
            "display": self.display(),
            "measures": self.measures,
            "unit": self.unit,
            "period": self.period,
            "text": self.text,
        }


# ----------------------------------------------------------------------------------------------- numbers


def detect_number_style(texts: list[str]) -> NumberStyle:
    """Whether numbers use English (1,234.5) or European (1.234,5) separators, judged by unambiguous ones."""
    english = european = 0
    for text in texts:
        for token in re.findall(r"(?<![\w.,])\d[\d.,]*\d(?!\d)", text):
            if re.fullmatch(r"\d{1,3}(\.\d{3}){2,}(,\d+)?|\d{1,3}(\.\d{3})+,\d+|\d+,\d{1,2}", token):
                european += 1
            elif re.fullmatch(r"\d{1,3}(,\d{3}){2,}(\.\d+)?|\d{1,3}(,\d{3})+\.\d+|\d+\.\d{1,2}", token):
                english += 1
    if english and not european:
        return "english"
    if european and not english:
        return "european"
    return "unknown"


def _to_number(raw: str, style: NumberStyle, count_like: bool) -> tuple[float, int, str | None]:
    """A numeric token's value, its number of decimals, and a note when the reading was a choice."""
    s = raw.replace(" ", "")
    note = None
    if "," in s and "." in s:
        decimal = "," if s.rfind(",") > s.rfind(".") else "."
        thousands = "." if decimal == "," else ","
        s = s.replace(thousands, "").replace(decimal, ".")
    elif "," in s:
        if re.fullmatch(r"\d{1,3}(,\d{3})+", s) and not (style == "european" and s.count(",") == 1):
            s = s.replace(",", "")
        else:
            note = f"read {raw!r} with a decimal comma"
            s = s.replace(",", ".")
    elif (
        "." in s
        and not s.startswith("0")
        and (
            re.fullmatch(r"\d{1,3}(\.\d{3}){2,}", s)
            or (re.fullmatch(r"\d{1,3}\.\d{3}", s) and (style == "european" or count_like))
        )
    ):
        note = f"read {raw!r} as {int(s.replace('.', '')):,} (dot as thousands separator)"
        s = s.replace(".", "")
    if raw.replace(" ", "") != raw:
        note = f"read {raw!r} as {int(s):,} (space as thousands separator)"
    decimals = len(s.split(".")[1]) if "." in s else 0
    return float(s), decimals, note


def period_of(text: str) -> str | None:
    for name, pattern in _PERIODS:
        if pattern.search(text):
            return name
    return None


def strip_period(text: str) -> str:
    for _, pattern in _PERIODS:
        text = pattern.sub(" ", text)
    return text


def clean_words(text: str) -> str:
    text = re.sub(r"[\s:=~≈]+", " ", text).strip(" .,:;-–—/*_'\"")
    words = text.split()
    while words and words[0].lower() in {
        "of",
        "are",
        "is",
        "were",
        "was",
        "the",
        "with",
        "at",
        "who",
        "that",
    }:
        words = words[1:]
    return " ".join(words)


def classify_rate(measures: str) -> str:
    low = measures.lower()
    if not low or _CONVERSION_ONLY.match(low):
        return "conversion"
    if any(word in low for word in _LEAK_WORDS):
        return "leak"
    if any(word in low for word in _HEALTH_WORDS):
        return "health"
    if any(word in low for word in _PROGRESS_WORDS):
        return "progression"
    return "info"


def parse_metrics(fragment: str, style: NumberStyle, context: str = "") -> tuple[list[Metric], list[str]]:
    """Read every number of one fragment with its meaning.

    Args:
        fragment: text such as ``"45% bounce rate"`` or ``"avg 28-day sales cycle"``.
        style: the document's number style (see ``detect_number_style``).
        context: extra words that describe the number when the fragment has none (a table header).

    Returns:
        The metrics, and leftover text that carried no number (for ``unparsed``).
    """
    matches = list(NUMBER.finditer(fragment))
    if not matches:
        leftover = clean_words(fragment)
        return [], [leftover] if leftover else []
    metrics: list[Metric] = []
    for index, match in enumerate(matches):
        before = fragment[: match.start()] if index == 0 else ""
        end = matches[index + 1].start() if index + 1 < len(matches) else len(fragment)
        after = fragment[match.end() : end]
        text = (before + fragment[match.start() : end]).strip()
        metrics.append(_metric_from_match(match, before, after, text, style, context))
    return metrics, []


def _metric_from_match(
    match: re.Match[str], before: str, after: str, text: str, style: NumberStyle, context: str
) -> Metric:
    words = f"{before} {after} {context}"
    currency = _CURRENCY_SYMBOL.get(match.group("cur") or "")
    after_currency = _CURRENCY_AFTER.match(after)
    before_currency = CURRENCY_BEFORE.search(before)
    if after_currency:
        symbol = after_currency.group("c")
        currency = currency or _CURRENCY_SYMBOL.get(symbol) or _CURRENCY_WORDS.get(symbol.lower()) or symbol.upper()
        after = after[after_currency.end() :]
    elif before_currency and not currency:
        currency = before_currency.group("c").upper()
        before = before[: before_currency.start()]
    duration = None if currency or match.group("pct") else _DURATION_AFTER.match(after)
    has_pct = bool(match.group("pct")) or ("%" in context and not currency)
    if currency:
        kind: MetricKind = "money"
    elif has_pct:
        kind = "rate"
    elif duration:
        kind = "duration"
    elif AVERAGE.search(words) or _PER_THING.search(words):
        kind = "average"
    else:
        kind = "count"
    count_like = kind == "count" and not RATE_HEADER.search(context)
    value, decimals, note = _to_number(match.group("num"), style, count_like=count_like)
    suffix = (match.group("suffix") or match.group("word") or "").lower()
    value *= _SUFFIX.get(suffix, 1.0)
    period = period_of(words)
    if duration:
        after = after[duration.end() :]
    described = strip_period(f"{after} {context}" if after.strip() else f"{before} {context}")
    if kind != "money":
        described = AVERAGE.sub(" ", described)
        described = _PER_THING.sub(" ", described) if kind == "average" else described
    measures = clean_words(described)
    unit: str | None
    tolerance = 0.5 * 10.0 ** (-decimals)
    if kind == "rate":
        value, unit, tolerance = value / 100.0, "%", tolerance / 100.0
        if not match.group("pct"):
            note = note or f"read {match.group(0).strip()!r} as a percentage (the column says %)"
    elif kind == "money":
        unit = currency
    elif kind == "duration" and duration:
        unit = _DURATION_UNITS.get(duration.group("u").lower(), duration.group("u").lower())
    elif kind == "average":
        unit = measures.split()[0] if measures else None
    else:
        unit = measures or None
    return Metric(
        kind=kind,
        value=value,
        measures=measures,
        unit=unit,
        period=period,
        text=text,
        tolerance=tolerance,
        notes=[note] if note else [],
    )


def is_value_metric(metric: Metric) -> bool:
    """Whether a money metric states the value of one customer (ACV, AOV, LTV, deal size …)."""
    return metric.kind == "money" and bool(VALUE_WORDS.search(metric.measures))
