"""Sentiment of feedback texts: VADER extended for customer-experience language, with an optional LLM scorer.

Plain VADER reads customer feedback badly: ``support``, ``help`` and ``free`` are topic words in a ticket but
score positive, and ``rip-off``, ``hidden fees``, ``slow`` or ``refund`` are missing. The extension here:

1. multi-word phrases (``hidden fees``, ``let me down``, ``exceeded my expectations``, ``waste of time`` …) are
   rewritten to one synthetic token before VADER runs, so VADER's own negation (``not``, ``never``,
   ``didn't`` … within three words), boosters and ``but`` rule apply to them;
2. single words missing from VADER are added and misleading topic words are neutralised (``CX_WORDS``).

Scores are VADER's compound score in [-1, 1]; labels use VADER's thresholds (>= 0.05 positive, <= -0.05
negative, else neutral).

An LLM can score instead (``LLMSentiment``): it is given redacted, truncated texts in batches and returns one
score per text; callers cache the scores in the store's metadata and only aggregates are reported.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal, Protocol

from tools.redact import quote

Label = Literal["negative", "neutral", "positive"]
POSITIVE_THRESHOLD = 0.05
NEGATIVE_THRESHOLD = -0.05

# Phrase -> valence on VADER's -4..+4 scale. Matched case-insensitively on word boundaries, longest first.
CX_PHRASES: dict[str, float] = {
    # negative
    "hidden fees": -2.6,
    "hidden fee": -2.6,
    "hidden charges": -2.6,
    "hidden costs": -2.6,
    "rip-off": -2.8,
    "rip off": -2.8,
    "ripped off": -2.8,
    "bait and switch": -2.7,
    "let me down": -2.3,
    "let us down": -2.3,
    "lets me down": -2.3,
    "letting me down": -2.3,
    "no help": -2.2,
    "of no use": -2.0,
    "waste of time": -2.6,
    "waste of money": -2.8,
    "took forever": -2.2,
    "takes forever": -2.2,
    "taking forever": -2.2,
    "on hold": -1.5,
    "never heard back": -2.2,
    "never got back": -2.2,
    "never came": -1.8,
    "no response": -2.0,
    "no reply": -2.0,
    "no answer": -1.8,
    "still waiting": -2.0,
    "still no": -1.5,
    "kept crashing": -2.6,
    "keeps crashing": -2.6,
    "keeps failing": -2.2,
    "kept failing": -2.2,
    "doesn't work": -2.0,
    "does not work": -2.0,
    "didn't work": -2.0,
    "did not work": -2.0,
    "not working": -2.0,
    "stopped working": -2.2,
    "too expensive": -2.0,
    "too slow": -2.0,
    "too complicated": -1.8,
    "too much": -0.8,
    "charged twice": -2.4,
    "double charged": -2.4,
    "no-show": -2.0,
    "no show": -2.0,
    "nobody showed up": -2.4,
    "no one showed up": -2.4,
    "nobody called": -2.0,
    "no one called": -2.0,
    "last minute": -1.2,
    "money back": -1.4,
    "cancel my subscription": -1.6,
    "cancel my account": -1.6,
    "fell short": -1.8,
    "falls short": -1.8,
    "went downhill": -2.0,
    "in circles": -1.8,
    "never again": -2.6,
    "price hike": -1.6,
    "price went up": -1.6,
    "prices went up": -1.6,
    "without notice": -1.2,
    "not what was advertised": -2.2,
    "not as advertised": -2.2,
    "lost all my": -2.6,
    "lost my": -2.0,
    "error message": -1.3,
    "times out": -1.6,
    "is a joke": -2.2,
    "hard to": -1.2,
    "can't find": -1.2,
    "couldn't find": -1.2,
    "could not find": -1.2,
    # positive
    "exceeded my expectations": 2.8,
    "exceeded our expectations": 2.8,
    "exceeded expectations": 2.8,
    "exceeds expectations": 2.8,
    "exceed expectations": 2.8,
    "met our expectations": 1.6,
    "met my expectations": 1.6,
    "meet our expectations": 1.6,
    "meet my expectations": 1.6,
    "meet expectations": 1.6,
    "above and beyond": 2.8,
    "worth every penny": 3.0,
    "worth it": 1.8,
    "worth the money": 1.8,
    "value for money": 1.6,
    "game changer": 2.5,
    "game-changer": 2.5,
    "no issues": 1.8,
    "no problems": 1.8,
    "no complaints": 2.0,
    "nothing to complain about": 2.0,
    "without any issues": 1.8,
    "without issues": 1.8,
    "zero issues": 1.8,
    "works like a charm": 2.6,
    "like a charm": 2.4,
    "it just works": 2.0,
    "just works": 2.0,
    "saves me hours": 2.2,
    "saved me hours": 2.2,
    "saves us hours": 2.2,
    "saved us hours": 2.2,
    "saves time": 2.0,
    "up and running": 1.5,
    "user friendly": 2.0,
    "user-friendly": 2.0,
    "on time": 1.0,
    "sorted out": 1.8,
    "resolved my issue": 2.2,
    "fixed my issue": 2.2,
    "solved my problem": 2.2,
    "without a hiccup": 2.0,
    "without a hitch": 2.0,
    "no hiccups": 2.0,
    "a breeze": 2.2,
    "cleared up": 1.2,
    "pays for itself": 2.2,
    "paid for itself": 2.2,
    "exactly what we needed": 2.4,
    "exactly what i needed": 2.4,
    "exactly what we wanted": 2.4,
    "no surprises": 1.6,
    "logged out": -1.4,
    "log me out": -1.4,
    "kicked out": -1.6,
    "takes ages": -2.0,
    "took ages": -2.0,
    "for ages": -1.6,
    "did nothing": -1.6,
    "does nothing": -1.6,
    "half the time": -1.2,
    "out of sync": -1.6,
    "extra charge": -1.8,
    "extra charges": -1.8,
    "extra fees": -2.0,
    "additional fees": -1.8,
}

# Families of phrases, as regular expressions: (pattern, synthetic token, valence).
CX_PATTERNS: tuple[tuple[str, str, float], ...] = (
    (
        r"(?:no|not a single|not one|zero)\s+(?:reply|replies|response|responses|answer|answers|update|"
        r"updates|callback|call back|follow-up|follow up)",
        "cxnoreply",
        -2.0,
    ),
    (
        r"(?:nobody|no one|no-one)\s+(?:could|would|can|will|ever|even|bothered to)?\s*"
        r"(?:tell|told|help|helped|explain|explained|answer|answered|call|called|respond|responded|reply|replied)",
        "cxnobodyhelped",
        -1.9,
    ),
    (
        r"(?:can't|cannot|can not|couldn't|could not|unable to|still can't|won't|wouldn't)\s+"
        r"(?:connect|log in|login|sign in|access|open|load|export|import|upload|sync|save|pay|cancel|reach|"
        r"get through|install|update)",
        "cxcannotdo",
        -1.8,
    ),
    (
        r"(?:never|not|wasn't|weren't|were never|was never)\s+(?:mentioned|disclosed|explained|told)",
        "cxnotdisclosed",
        -1.6,
    ),
)

# Single words: additions (missing from VADER) and corrections (topic words VADER scores positive).
CX_WORDS: dict[str, float] = {
    "slow": -1.6,
    "slower": -1.6,
    "slowly": -1.0,
    "sluggish": -1.8,
    "laggy": -1.8,
    "lagging": -1.6,
    "crash": -2.2,
    "crashes": -2.2,
    "crashed": -2.2,
    "crashing": -2.2,
    "freeze": -1.8,
    "freezes": -1.8,
    "froze": -1.8,
    "buggy": -2.0,
    "bugs": -1.4,
    "bug": -1.2,
    "glitch": -1.5,
    "glitches": -1.5,
    "glitchy": -1.8,
    "unusable": -2.8,
    "unresponsive": -2.0,
    "unreachable": -1.8,
    "refund": -1.2,
    "refunds": -1.2,
    "refunded": 0.0,
    "overpriced": -2.4,
    "overcharged": -2.5,
    "pricey": -1.3,
    "expensive": -1.3,
    "steep": -1.0,
    "upselling": -1.5,
    "upsell": -1.3,
    "clunky": -1.8,
    "confusing": -1.6,
    "convoluted": -1.8,
    "cumbersome": -1.8,
    "tedious": -1.6,
    "outdated": -1.4,
    "unhelpful": -2.0,
    "dismissive": -2.0,
    "ignored": -1.8,
    "cancelled": -1.0,
    "canceled": -1.0,
    "rescheduled": -1.0,
    "delayed": -1.3,
    "late": -0.8,
    "unprepared": -1.6,
    "delays": -1.3,
    "waited": -0.8,
    "waiting": -0.8,
    "downtime": -1.8,
    "outage": -2.0,
    "fails": -1.6,
    "failing": -1.6,
    "failed": -1.6,
    "breaks": -1.4,
    "misleading": -2.0,
    "hesitate": -0.8,
    "intuitive": 1.9,
    "seamless": 2.2,
    "seamlessly": 2.2,
    "smooth": 1.6,
    "smoothly": 1.6,
    "effortless": 2.1,
    "painless": 1.8,
    "snappy": 1.6,
    "fast": 1.2,
    "quick": 1.0,
    "quickly": 1.0,
    "reliable": 1.7,
    "knowledgeable": 1.8,
    "patient": 1.4,
    "clearly": 0.8,
    "tailored": 1.2,
    "decent": 1.2,
    "instantly": 1.0,
    "surcharge": -1.6,
    "surcharges": -1.6,
    "fee": -0.5,
    "fees": -0.6,
    "irrelevant": -1.4,
    "canned": -1.0,
    "scripted": -1.0,
    "wiped": -1.8,
    "disappeared": -1.5,
    "blank": -0.8,
    "accurate": 1.4,
    "transparent": 1.4,
    # strong verdicts VADER lacks ("the demo booking was a nightmare", "the product is garbage")
    "nightmare": -2.7,
    "nightmares": -2.7,
    "nightmarish": -2.7,
    "garbage": -2.5,
    "trash": -2.3,
    "rubbish": -2.2,
    "junk": -2.0,
    "abysmal": -3.0,
    "atrocious": -3.0,
    "shambles": -2.3,
    "pointless": -1.8,
    "hassle": -1.6,
    "headache": -1.6,
    "unreliable": -1.9,
    "flaky": -1.6,
    "subpar": -1.6,
    "mediocre": -1.2,
    "sloppy": -1.6,
    "stellar": 2.6,
    # topic words in customer feedback: "support ticket", "free plan", "help center", "credit card"
    "support": 0.0,
    "supported": 0.0,
    "help": 0.0,
    "free": 0.0,
    "wow": 0.0,
    "please": 0.0,
    "credit": 0.0,
    "care": 0.6,
    "like": 0.0,
    "want": 0.0,
}


def _token(phrase: str) -> str:
    """A letters-only synthetic token for a phrase (VADER strips punctuation around words)."""
    return "cx" + re.sub(r"[^a-z]", "", phrase.lower())


@lru_cache(maxsize=1)
def _phrase_pattern() -> re.Pattern[str]:
    ordered = sorted(CX_PHRASES, key=len, reverse=True)
    alternatives = "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in ordered)
    return re.compile(rf"(?<![\w'])(?:{alternatives})(?![\w'])", re.IGNORECASE)


_NORMALISE = {"’": "'", "‘": "'", "–": "-", "—": "-"}


def rewrite_phrases(text: str) -> str:
    """Replace every known multi-word phrase with its synthetic single token."""
    for old, new in _NORMALISE.items():
        text = text.replace(old, new)
    for pattern, token in _family_patterns():
        text = pattern.sub(token, text)
    return _phrase_pattern().sub(lambda m: _token(" ".join(m.group(0).split())), text)


@lru_cache(maxsize=1)
def _family_patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    return tuple(
        (re.compile(rf"(?<![\w'])(?:{pattern})(?![\w'])", re.IGNORECASE), token) for pattern, token, _ in CX_PATTERNS
    )


class SentimentScorer(Protocol):
    """Anything that scores texts in [-1, 1]; ``name`` is recorded with the scores."""

    name: str

    def score(self, texts: Sequence[str]) -> list[float]:
        """One score per text, in order."""
        ...


@dataclass
class LexiconSentiment:
    """VADER, optionally with the customer-experience extension (``extended=False`` is plain VADER)."""

    extended: bool = True
    name: str = field(init=False)
    _analyzer: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self.name = "vader-cx" if self.extended else "vader"
        self._analyzer = SentimentIntensityAnalyzer()
        if self.extended:
            self._analyzer.lexicon.update(CX_WORDS)
            self._analyzer.lexicon.update({_token(p): v for p, v in CX_PHRASES.items()})
            self._analyzer.lexicon.update({token: v for _, token, v in CX_PATTERNS})

    def score_one(self, text: str) -> float:
        """The compound score of one text."""
        prepared = rewrite_phrases(text) if self.extended else text
        return float(self._analyzer.polarity_scores(prepared)["compound"])

    def score(self, texts: Sequence[str]) -> list[float]:
        """Compound scores in [-1, 1], one per text."""
        return [self.score_one(text) for text in texts]


def label(score: float) -> Label:
    """VADER's three classes from a compound score."""
    if score >= POSITIVE_THRESHOLD:
        return "positive"
    if score <= NEGATIVE_THRESHOLD:
        return "negative"
    return "neutral"


