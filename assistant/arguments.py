"""Reading tool arguments out of a plain question (offline mode): one kind of value per argument.

Each argument of a tool's pydantic model gets a *kind* from its name, type and description (a list of steps,
a start or end event, a channel, a choice among literals, a duration, a date, an ISO week, a count, a search
query or the pasted text); ``fill_arguments`` then looks for a value of that kind in the question with the
extractors of ``assistant.routing``. Arguments the question does not mention are left out, so the tool's
defaults apply; a required list of steps falls back to the configured journey stages.
"""

from __future__ import annotations

import re
import types
import typing
from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic.fields import FieldInfo

from assistant.routing import (
    CONVERSION_WORDS,
    FROM_WORDS,
    TO_WORDS,
    Mention,
    Vocabulary,
    date_range_in,
    dates_in,
    durations_in,
    events_for_steps,
    find_mentions,
    inflections,
    normalize,
    preceded_by,
    query_in,
    unique,
    week_in,
)
from tools.registry import ToolSpec

CHOICE_SYNONYMS: dict[str, tuple[str, ...]] = {
    "first": ("first touch", "first click", "first interaction"),
    "last": ("last touch", "last click", "last interaction", "last non direct"),
    "linear": ("linear", "equal credit", "evenly", "equally"),
    "time-decay": ("time decay", "decay"),
    "position": ("position based", "u shaped", "40 20 40", "bathtub"),
    "markov": ("markov", "data driven", "removal effect"),
    "shapley": ("shapley", "game theory", "game theoretic", "cooperative game"),
    "all": tuple(
        [
            "all models",
            "every model",
            "each model",
            "compare models",
            "compare the models",
            "all the models",
            "across models",
            "different models",
            "side by side",
            "all attribution models",
        ]
    ),
    "negative": ("only negative", "just negative", "negative only", "only the negative", "only complaints"),
    "positive": ("only positive", "just positive", "positive only", "only the positive", "only praise"),
    "neutral": ("only neutral", "just neutral", "neutral only"),
    "strict": ("strict order", "strictly", "directly after", "immediately", "no other events"),
    "any": ("any order", "regardless of order"),
}
CHOICE_SYNONYMS["time_decay"] = CHOICE_SYNONYMS["time-decay"]
CHOICE_SYNONYMS["position-based"] = CHOICE_SYNONYMS["position_based"] = CHOICE_SYNONYMS["position"]
# Literal values that are ordinary words: matched only through their synonyms or a "by X" phrase.
COMMON_WORDS = frozenset(
    [
        "negative",
        "positive",
        "neutral",
        "first",
        "last",
        "all",
        "any",
        "auto",
        "none",
        "strict",
        "ordered",
        "both",
        "default",
        "total",
        "count",
        "rate",
        "share",
        "day",
        "week",
        "stage",
        "channel",
        "campaign",
        "event",
        "date",
    ]
)


def _annotation_parts(annotation: Any) -> tuple[set[type], list[Any], bool]:
    """(base types, literal values, is a list) of a field annotation."""
    bases: set[type] = set()
    literals: list[Any] = []
    is_list = False
    stack = [annotation]
    while stack:
        item = stack.pop()
        origin = typing.get_origin(item)
        if origin is Literal:
            literals.extend(typing.get_args(item))
        elif origin in (list, tuple, set, frozenset):
            is_list = True
            stack.extend(typing.get_args(item))
        elif origin in (typing.Union, types.UnionType) or origin is typing.Annotated:
            stack.extend(typing.get_args(item)[: None if origin is not typing.Annotated else 1])
        elif isinstance(item, type):
            bases.add(item)
    return bases, literals, is_list


