"""Offline mode: answer a question with no LLM, by routing it to one tool and rendering the result.

The router (``Router``) picks the tool by similarity of the question to each ``ToolSpec``'s example questions
and description (TF-IDF over words and character n-grams, scikit-learn) plus keyword rules for the tools we
know ("credit" -> ``attribution``, "really drive" -> ``impact`` ...); rules apply only to registered tools, so
it works from whatever specs exist. Arguments come from ``assistant.arguments.fill_arguments``. The answer is
the tool's result rendered by a template (``prompts/offline/<tool>.md.j2`` when present, else
``prompts/offline_answer.md.j2``) and is labelled "offline mode (no LLM): answered by tool X". A question the
router cannot map gets a list of what it can answer instead of a guess.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assistant.arguments import fill_arguments
from assistant.prompts import PROMPTS_DIR, render
from assistant.providers import ProviderInfo
from assistant.render import format_value
from assistant.routing import Vocabulary, correct_event_typos, looks_like_pasted_stats, normalize
from tools.context import ToolContext
from tools.errors import JourneyError
from tools.registry import ToolSpec, all_tools
from tools.result import ToolResult

if TYPE_CHECKING:
    from assistant.agent import TurnHooks, TurnResult

OFFLINE = ProviderInfo("offline", "", "")

# Below this score the router says it cannot map the question instead of guessing.
MIN_SCORE = 0.22
# Added to the funnel's score when a question asks for conversion split by a column of the data.
CONVERSION_BY_COLUMN = 0.5
# Added to attribution's score when a question names two or more channels (a channel comparison).
CHANNEL_COMPARISON = 0.4

# Added to the pasted-funnel tool's score when stats were pasted earlier in the session (follow-up questions).
PASTED_FOLLOW_UP = 0.3

# Keyword rules per known tool name: (pattern, weight). Only rules of registered tools are used.
KEYWORDS: dict[str, tuple[tuple[str, float], ...]] = {
    "inspect": (
        (r"\bwhat data\b|\bdata (do we have|set|quality|cover)|\b(date|time) range\b", 0.5),
        (r"\bhow many (customers|events|users|people|rows) (are|do we have|in|exist|are there|total)\b", 0.45),
        (r"\bwhich (events|channels|columns)\b.*\b(exist|are there|available|tracked|do we (have|track))", 0.5),
        (r"\b(overview|describe|summary) of (the|our) data\b|\bwhat('s| is) in the data\b|\bmissing values\b", 0.5),
        (r"\bevent names\b|\bexcluded rows?\b|\bdata quality\b|\bperiod\b.*\bcover", 0.4),
    ),
    "funnel": (
        (r"\bfunnel\b|\bconversion rates?\b|\bdrop[- ]?offs?\b|\bdrop off\b|\bleak", 0.35),
        (r"\bwhere do we lose\b|\blose (the most )?(people|customers|users)\b|\bweakest (step|stage)\b", 0.3),
        (r"\bbottleneck\b|\bfriction\b|\bbiggest drop\b|\bstep[- ]by[- ]step\b|\bstage to stage\b", 0.3),
        (
            r"\b(what share|how many|what (percent|percentage"
            r"|fraction))\b.*\b(reach|get to|make it|go|continue|convert)",
            0.35,
        ),
        (r"\bconvert(s|ed)? from\b|\bfrom \w+ to \w+\b", 0.25),
        (
            r"\b(how many|number of)\b(?! (days|hours|weeks|minutes|steps|times|complaints|comments))[^?.!]*"
            r"\b(sign(ed|s)? ?up|signups|purchas(ed|es)|bought|buyers|conver(ted|sions)|orders|sales|booked|demos)\b",
            0.45,
        ),
    ),
    "friction": (
        (
            r"\bwhere do we lose\b|\blos(e|es|ing|t) (the most )?(people|customers|users)\b"
            r"|\bweakest (step|stage|transition)\b",
            0.6,
        ),
        (r"\bbottleneck\b|\bfriction\b|\bbiggest drop\b|\bworst drop|\bleak(s|ing|iest)?\b", 0.6),
        (r"\bwhat would (improving|fixing)\b|\bworth (improving|fixing)\b", 0.4),
        # "What should we do?" without pasted numbers: the data's biggest friction is where to start.
        (
            r"\bwhat (should|can|could) we (do|fix|change|work on|prioriti[sz]e)\b|\bquick wins?\b"
            r"|\bhow (can|do|could|should) we (improve|increase|boost|raise) (our )?conversions?\b"
            r"|\bwhere should we (start|focus)\b|\bwhat to (fix|improve) first\b",
            0.6,
        ),
    ),
    "time_to_convert": (
        (
            r"\bhow long\b|\btime to (convert|purchase|buy)\b"
            r"|\bhow many days\b|\bmedian time\b|\bhow (fast|quickly)\b",
            0.6,
        ),
        (
            r"\b(typical|average) time\b|\btime (between|from|it takes)\b"
            r"|\btakes? \w+ (to|before) (convert|buy|purchase)",
            0.4,
        ),
    ),
    "paths": (
        (r"\bpaths?\b|\bnext steps?\b|\bflows?\b|\bjourneys? (look like|before|after)\b|\broutes?\b", 0.4),
        (r"\bwhat do (people|customers|users|they|visitors) do (after|before|next|right after)\b", 0.5),
        (r"\bwhat (happens|comes) (after|before|next)\b|\bwhere do (people|customers|users|they|visitors) go\b", 0.5),
        (
            r"\b(leads?|leading) (up )?to\b|\bprecede|\bpreceding\b"
            r"|\bgo next\b|\bjourneys (people|customers) take\b",
            0.5,
        ),
    ),
    "patterns": (
        (r"\bpatterns?\b|\bsubsequences?\b|\bfrequent (sequences|behaviou?rs)\b|\bcommon sequences?\b", 0.5),
        (r"\b(sequences?|behaviou?rs?)\b.*\b(distinguish|separate|set apart|predict)", 0.5),
        (r"\b(converters?|buyers|purchasers) (do|have) in common\b|\bnon[- ]converters\b", 0.45),
    ),
    "attribution": (
        (r"\battribut|\bcredit\b|\bmarkov\b|\bshapley\b|\bremoval effect", 0.5),
        (r"\b(first|last)[- ](touch|click)\b|\btime[- ]decay\b|\bposition[- ]based\b|\bu[- ]shaped\b", 0.5),
        (
            r"\bwhich channels? (drive|drives|deserve|get|contribute|are responsible)\b"
            r"|\bchannel (contribution|share)\b",
            0.3,
        ),
        (r"\bshare of (conversions|purchases|revenue)\b|\bcontribut", 0.3),
    ),
    "impact": (
        (r"\bcausal|\bcause[sd]?\b|\bincremental|\buplift\b|\btreatment effect\b|\bde-?confound", 0.6),
        (
            r"\breally (drive|drives|work|works|help|helps|matter|cause|increase)\b"
            r"|\bactually (drive|work|help|matter)",
            0.6,
        ),
        (r"\bdoes (\w+ )?(email|retargeting|\w+ channel|\w+ campaign) (work|help|matter|do anything)\b", 0.45),
        (
            r"\bwhat if we (cut|stopped|turned off|dropped)\b"
            r"|\bwaste of money\b|\bworth (it|the money)\b|\beffect of\b",
            0.4,
        ),
    ),
    "segments": (
        (r"\bsegments?\b|\bclusters?\b|\bpersonas?\b|\bcohorts? of behaviou?r", 0.55),
        (r"\b(groups|types|kinds) of (customers|users|people|buyers|visitors)\b|\bbehaviou?ral groups\b", 0.5),
    ),
    "anomalies": (
        (r"\banomal|\bunusual\b|\bspikes?\b|\boutliers?\b|\bweird\b|\bstrange\b|\bodd day\b", 0.6),
        (r"\bwhat happened on\b|\bsudden(ly)?\b|\bcollaps|\bdips?\b|\bplummet|\bsurge\b|\bout of the ordinary\b", 0.5),
        (r"\bwent wrong\b|\bany (days?|dates?) (stand out|look off)\b|\bbroke\b", 0.4),
    ),
    "feedback_summary": (
        (r"\bfeedback\b|\bcomplain|\bsentiment\b|\bunhappy\b|\bfrustrat|\bnegative\b|\breviews?\b|\bratings?\b", 0.4),
        (r"\b(main|top|common|recurring) (themes|topics|complaints|issues|problems)\b|\bsummar", 0.3),
        (r"\b(by|per|at each|for each|across|which) (stage|channel)", 0.25),
    ),
    "feedback_search": (
        (
            r"\b(search|find|look up|show( me)?|quote|pull up)\b.*\b(feedback"
            r"|comments?|complaints|reviews|quotes|mentions?)",
            0.4,
        ),
        (r"\b(mention|mentions|mentioning|talk about|talking about|say(ing)? about|complain\w* about)\b", 0.45),
        (r"\bexamples? of\b|\bverbatims?\b|\bquotes?\b", 0.35),
    ),
    "analyze_pasted_funnel": (
        (r"\b(pasted|these|my|our) (funnel )?(stats|numbers|figures|stages)\b|\bhere (are|is) (our|my) funnel\b", 0.5),
    ),
}


@dataclass(frozen=True)
class Route:
    """The router's decision: a tool, its arguments, the score and why."""

    tool: str
    arguments: dict[str, Any]
    score: float
    reason: str