LLM_PROMPT = (
    "Rate the sentiment of each customer feedback text below from -1 (very negative) to 1 (very positive); "
    "0 is neutral. Judge the customer's experience, not the topic (a support ticket asking a question is "
    "neutral). Reply with only a JSON array of {n} numbers, in order.\n\n{items}"
)


def llm_prompt(texts: Sequence[str], quote_chars: int = 200) -> str:
    """The prompt for one batch; texts are redacted and truncated here, whatever the caller passed."""
    items = "\n".join(f"{i + 1}. {quote(text, quote_chars)}" for i, text in enumerate(texts))
    return LLM_PROMPT.format(n=len(texts), items=items)


def parse_scores(reply: str, expected: int) -> list[float]:
    """Numbers from the model's reply, clipped to [-1, 1].

    Raises:
        ValueError: the reply holds no JSON array of ``expected`` numbers.
    """
    match = re.search(r"\[[^\[\]]*\]", reply)
    if match is None:
        raise ValueError(f"the model's sentiment reply has no JSON array: {reply[:80]!r}")
    values = json.loads(match.group(0))
    if len(values) != expected or not all(isinstance(v, (int, float)) for v in values):
        raise ValueError(f"expected {expected} numbers in the model's sentiment reply, got {values!r:.80}")
    return [max(-1.0, min(1.0, float(v))) for v in values]


