"""Sentiment: the customer-experience extension of VADER, its accuracy on labelled sets, the LLM hook."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tools.sentiment import LexiconSentiment, LLMSentiment, label, llm_prompt, parse_scores, rewrite_phrases

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def extended() -> LexiconSentiment:
    return LexiconSentiment(extended=True)


@pytest.fixture(scope="module")
def plain() -> LexiconSentiment:
    return LexiconSentiment(extended=False)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("What a rip-off.", "negative"),
        ("Hidden fees at checkout.", "negative"),
        ("The onboarding really let me down.", "negative"),
        ("Support was no help.", "negative"),
        ("I want a refund.", "negative"),
        ("The app is slow.", "negative"),
        ("It crashed again.", "negative"),
        ("Overpriced.", "negative"),
        ("A waste of time.", "negative"),
        ("The demo exceeded my expectations.", "positive"),
        ("It works like a charm.", "positive"),
        ("I contacted support about my invoice.", "neutral"),
        ("We are on the free plan.", "neutral"),
    ],
)
def test_customer_experience_phrases(extended: LexiconSentiment, text: str, expected: str) -> None:
    assert label(extended.score_one(text)) == expected


def test_negation_applies_to_phrases(extended: LexiconSentiment) -> None:
    assert extended.score_one("The demo exceeded my expectations.") > 0.3
    assert extended.score_one("The demo did not exceed expectations.") < -0.05
    assert extended.score_one("The app is not slow at all.") > 0.05


def test_phrases_become_single_tokens() -> None:
    assert rewrite_phrases("Total RIP-OFF with hidden  fees") == "Total cxripoff with cxhiddenfees"
    assert rewrite_phrases("nobody could tell me") == "cxnobodyhelped me"


def test_plain_vader_misreads_topic_words(plain: LexiconSentiment, extended: LexiconSentiment) -> None:
    text = "I contacted support for help with the free plan."
    assert label(plain.score_one(text)) == "positive"
    assert label(extended.score_one(text)) == "neutral"


@pytest.mark.parametrize(
    ("name", "minimum_gain"),
    [("sentiment_cx.csv", 0.3), ("sentiment_cx_holdout.csv", 0.3), ("sentiment_cx_holdout2.csv", 0.0)],
)
def test_extension_beats_plain_vader_on_labelled_sets(
    plain: LexiconSentiment, extended: LexiconSentiment, name: str, minimum_gain: float
) -> None:
    frame = pd.read_csv(DATA / name)
    assert set(frame["label"]) == {"negative", "neutral", "positive"}

    def accuracy(scorer: LexiconSentiment) -> float:
        return float((pd.Series([label(s) for s in scorer.score(frame["text"].tolist())]) == frame["label"]).mean())

    assert accuracy(extended) >= accuracy(plain) + minimum_gain


def test_labelled_sets_are_not_the_demo_templates() -> None:
    from tools import demo_feedback

    templates = {
        t.split("{")[0].strip().lower()
        for topic in demo_feedback.TEMPLATES.values()
        for pool in topic.values()
        for t in pool
    }
    for name in ("sentiment_cx.csv", "sentiment_cx_holdout.csv", "sentiment_cx_holdout2.csv"):
        texts = {t.lower() for t in pd.read_csv(DATA / name)["text"]}
        assert not any(t.startswith(p) for t in texts for p in templates if len(p) > 25)


def test_llm_scorer_batches_redacts_and_falls_back() -> None:
    prompts: list[str] = []

    def complete(prompt: str) -> str:
        prompts.append(prompt)
        n = prompt.count("\n") - 1  # one line per text after the instructions and a blank line
        return "garbage" if len(prompts) == 2 else "[" + ", ".join(["-0.5"] * n) + "]"

    scorer = LLMSentiment(complete, model="fake", batch_size=2, quote_chars=40)
    texts = ["mail me at jane@example.com", "slow app", "a rip-off", "love it", "fine"]
    scores = scorer.score(texts)
    assert len(prompts) == 3 and len(scores) == 5
    assert scores[:2] == [-0.5, -0.5] and scores[4] == -0.5
    assert scorer.fallbacks == 1 and scores[2] < 0 and scores[3] > 0  # lexicon scores for the bad batch
    assert "jane@example.com" not in prompts[0] and "[EMAIL]" in prompts[0]
    assert scorer.name == "llm:fake"


def test_parse_scores() -> None:
    assert parse_scores("Sure: [0.5, -2, 1]", 3) == [0.5, -1.0, 1.0]
    with pytest.raises(ValueError):
        parse_scores("[0.5]", 2)
    last_line = llm_prompt(["x" * 500], quote_chars=30).splitlines()[-1]
    assert last_line.startswith("1. x") and len(last_line) <= len("1. ") + 30


@pytest.mark.parametrize(
    "text",
    ["The demo booking was a nightmare.", "The product is garbage.", "Onboarding was an absolute shambles."],
)
def test_strong_verdict_words_are_negative(extended: LexiconSentiment, plain: LexiconSentiment, text: str) -> None:
    assert label(plain.score_one(text)) == "neutral"  # missing from VADER's own lexicon
    assert extended.score_one(text) < -0.3
    assert extended.score_one(text.replace(" was ", " was not ").replace(" is ", " is not ")) > 0.05