class Router:
    """Maps questions to tools and arguments, from the registered specs and the data's vocabulary."""

    def __init__(self, specs: Mapping[str, ToolSpec], vocabulary: Vocabulary) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.specs = dict(specs)
        self.vocabulary = vocabulary
        self.names: list[str] = []
        docs: list[str] = []
        for spec in self.specs.values():
            texts = [*spec.examples, spec.name.replace("_", " ")]
            texts += [s for s in re.split(r"(?<=[.;:])\s+", spec.description) if len(s) > 12]
            for text in texts:
                self.names.append(spec.name)
                docs.append(normalize(text))
        self.rules = {
            name: tuple((re.compile(pattern, re.IGNORECASE), weight) for pattern, weight in KEYWORDS.get(name, ()))
            for name in self.specs
        }
        self._words = self._chars = None
        if docs:
            self._words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, stop_words="english").fit(docs)
            self._chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True).fit(docs)
            self._word_docs = self._words.transform(docs)
            self._char_docs = self._chars.transform(docs)

    def rank(self, question: str) -> list[tuple[str, float]]:
        """Every tool with its score, best first (ties keep catalogue order)."""
        scores = dict.fromkeys(self.specs, 0.0)
        if self._words is not None and self._chars is not None:
            text = normalize(question)
            word_sim = (self._word_docs @ self._words.transform([text]).T).toarray().ravel()
            char_sim = (self._char_docs @ self._chars.transform([text]).T).toarray().ravel()
            for name, w, c in zip(self.names, word_sim, char_sim, strict=True):
                scores[name] = max(scores[name], 0.5 * float(w) + 0.5 * float(c))
        for name, rules in self.rules.items():
            boost = sum(weight for pattern, weight in rules if pattern.search(question))
            scores[name] += min(boost, 0.9)
        if "funnel" in scores and self._conversion_by_column(question):
            scores["funnel"] += CONVERSION_BY_COLUMN
        if "attribution" in scores and self._compares_channels(question):
            scores["attribution"] += CHANNEL_COMPARISON
        return sorted(scores.items(), key=lambda item: -item[1])

    def _conversion_by_column(self, question: str) -> bool:
        """Conversion split by a column of the data ("conversion by device", "which channel converts best?")."""
        columns = "|".join(re.escape(normalize(c)) for c in self.vocabulary.columns if c)
        if not columns:
            return False
        text = normalize(question)
        by = rf"\b(?:by|per|across|for each|in each|split by|broken down by) (?:the )?(?:entry )?(?:{columns})s?\b"
        which = rf"\bwhich (?:{columns})s?\b"
        return bool(
            re.search(rf"\bconver\w*\b.*{by}|{by}.*\bconver\w*", text)
            or re.search(rf"{which}.*\bconver(?:ts?|sion)\b", text)
        )

    def _compares_channels(self, question: str) -> bool:
        """Two or more channels named, not about feedback ("compare email and paid search")."""
        from assistant.routing import find_mentions

        if re.search(r"\b(feedback|complain\w*|comments?|reviews?|say|said|sentiment)\b", question, re.IGNORECASE):
            return False
        return len({m.name for m in find_mentions(question, self.vocabulary, "channels")}) >= 2

    def route(self, question: str, pasted_text: str | None = None) -> Route | None:
        """The best tool and its arguments, or ``None`` when nothing fits well enough.

        The pasted-funnel tool needs pasted stats: it gets a question that is stats, or a follow-up question
        ("what are the quick wins?") when ``pasted_text`` holds stats pasted earlier in the session; otherwise
        it is never chosen, so a question about what to do goes to the data's tools.
        """
        pasted = next((name for name in self.specs if "pasted" in name), None)
        if pasted and looks_like_pasted_stats(question):
            spec = self.specs[pasted]
            return Route(pasted, fill_arguments(spec, question, self.vocabulary), 1.0, "pasted funnel stats")
        ranked = self.rank(question)
        if pasted and pasted_text:
            ranked = sorted(
                ((name, score + PASTED_FOLLOW_UP if name == pasted else score) for name, score in ranked),
                key=lambda item: -item[1],
            )
        if pasted and ranked and ranked[0][0] == pasted and ranked[0][1] >= MIN_SCORE and pasted_text:
            arguments = fill_arguments(self.specs[pasted], question, self.vocabulary)
            text_fields = [k for k, v in arguments.items() if v == question]
            arguments.update(dict.fromkeys(text_fields, pasted_text))
            return Route(pasted, arguments, ranked[0][1], "follow-up on the funnel stats pasted earlier")
        ranked = [item for item in ranked if item[0] != pasted]
        if not ranked or ranked[0][1] < MIN_SCORE:
            return None
        name, score = ranked[0]
        return Route(name, fill_arguments(self.specs[name], question, self.vocabulary), score, "best match")