@dataclass
class LLMSentiment:
    """Sentiment from a chat model, batched; the application supplies ``complete`` (prompt -> reply text).

    Only redacted, truncated texts reach ``complete``. A batch whose reply cannot be parsed falls back to the
    lexicon scores for that batch (``fallbacks`` counts them) so one bad reply does not lose the run.

    Attributes:
        complete: sends one prompt to the configured model and returns its text reply.
        model: the model name, recorded with the scores (``name`` becomes ``llm:<model>``).
        batch_size: texts per request.
        quote_chars: each text is cut to this many characters (``[privacy] quote_chars``).
    """

    complete: Callable[[str], str]
    model: str = "llm"
    batch_size: int = 20
    quote_chars: int = 200
    fallbacks: int = 0
    name: str = field(init=False)

    def __post_init__(self) -> None:
        self.name = f"llm:{self.model}"

    def score(self, texts: Sequence[str]) -> list[float]:
        """One score per text, asking the model ``ceil(len(texts) / batch_size)`` times."""
        out: list[float] = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            try:
                out.extend(parse_scores(self.complete(llm_prompt(batch, self.quote_chars)), len(batch)))
            except ValueError:
                self.fallbacks += 1
                out.extend(default_scorer().score(batch))
        return out


@lru_cache(maxsize=1)
def default_scorer() -> LexiconSentiment:
    """The shared extended-VADER scorer (building it loads VADER's lexicon once)."""
    return LexiconSentiment(extended=True)