def field_kind(name: str, info: FieldInfo) -> str:
    """The kind of value an argument takes, from its name, type and description."""
    words = set(re.split(r"[_\W]+", name.lower()))
    desc = (info.description or "").lower()
    bases, literals, is_list = _annotation_parts(info.annotation)
    if words & {"text", "stats", "pasted", "content", "raw", "table"} or "paste" in desc:
        return "text"
    if words & {"query", "q", "search", "question", "topic", "phrase"}:
        return "query"
    if "week" in words:
        return "week"
    if bases & {date, datetime} or words & {"since", "until", "date", "day"}:
        return "date"
    if (
        timedelta in bases
        or words & {"window", "lookback", "half", "life", "halflife", "gap", "horizon"}
        or ("duration" in desc and not literals)
    ):
        return "duration"
    if literals and not (bases & {int, float}):
        return "choice"
    if is_list and words & {"steps", "step", "events", "stages", "funnel", "sequence"}:
        return "steps"
    if words & {"channel", "channels"}:
        return "channel"
    if words & {"by", "group", "breakdown", "dimension", "split", "column"}:
        return "column"
    if words & {"from", "start", "after", "source", "anchor", "origin"}:
        return "event_from"
    if words & {"to", "end", "before", "target", "destination"}:
        return "event_to"
    if words & {"conversion", "goal", "converted"}:
        return "conversion"
    if "stage" in words:
        return "stage"
    if words & {"event", "events"}:
        return "event"
    if bases & {int, float}:
        return "number"
    return "other"


_NUMBER_PATTERNS: dict[str, tuple[str, ...]] = {
    "top": (r"\btop[- ]?(\d+)\b", r"\b(\d+) (?:most|biggest|largest|main|best|worst|top)\b"),
    "depth": (
        r"\bdepth (?:of )?(\d+)\b",
        r"\b(\d+) (?:steps?|events?) (?:deep|ahead|back|out|after|before)\b",
        r"\bup to (\d+) steps\b",
        r"\b(\d+)[- ]steps?\b",
    ),
    "length": (
        r"\b(?:length|long) (?:of |up to )?(\d+)\b",
        r"\bup to (\d+) (?:steps|events)\b",
        r"\b(\d+)[- ](?:step|event)s?\b",
    ),
    "k": (
        r"\bk ?= ?(\d+)\b",
        r"\b(\d+) (?:segments|clusters|groups|personas|types|themes|topics)\b",
        r"\binto (\d+)\b",
    ),
    "improvement": (r"\b(?:improv|increas|lift|rais|boost|grow)\w*\b[^.?!]*?\bby (\d+(?:\.\d+)?) ?(%)",),
    "value": (r"\b(?:acv|aov|ltv|order value|deal size|value per customer|worth)\D{0,12}?(\d[\d,]*(?:\.\d+)?)",),
    "order": (r"\border[- ]?(\d)\b", r"\b(\d)(?:st|nd|rd|th)?[- ]order\b"),
    "support": (
        r"\b(\d+(?:\.\d+)?) ?(%) (?:support|of (?:customers|journeys|users))\b",
        r"\bsupport (?:of |above |at least |>= ?)?(\d+(?:\.\d+)?) ?(%)?",
    ),
}
_NUMBER_ALIASES = {
    "limit": "top",
    "n": "top",
    "rows": "top",
    "max": "length",
    "segments": "k",
    "clusters": "k",
    "n_segments": "k",
    "min_support": "support",
    "markov_order": "order",
}


def number_in(name: str, question: str) -> float | None:
    """A count or threshold for the argument ``name`` ("top 5", "4 segments", "order 2", "5% support")."""
    text = question.lower()
    words = re.split(r"[_\W]+", name.lower())
    key = next((w for w in [name.lower(), *words] if w in _NUMBER_PATTERNS or w in _NUMBER_ALIASES), None)
    key = _NUMBER_ALIASES.get(key, key) if key else None
    generic = rf"\b{re.escape(name.lower().replace('_', ' '))}\s*(?:=|of|:)?\s*(\d+(?:\.\d+)?)\b"
    patterns = (*_NUMBER_PATTERNS.get(key or "", ()), generic)
    if key == "order":
        for word, order in (("first", 1.0), ("second", 2.0), ("third", 3.0), ("fourth", 4.0)):
            if re.search(rf"\b{word}[- ]order\b", text):
                return order
    for pattern in patterns:
        if m := re.search(pattern, text):
            value = float(m.group(1).replace(",", ""))
            if m.lastindex and m.lastindex >= 2 and m.group(2) == "%":
                value /= 100
            return value
    return None


