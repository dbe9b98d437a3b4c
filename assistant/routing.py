"""What a question refers to, for the offline router: vocabulary names, durations, dates, weeks, topics.

``Vocabulary`` holds the names a question can use (event names, channels, columns, stages, the data's date
range), read from the loaded data. ``find_mentions`` finds those names in a question with light stemming
("product views" -> ``product_view``, "signed up" -> ``signup``) and a few marketer synonyms ("buy" ->
``purchase``); the other extractors read durations ("7 days" -> ``7d``), dates, ISO weeks and search topics.
``assistant.arguments`` turns these into tool arguments.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from datetime import date, datetime

from tools.context import ToolContext
from tools.errors import DataError

_TOKEN = re.compile(r"[a-z0-9]+")
# Marketer words for common event names (used only when that event exists in the data).
EVENT_SYNONYMS: dict[str, tuple[str, ...]] = {
    "purchase": ("buy", "bought", "checkout", "check out", "purchaser", "buyer", "paying customer"),
    "signup": ("register", "registration", "sign up"),
    "visit": ("visitor", "landing"),
    "product_view": ("product page", "product detail", "view product", "product"),
    "pricing": ("price", "pricing page"),
    "demo": ("demo request", "book demo"),
}
_NUMBER_WORDS = dict(
    zip(
        [
            "a",
            "an",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "fourteen",
            "thirty",
        ],
        (1, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 14, 30),
        strict=True,
    )
)
_DURATION = re.compile(
    r"\b(?:(\d+(?:\.\d+)?)\s*-?\s*(s|secs?|seconds?|m|mins?"
    r"|minutes?|h|hrs?|hours?|d|days?|w|wks?|weeks?|months?)"
    r"|(an?|one|two|three|four|five|six|seven|eight|nine|ten|fourteen|thirty)[ -]"
    r"(seconds?|minutes?|hours?|days?|weeks?|months?))\b"
)
_MONTHS = {
    m: i
    for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)
}
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_NAMED_DATE = re.compile(
    r"\b(?:(\d{1,2})(?:st|nd|rd|th)?\s+(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*"
    r"|(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+(\d{1,2})(?:st|nd|rd|th)?)\b(?:,?\s*(\d{4}))?"
)


# How close (difflib ratio) a word must be to an event name to be read as a misspelling of it: "purchse"
# (0.93) and "singup" (0.83) are, "logic" vs "login" (0.80) is not.
TYPO_CUTOFF = 0.82


def looks_like_pasted_stats(text: str) -> bool:
    """Whether ``text`` is pasted funnel stats (``tools.pasted.looks_like_funnel_stats`` when it exists)."""
    import tools.pasted as pasted

    detector = getattr(pasted, "looks_like_funnel_stats", None)
    if callable(detector):
        return bool(detector(text))
    # Until the pasted-funnel tool lands: three or more lines, (nearly) each a label with a number.
    lines = [line for line in text.splitlines() if line.strip()]
    rows = [line for line in lines if re.search(r"[A-Za-z].*\d|\d.*[A-Za-z]", line)]
    return len(rows) >= 3 and len(rows) >= len(lines) - 1


def normalize(text: str) -> str:
    """Lower case, ``_``/``-`` as spaces, single spaces (for matching and for TF-IDF)."""
    return re.sub(r"\s+", " ", re.sub(r"[_\-/]+", " ", text.lower())).strip()


def inflections(token: str) -> set[str]:
    """Crude inflection stripping: views -> view, signed -> sign, purchasing -> purchase, visitors -> visit."""
    out = {token}
    if len(token) > 3:
        for suffix, replacements in (
            ("ies", ("y",)),
            ("es", ("",)),
            ("s", ("",)),
            ("ed", ("", "e")),
            ("ing", ("", "e")),
            ("ors", ("",)),
            ("or", ("",)),
            ("ers", ("",)),
        ):
            if token.endswith(suffix):
                out.update(token[: -len(suffix)] + r for r in replacements)
    return out


@dataclass(frozen=True)
class Vocabulary:
    """The names a question can refer to, from the loaded data (or the configured defaults)."""

    events: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()
    columns: tuple[str, ...] = ("channel", "campaign")
    conversion: str = "purchase"
    first_day: date | None = None
    last_day: date | None = None
    _phrases: dict[str, list[tuple[tuple[str, ...], str]]] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_context(cls, context: ToolContext) -> Vocabulary:
        """Read events, channels, columns and the date range from the data; defaults when none is loaded."""
        defaults = context.defaults
        try:
            dataset = context.dataset()
        except DataError:
            return cls(events=defaults.stages, stages=defaults.stages, conversion=defaults.conversion)
        summary = dataset.summary()
        first, last = summary.get("first"), summary.get("last")
        return cls(
            events=tuple(dataset.event_counts()),
            channels=tuple(dataset.channel_counts()),
            stages=defaults.stages,
            columns=("channel", "campaign", *dataset.property_columns),
            conversion=defaults.conversion,
            first_day=first.date() if isinstance(first, datetime) else first,
            last_day=last.date() if isinstance(last, datetime) else last,
        )

    def phrases(self, kind: str) -> list[tuple[tuple[str, ...], str]]:
        """(token phrase, name) pairs for ``events`` / ``channels`` / ``columns``, longest phrase first."""
        if kind not in self._phrases:
            names = {
                "events": (*self.events, *self.stages),
                "channels": self.channels,
                "columns": self.columns,
            }[kind]
            pairs: list[tuple[tuple[str, ...], str]] = []
            for name in dict.fromkeys(names):
                pairs.append((tuple(_TOKEN.findall(normalize(name))), name))
                if kind == "events":
                    pairs += [(tuple(_TOKEN.findall(s)), name) for s in EVENT_SYNONYMS.get(name, ())]
            self._phrases[kind] = sorted((p for p in pairs if p[0]), key=lambda p: -len(p[0]))
        return self._phrases[kind]

    def year(self) -> int:
        """The year dates without one refer to (the data's last year)."""
        day = self.last_day or self.first_day
        return day.year if day else date.today().year


@dataclass(frozen=True)
class Mention:
    """A vocabulary name found in the question, with its character span."""

    start: int
    end: int
    name: str


def find_mentions(question: str, vocabulary: Vocabulary, kind: str) -> list[Mention]:
    """Vocabulary names mentioned in the question, in order, without overlaps (longest phrase wins)."""
    lowered = question.lower()
    spans = [(m.start(), m.end(), m.group(0)) for m in _TOKEN.finditer(lowered)]
    variants = [inflections(token) for _, _, token in spans]
    found: list[Mention] = []
    taken: set[int] = set()
    for phrase, name in vocabulary.phrases(kind):
        size = len(phrase)
        for i in range(len(spans)):
            if i in taken:
                continue
            if i + size <= len(spans) and all(phrase[j] in variants[i + j] for j in range(size)):
                width = size
            elif (
                size == 1
                and i + 1 < len(spans)
                and any(a + b == phrase[0] for a in variants[i] for b in variants[i + 1])
            ):
                width = 2  # "sign up" / "signed up" -> signup
            else:
                continue
            if taken.intersection(range(i, i + width)):
                continue
            taken.update(range(i, i + width))
            found.append(Mention(spans[i][0], spans[i + width - 1][1], name))
    found.sort(key=lambda m: m.start)
    return found


def event_typos(question: str, vocabulary: Vocabulary) -> list[tuple[str, str, str]]:
    """Words of the question close to an event name (or its synonym) but not one, as ``(word, spelling, event)``.

    "funnel from visit to purchse" -> ``[("purchse", "purchase", "purchase")]``. Words that already match a
    name (with the light stemming of ``find_mentions``) and words under four letters are never typos.
    """
    pairs = vocabulary.phrases("events")
    known = {token for phrase, _ in pairs for token in phrase}
    singles = {phrase[0]: name for phrase, name in pairs if len(phrase) == 1}
    out: list[tuple[str, str, str]] = []
    for token in dict.fromkeys(_TOKEN.findall(question.lower())):
        if len(token) < 4 or not token.isalpha() or inflections(token) & known:
            continue
        close = difflib.get_close_matches(token, list(singles), n=1, cutoff=TYPO_CUTOFF)
        if close:
            out.append((token, close[0], singles[close[0]]))
    return out


def correct_event_typos(question: str, vocabulary: Vocabulary) -> tuple[str, list[str]]:
    """The question with misspelled event names replaced by the close match, and a note per replacement."""
    notes = []
    for word, spelling, event in event_typos(question, vocabulary):
        question = re.sub(rf"\b{re.escape(word)}\b", spelling, question, flags=re.IGNORECASE)
        notes.append(f"'{word}' is not an event in the data; read it as '{event}'")
    return question, notes


def preceded_by(question: str, mention: Mention, pattern: str) -> bool:
    filler = (
        r"(?:(?:the|a|an|their|our|people|users|customers|visitors|they|reaching|reach|viewing|seeing"
        r"|visiting|hitting|doing|step|stage|page)\s+){0,3}$"
    )
    return (
        re.search(rf"\b(?:{pattern})\s+{filler}", question.lower()[max(0, mention.start - 60) : mention.start])
        is not None
    )


FROM_WORDS = r"after|from|following|once|post|past|beyond|starting at|start at"
TO_WORDS = (
    r"to|before|into|towards?|preceding|precede|leads?(?: up)? to"
    r"|leading(?: up)? to|end(?:s|ing)? (?:in|with|at)|until"
)
CONVERSION_WORDS = r"convert\w*(?: to| into| as)?|conversion(?: event)?(?: is| of| to| as)?|goal(?: is| of)?"


def unique(names: list[str]) -> list[str]:
    return list(dict.fromkeys(names))


def events_for_steps(question: str, vocabulary: Vocabulary, required: bool) -> list[str] | None:
    """Funnel steps: a stage range ("from pricing to purchase"), else the events in mention order."""
    mentions = [
        m for m in find_mentions(question, vocabulary, "events") if not preceded_by(question, m, CONVERSION_WORDS)
    ]
    names = unique([m.name for m in mentions])
    stages = list(vocabulary.stages)
    if len(names) >= 2 and re.search(r"\b(from|between)\b", question.lower()) and len(names) == 2:
        a, b = names
        if a in stages and b in stages and stages.index(a) < stages.index(b):
            return stages[stages.index(a) : stages.index(b) + 1]
    if len(names) >= 2:
        return names
    if len(mentions) == 1 and mentions[0].name in stages:
        # One stage with a direction ("where do we lose people after pricing?"): the stages from/up to it.
        index = stages.index(mentions[0].name)
        if preceded_by(question, mentions[0], FROM_WORDS) and 0 < index < len(stages) - 1:
            return stages[index:]
        if preceded_by(question, mentions[0], r"before|up to|until|till") and 0 < index < len(stages) - 1:
            return stages[: index + 1]
    return stages if required and stages else None


def durations_in(question: str) -> list[tuple[int, int, str]]:
    """Durations written in the question as ``(start, end, "7d")``."""
    out = []
    for m in _DURATION.finditer(question.lower()):
        raw, unit = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        number = float(_NUMBER_WORDS.get(raw, 0) or raw)
        if unit.startswith("month"):
            number, letter = number * 30, "d"
        elif unit.startswith("mi"):
            letter = "m"
        else:
            letter = unit[0]
        out.append((m.start(), m.end(), f"{number:g}{letter}"))
    return out


def dates_in(question: str, vocabulary: Vocabulary) -> list[tuple[int, str]]:
    """Dates written in the question (ISO or "Feb 14"), as ``(position, "YYYY-MM-DD")``."""
    found = [(m.start(), m.group(0)) for m in _ISO_DATE.finditer(question)]
    for m in _NAMED_DATE.finditer(question.lower()):
        day = int(m.group(1) or m.group(4))
        month = _MONTHS[(m.group(2) or m.group(3))[:3]]
        year = int(m.group(5)) if m.group(5) else vocabulary.year()
        try:
            found.append((m.start(), date(year, month, day).isoformat()))
        except ValueError:
            continue
    return sorted(found)


_MONTH_NAMES = (
    "january|february|march|april|may|june|july|august|september|october|november|december"
    "|jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec"
)
_RELATIVE_SPAN = re.compile(
    r"\b(?:in |over |during |for |within )?(?:the )?(?:last|past|previous|recent|most recent|final)\s+"
    r"(?:(\d+|" + "|".join(_NUMBER_WORDS) + r")\s*)?(days?|weeks?|months?)\b"
)
_MONTH_SPAN = re.compile(
    rf"\b(?:in|during|for|over|throughout|across)\s+(?:the month of\s+)?({_MONTH_NAMES})\.?"
    r"(?:\s+(\d{4}))?\b(?!\s*\d{1,2}(?:st|nd|rd|th)?\b)"
)


def date_range_in(question: str, vocabulary: Vocabulary) -> tuple[str | None, str | None, list[tuple[int, int]]]:
    """A period named relative to the data or by month, as ``(since, until, spans)`` (dates inclusive).

    "in the last 2 weeks" / "past 7 days" -> the last 14 / 7 days of the data; "last week" -> the data's last ISO
    week (as ``week_in``); "in February" -> that month of the data's year. ``spans`` are the character ranges of
    those phrases, so their durations are not read as a conversion window.
    """
    from datetime import timedelta

    text = question.lower()
    if m := _RELATIVE_SPAN.search(text):
        raw, unit = m.group(1), m.group(2)
        last = vocabulary.last_day
        if last is None:
            return None, None, [(m.start(), m.end())]
        if raw is None and unit.startswith("week"):
            monday = last - timedelta(days=last.weekday())
            return monday.isoformat(), (monday + timedelta(days=6)).isoformat(), [(m.start(), m.end())]
        number = int(raw) if raw and raw.isdigit() else _NUMBER_WORDS.get(raw or "one", 1)
        days = number * {"d": 1, "w": 7, "m": 30}[unit[0]]
        return (last - timedelta(days=days - 1)).isoformat(), None, [(m.start(), m.end())]
    if m := _MONTH_SPAN.search(text):
        month = _MONTHS[m.group(1)[:3]]
        year = int(m.group(2)) if m.group(2) else vocabulary.year()
        first = date(year, month, 1)
        end = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
        return first.isoformat(), end.isoformat(), [(m.start(), m.end())]
    return None, None, []


def week_in(question: str, vocabulary: Vocabulary) -> str | None:
    """An ISO week: "2024-W07", "week 7", or "last week" (the data's last full ISO week)."""
    text = question.lower()
    if m := re.search(r"\b(\d{4})-?w(\d{1,2})\b", text):
        return f"{m.group(1)}-W{int(m.group(2)):02d}"
    if m := re.search(r"\b(?:week|wk|w)\s*(\d{1,2})\b", text):
        return f"{vocabulary.year()}-W{int(m.group(1)):02d}"
    if vocabulary.last_day and re.search(r"\b(last|latest|most recent|this past|this) week\b", text):
        iso = vocabulary.last_day.isocalendar()
        return f"{iso.year}-W{iso.week:02d}"
    return None


_QUERY_MARKERS = (
    r"\b(?:about|mentioning|mention|mentions|regarding"
    r"|concerning|related to|on the topic of|containing|for|on)\b"
)


def query_in(question: str) -> str:
    """The topic of a feedback search: the words after "about"/"mentioning"/"for"..., else the question."""
    text = question.strip().rstrip("?.! ")
    m = re.search(_QUERY_MARKERS + r"\s+(.+)$", text, re.IGNORECASE)
    return m.group(1).strip() if m and len(m.group(1).strip()) > 2 else text