def _cell(key: str, value: Any) -> str:
    return format_value(key, value).replace("|", "\\|").replace("\n", " ")


def _columns(rows: list[dict[str, Any]], limit: int) -> tuple[list[str], int]:
    """The columns worth showing: the first, then short non-empty ones, at most ``limit`` (and how many hidden)."""
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    shown = [
        c
        for i, c in enumerate(columns)
        if i == 0
        or (any(row.get(c) is not None for row in rows) and all(len(_cell(c, row.get(c))) <= 40 for row in rows))
    ][:limit]
    return shown, len(columns) - len(shown)


def markdown_table(rows: list[dict[str, Any]], max_rows: int, max_columns: int = 7) -> str:
    """A Markdown table of the first ``max_rows`` rows and the most readable columns, cells formatted for people."""
    columns, hidden = _columns(rows[:max_rows], max_columns)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(c, row.get(c)) for c in columns) + " |" for row in rows[:max_rows]]
    more = []
    if len(rows) > max_rows:
        more.append(f"{len(rows) - max_rows} more rows")
    if hidden:
        more.append(f"{hidden} more columns")
    if more:
        lines.append(f"\n({' and '.join(more)} in the full result: the matching `journey` command, `--format csv`)")
    return "\n".join(lines)


def render_answer(result: ToolResult, route: Route, max_rows: int = 10) -> str:
    """The offline answer for one tool result (per-tool template when there is one)."""
    tables = result.tables()
    context = {
        "tool": result.tool,
        "question_reason": route.reason,
        "arguments": [(k, format_value(k, v)) for k, v in route.arguments.items()],
        "scalars": [(k, format_value(k, v)) for k, v in result.scalars().items()],
        "tables": [(name, markdown_table(rows, max_rows)) for name, rows in tables.items()],
        "mappings": [
            (name, [(k, format_value(k, v)) for k, v in value.items()])
            for name, value in result.result.items()
            if isinstance(value, dict) and value
        ],
        "notes": result.notes,
        # Short settings only (steps, window, model...); the long semantic rules are in --format json.
        "definition": [
            (k, text)
            for k, v in result.definition.items()
            if not isinstance(v, dict) and v is not None and len(text := format_value(k, v)) <= 40
        ],
        "result": result.result,
    }
    specific = f"offline/{result.tool}.md.j2"
    return render(specific if (PROMPTS_DIR / specific).is_file() else "offline_answer.md.j2", **context).strip() + "\n"