def choice_in(name: str, values: list[Any], question: str) -> Any:
    """Which literal value the question names (synonyms included); several attribution models -> "all"."""
    text = " " + normalize(question) + " "
    by_field = name.lower() in ("by", "group_by", "breakdown", "dimension", "split_by")
    hits: list[tuple[int, Any]] = []
    for value in values:
        if not isinstance(value, str):
            continue
        plain = normalize(value)
        aliases = list(CHOICE_SYNONYMS.get(value, ()))
        if plain not in COMMON_WORDS and len(plain) > 2:
            aliases.append(plain)
        patterns = [rf"\b{re.escape(normalize(a))}\b" for a in aliases]
        if by_field or plain in ("stage", "channel", "campaign", "day", "week"):
            patterns.append(
                rf"\b(?:by|per|each|which|every|across|for each|at each"
                rf"|at which|split by){{1}} (?:the )?{re.escape(plain)}s?\b"
            )
        positions = [m.start() for p in patterns for m in [re.search(p, text)] if m]
        if positions:
            hits.append((min(positions), value))
    if not hits:
        return None
    distinct = unique([v for _, v in sorted(hits, key=lambda h: h[0])])
    if len(distinct) >= 2 and "all" in values and "all" not in distinct:
        return "all"
    return distinct[0]


def _duration_field(fields: list[str], context: str) -> str | None:
    keys = {
        "half": ("half life", "half-life", "decay"),
        "lookback": ("lookback", "look back", "look-back", "attribution window"),
        "window": ("window", "within", "inside"),
        "gap": ("gap", "session", "inactivity"),
    }
    for name in fields:
        for key, words in keys.items():
            if key in name.lower() and any(w in context for w in words):
                return name
    return None


def fill_arguments(spec: ToolSpec, question: str, vocabulary: Vocabulary) -> dict[str, Any]:
    """The arguments of ``spec`` that the question mentions (plus required ones with a sensible fallback)."""
    args: dict[str, Any] = {}
    fields = spec.args.model_fields
    kinds = {name: field_kind(name, info) for name, info in fields.items()}
    events = find_mentions(question, vocabulary, "events")
    channels = [m.name for m in find_mentions(question, vocabulary, "channels")]
    period = date_range_in(question, vocabulary)
    # "in the last 2 weeks" is a date range, not a conversion window.
    durations = [d for d in durations_in(question) if not any(a <= d[0] < b for a, b in period[2])]
    duration_fields = [n for n, k in kinds.items() if k == "duration"]
    for index, (start, end, text) in enumerate(durations):
        context = question.lower()[max(0, start - 40) : end + 25]
        target = _duration_field(duration_fields, context)
        if target is None and duration_fields and (len(duration_fields) == 1 or index == 0):
            target = next((n for n in duration_fields if "window" in n), duration_fields[0])
        if target and target not in args:
            args[target] = text
    for name, info in fields.items():
        kind, required = kinds[name], info.is_required()
        _, literals, is_list = _annotation_parts(info.annotation)
        value: Any = None
        if kind == "text":
            value = question
        elif kind == "query":
            value = query_in(question)
        elif kind == "steps":
            value = events_for_steps(question, vocabulary, required)
        elif kind == "choice":
            value = choice_in(name, literals, question)
        elif kind == "channel":
            value = (channels or None) if is_list else (channels[0] if channels else None)
        elif kind == "column":
            value = _column_in(question, vocabulary, literals)
        elif kind in ("event_from", "event_to", "conversion", "stage", "event"):
            value = _event_for(kind, question, events, vocabulary, kinds)
            if value is not None and is_list:
                value = [value]
        elif kind == "date":
            value = _date_for(name, question, vocabulary, period[:2])
        elif kind == "week":
            value = week_in(question, vocabulary) or _week_of_date(question, vocabulary)
        elif kind == "number":
            number = number_in(name, question)
            bases = _annotation_parts(info.annotation)[0]
            value = int(number) if number is not None and int in bases and float not in bases else number
        if value is not None and name not in args:
            args[name] = value
    return args


def _column_in(question: str, vocabulary: Vocabulary, literals: list[Any]) -> str | None:
    m = re.search(
        r"\b(?:by|per|split by|broken down by|break(?:ing)? down by"
        r"|for each|from each|in each|each|across|grouped by|which)\s+(?:the\s+)?"
        r"(?:entry\s+)?([a-z_]+)",
        question.lower(),
    )
    if not m:
        return None
    word = m.group(1)
    candidates = [str(v) for v in literals] or list(vocabulary.columns)
    for name in candidates:
        if normalize(name) in inflections(word) or normalize(name).replace(" ", "_") in inflections(word):
            return name
    return None


def _event_for(
    kind: str, question: str, events: list[Mention], vocabulary: Vocabulary, kinds: dict[str, str]
) -> str | None:
    if kind == "conversion":
        hit = next((m for m in events if preceded_by(question, m, CONVERSION_WORDS)), None)
        return hit.name if hit else None
    if kind == "stage":
        stages = [m for m in events if m.name in vocabulary.stages]
        return stages[0].name if stages else None
    if kind == "event":
        return events[0].name if events else None
    pattern = FROM_WORDS if kind == "event_from" else TO_WORDS
    hit = next((m for m in events if preceded_by(question, m, pattern)), None)
    if hit is None and kind == "event_from" and "event_to" in kinds.values() and len(events) == 1:
        other = events[0]
        hit = None if preceded_by(question, other, TO_WORDS) else other  # a lone event with no preposition: start there
    if hit is None and kind == "event_from" and "event_to" not in kinds.values() and events:
        hit = events[0]
    return hit.name if hit else None


def _week_of_date(question: str, vocabulary: Vocabulary) -> str | None:
    """The ISO week of the first date in the question ("how did signups change on Feb 14?" -> 2024-W07)."""
    found = dates_in(question, vocabulary)
    if not found:
        return None
    iso = date.fromisoformat(found[0][1]).isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def _date_for(
    name: str, question: str, vocabulary: Vocabulary, period: tuple[str | None, str | None] = (None, None)
) -> str | None:
    found = dates_in(question, vocabulary)
    words = set(re.split(r"[_\W]+", name.lower()))
    if not found:
        # A named period ("last 2 weeks", "in February") fills since/until when no date is written out.
        if words & {"since", "start", "from", "after", "begin"}:
            return period[0]
        if words & {"until", "end", "to", "before"}:
            return period[1]
        return None
    text = question.lower()
    since = [
        d
        for p, d in found
        if re.search(r"\b(since|from|after|starting(?: on)?|beginning)\s+(?:on\s+)?$", text[max(0, p - 20) : p])
    ]
    until = [
        d
        for p, d in found
        if re.search(r"\b(until|till|to|through|before|up to|ending)\s+(?:on\s+)?$", text[max(0, p - 20) : p])
    ]
    # One day named with "on"/"for" ("the funnel on Feb 14") is both the first and the last day.
    single_day = [
        d
        for p, d in found
        if len(found) == 1 and re.search(r"\b(on|for|during)\s+(?:the\s+)?$", text[max(0, p - 20) : p])
    ]
    if words & {"since", "start", "from", "after", "begin"}:
        return since[0] if since else (single_day[0] if single_day else None)
    if words & {"until", "end", "to", "before"}:
        return until[0] if until else (single_day[0] if single_day else None)
    return found[0][1]