def _with_notes(answer: str, notes: list[str]) -> str:
    """The answer with notes about how the question was read, right under its first line."""
    if not notes:
        return answer
    head, _, rest = answer.partition("\n")
    lines = "\n".join(f"_Note: {note}._" for note in notes)
    return f"{head}\n\n{lines}\n{rest}"


def _summary(description: str, width: int = 90) -> str:
    """The gist of a tool description: its first clause, at most ``width`` characters."""
    gist = re.split(r"\. |: | \(|; ", description, maxsplit=1)[0].rstrip(".")
    return gist if len(gist) <= width else gist[: width - 1].rsplit(" ", 1)[0] + "…"


class OfflineAssistant:
    """The no-LLM assistant: one tool per question, chosen by the router, answered by a template."""

    def __init__(
        self,
        context: ToolContext,
        specs: Mapping[str, ToolSpec] | None = None,
        result_rows: int = 10,
        vocabulary: Vocabulary | None = None,
    ) -> None:
        self.context = context
        self.provider = OFFLINE
        self.specs: Mapping[str, ToolSpec] = dict(specs if specs is not None else all_tools())
        self.result_rows = result_rows
        self._vocabulary = vocabulary
        self._router: Router | None = None
        # The last funnel stats pasted in this session, for follow-up questions about them.
        self.pasted_text: str | None = None

    @property
    def router(self) -> Router:
        """The router over this session's tools and data vocabulary (built on first use: it reads the data)."""
        if self._router is None:
            vocabulary = self._vocabulary or Vocabulary.from_context(self.context)
            self._router = Router(self.specs, vocabulary)
        return self._router

    def reset(self) -> None:
        """Forget the pasted stats; otherwise each offline question stands alone."""
        self.pasted_text = None

    def capabilities(self) -> str:
        """What the offline mode can answer: each tool with two example questions."""
        tools = [(s.name, list(s.examples[:2]), _summary(s.description)) for s in self.specs.values()]
        return render("offline/unmapped.md.j2", tools=tools).strip() + "\n"

    def ask(self, question: str, hooks: TurnHooks | None = None) -> TurnResult:
        """Route, run and render; a question that cannot be mapped gets the list of what can be answered.

        Raises:
            JourneyError: the tool could not run for a reason other than its arguments (e.g. no data loaded).
        """
        from assistant.agent import ToolCallRecord, finish_turn, run_spec
        from assistant.agent import TurnHooks as Hooks

        hooks = hooks or Hooks()
        label = "offline mode (no LLM)"
        typos: list[str] = []
        if looks_like_pasted_stats(question):
            self.pasted_text = question
            route = self.router.route(question)
        else:
            # "funnel from visit to purchse": read the close event name and say so, rather than ignore the word.
            corrected, typos = correct_event_typos(question, self.router.vocabulary)
            route = self.router.route(corrected, self.pasted_text)
        if route is None:
            notes = [f"{label}: no tool matched the question"]
            return finish_turn(question, self.capabilities(), OFFLINE, [], [], notes, verify=False)
        if hooks.on_tool_start:
            hooks.on_tool_start(route.tool, route.arguments)
        started = time.perf_counter()
        try:
            result = run_spec(self.specs[route.tool], route.arguments, self.context)
        except JourneyError as exc:
            from tools.errors import ArgumentError

            if not isinstance(exc, ArgumentError):
                raise
            record = ToolCallRecord(route.tool, route.arguments, time.perf_counter() - started, str(exc))
            if hooks.on_tool_end:
                hooks.on_tool_end(record)
            answer = (
                f"**{label}: answered by tool `{route.tool}`**\n\nThe tool could not answer with the arguments read "
                f"from your question: {exc}\n\nRephrase the question with those names, or run "
                f"`journey {route.tool.replace('_', '-')} --help`."
            )
            answer = _with_notes(answer, typos)
            return finish_turn(question, answer, OFFLINE, [record], [], [f"{label}: answered by tool {route.tool}"])
        record = ToolCallRecord(route.tool, route.arguments, time.perf_counter() - started)
        if hooks.on_tool_end:
            hooks.on_tool_end(record)
        answer = _with_notes(render_answer(result, route, self.result_rows), typos)
        # The arguments were read from the question ("in February" -> until=2024-02-29): not claims to verify.
        asked = " ".join([question, *(format_value(k, v) for k, v in route.arguments.items())])
        return finish_turn(asked, answer, OFFLINE, [record], [result], [f"{label}: answered by tool {route.tool}"])
