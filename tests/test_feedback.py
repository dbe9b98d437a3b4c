"""Feedback store and tools on hand-made data: loading, stage inference, idempotent and resumable indexing,
persistence across processes, model mixing, search filters, summaries, Wilson intervals, registry."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tools.context import ToolContext
from tools.errors import ArgumentError, DataError, StoreError
from tools.feedback import (
    SPECS,
    FeedbackSource,
    index_feedback,
    search_feedback,
    summarize_feedback,
    wilson_interval,
)
from tools.feedback_load import load_feedback, record_id
from tools.feedback_store import forget_open_stores, open_store

TOPICS = {
    "demo": [
        "Nobody showed up to the demo we booked.",
        "The demo was cancelled at the last minute, no help at all.",
        "Our demo got rescheduled twice and nobody told us why.",
        "The demo started late and the host was unprepared.",
    ],
    "pricing": [
        "Hidden fees at checkout, what a rip-off.",
        "The price went up without notice.",
        "Pricing is clear and fair.",
        "Too expensive for a small team.",
    ],
    "support": [
        "Support answered within minutes, great help.",
        "Support closed my ticket without fixing anything.",
        "The support agent was friendly and solved my problem.",
        "Waited a week for support to reply.",
    ],
}
STAGE_OF = {"demo": "demo", "pricing": "pricing", "support": "signup"}


def feedback_frame(copies: int = 3) -> pd.DataFrame:
    rows = []
    n = 0
    for copy in range(copies):
        for topic, texts in TOPICS.items():
            for text in texts:
                n += 1
                rows.append(
                    {
                        "feedback_id": f"f{n:04d}",
                        "customer_id": f"c{n % 7}",
                        "timestamp": f"2024-01-{1 + n % 27:02d}T10:00:00Z",
                        "text": text if copy == 0 else f"{text} ({copy})",
                        "stage": STAGE_OF[topic],
                        "channel": "email" if n % 2 else "social",
                        "rating": 1 + n % 5,
                    }
                )
    rows[0]["text"] += " Reach me at jane.doe@example.com or +1 212 555 0100."
    return pd.DataFrame(rows)


@pytest.fixture
def source(tmp_path: Path) -> FeedbackSource:
    forget_open_stores()
    return FeedbackSource(store=tmp_path / "store", embedding="hashing", quote_chars=80)


@pytest.fixture
def feedback_csv(tmp_path: Path) -> Path:
    path = tmp_path / "feedback.csv"
    feedback_frame().to_csv(path, index=False)
    return path


def test_load_maps_columns_and_parses_times(tmp_path: Path) -> None:
    frame = feedback_frame(1).rename(columns={"text": "comment", "customer_id": "user"}).drop(columns="feedback_id")
    frame.loc[0, "timestamp"] = "2024-01-05 12:00:00"  # naive: local time in the given zone
    frame.loc[1, "comment"] = "   "
    path = tmp_path / "fb.parquet"
    frame.to_parquet(path)
    loaded = load_feedback(path, {"text": "comment", "customer_id": "user"}, timezone="Europe/Berlin")
    assert loaded.counts["excluded_empty_text"] == 1 and len(loaded.frame) == len(frame) - 1
    first = loaded.frame.iloc[0]
    assert first["timestamp"] == pd.Timestamp("2024-01-05 11:00:00")  # 12:00 Berlin = 11:00 UTC
    assert first["id"] == record_id(first["customer_id"], first["timestamp"], first["text"])
    assert any("feedback_id" in note for note in loaded.notes)
    with pytest.raises(DataError, match="--map text=COLUMN"):
        load_feedback(path, {"customer_id": "user"})
    with pytest.raises(DataError, match="unknown feedback field"):
        load_feedback(path, {"body": "comment"})


def test_missing_stage_is_inferred_from_events(tmp_path: Path) -> None:
    from tools.dataset import from_records

    events = from_records(
        {
            "customer_id": ["a", "a", "a", "b", "b"],
            "timestamp": [
                "2024-01-01 10:00",
                "2024-01-02 10:00",
                "2024-01-05 10:00",
                "2024-01-01 09:00",
                "2024-01-03 09:00",
            ],
            "event": ["visit", "signup", "demo", "visit", "page_view"],
        }
    )
    feedback = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "c"],
            "timestamp": ["2024-01-03 00:00", "2024-01-06 00:00", "2024-01-04 00:00", "2024-01-04 00:00"],
            "text": ["signed up, now what", "demo was late", "just looking", "who am I"],
        }
    )
    path = tmp_path / "fb.csv"
    feedback.to_csv(path, index=False)
    loaded = load_feedback(path, dataset=events, stages=("visit", "signup", "demo", "purchase"))
    assert loaded.frame["stage"].tolist() == ["signup", "demo", "visit", "unknown"]
    assert loaded.frame["stage_source"].tolist() == ["inferred", "inferred", "inferred", "unknown"]
    assert loaded.counts["stage_inferred"] == 3 and loaded.counts["stage_unknown"] == 1


def test_index_is_idempotent_and_redacts(source: FeedbackSource, feedback_csv: Path) -> None:
    first = index_feedback(source, str(feedback_csv), batch_size=10)
    assert first.result["indexed"] == 36 and first.result["collection_size"] == 36
    assert first.result["pii_replacements"] == {"[EMAIL]": 1, "[PHONE]": 1}
    again = index_feedback(source, str(feedback_csv), batch_size=10)
    assert again.result["indexed"] == 0 and again.result["skipped_already_stored"] == 36
    assert again.result["collection_size"] == 36
    stored = {r["id"]: r for r in open_store(source).iter_records()}
    assert "jane.doe" not in stored["f0001"]["document"] and "[EMAIL]" in stored["f0001"]["document"]
    meta = stored["f0001"]["metadata"]
    assert meta["stage"] == "demo" and meta["time"] == "2024-01-02T10:00:00Z" and meta["week"] == "2024-W01"
    assert meta["ts"] == 1704189600 and meta["sentiment_label"] == "negative" and meta["rating"] == 2.0


def test_index_resumes_after_interruption(source: FeedbackSource, feedback_csv: Path) -> None:
    class Interrupted(RuntimeError):
        pass

    def stop_after_first_batch(done: int, total: int) -> None:
        if done >= 10:
            raise Interrupted

    with pytest.raises(Interrupted):
        index_feedback(source, str(feedback_csv), batch_size=10, progress=stop_after_first_batch)
    assert open_store(source).count() == 10
    resumed = index_feedback(source, str(feedback_csv), batch_size=10)
    assert resumed.result["skipped_already_stored"] == 10 and resumed.result["indexed"] == 26
    assert resumed.result["collection_size"] == 36


def test_store_persists_across_processes(source: FeedbackSource, feedback_csv: Path) -> None:
    index_feedback(source, str(feedback_csv))
    code = (
        "import json, sys; from tools.feedback import FeedbackSource, search_feedback; "
        f"s = FeedbackSource(store={str(source.store)!r}, embedding='hashing'); "
        "r = search_feedback(s, 'nobody showed up to the demo', top=2, stage='demo'); "
        "print(json.dumps([m['stage'] for m in r.result['matches']]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == ["demo", "demo"]


def test_refuses_to_mix_embedding_models(source: FeedbackSource, feedback_csv: Path) -> None:
    index_feedback(source, str(feedback_csv))
    forget_open_stores()
    other = FeedbackSource(store=source.store, embedding="wordllama")
    with pytest.raises(StoreError, match=r"holds vectors of 'hashing-256', not 'wordllama-l2_supercat-256'"):
        open_store(other)


def test_bad_collection_name_and_empty_store(source: FeedbackSource) -> None:
    with pytest.raises(StoreError, match="invalid collection name"):
        open_store(FeedbackSource(store=source.store, collection="x", embedding="hashing"))
    with pytest.raises(StoreError, match="journey feedback index"):
        search_feedback(source, "anything")
    missing = Path(str(source.store)) / "typo"
    with pytest.raises(StoreError, match="is empty"):
        summarize_feedback(FeedbackSource(store=missing, embedding="hashing"))
    assert not missing.exists()  # reading never creates a store


def test_search_filters(source: FeedbackSource, feedback_csv: Path) -> None:
    index_feedback(source, str(feedback_csv))
    result = search_feedback(source, "support answered quickly", top=4, stage="signup", sentiment="pos")
    matches = result.result["matches"]
    assert matches and all(m["stage"] == "signup" and m["sentiment"] >= 0.05 for m in matches)
    assert matches == sorted(matches, key=lambda m: m["distance"])
    assert set(matches[0]) >= {"text", "stage", "sentiment", "distance"}
    assert result.definition["filters"] == {"stage": "signup", "sentiment": "positive", "channel": None}
    email = search_feedback(source, "hidden fees", channel="email", top=50).result["matches"]
    assert email and all(m["channel"] == "email" for m in email)
    with pytest.raises(ArgumentError, match="negative, neutral, positive"):
        search_feedback(source, "x", sentiment="angry")
    with pytest.raises(ArgumentError, match="empty"):
        search_feedback(source, "  ")
    redacted = search_feedback(source, "mail jane.doe@example.com", top=1)
    assert redacted.definition["query"] == "mail [EMAIL]"


def test_summary_by_stage_channel_week(source: FeedbackSource, feedback_csv: Path) -> None:
    index_feedback(source, str(feedback_csv))
    summary = summarize_feedback(source, by="stage", themes=False)
    rows = summary.result["by_stage"]
    assert [r["stage"] for r in rows] == ["signup", "pricing", "demo"]  # configured stage order
    assert sum(r["count"] for r in rows) == summary.result["count"] == 36
    demo = next(r for r in rows if r["stage"] == "demo")
    assert demo["negative_share"] == 1.0 and summary.result["most_negative_stage"] == "demo"
    assert demo["ci_low"] < 1.0 and demo["ci_high"] == 1.0
    for row in rows:
        assert row["ci_low"] <= row["negative_share"] <= row["ci_high"]
    by_channel = summarize_feedback(source, by="channel", themes=False).result["by_channel"]
    assert {r["channel"] for r in by_channel} == {"email", "social"}
    weeks = [r["week"] for r in summarize_feedback(source, by="week", themes=False).result["by_week"]]
    assert weeks == sorted(weeks) and weeks[0] == "2024-W01"
    with pytest.raises(ArgumentError, match="stage, channel, week or theme"):
        summarize_feedback(source, by="country")  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match="stages in the store: demo, pricing, signup"):
        summarize_feedback(source, stage="checkout")


def test_summary_themes(source: FeedbackSource, feedback_csv: Path) -> None:
    index_feedback(source, str(feedback_csv))
    result = summarize_feedback(source, by="theme", k=3, seed=3)
    themes = result.result["themes"]
    assert len(themes) == 3 and sum(t["size"] for t in themes) == 36
    assert themes == sorted(themes, key=lambda t: -t["size"])
    for theme in themes:
        assert 1 <= len(theme["quotes"]) <= 3 and all(len(q) <= 80 for q in theme["quotes"])
        assert theme["top_terms"] and theme["label"]
    assert all("jane.doe" not in q for t in themes for q in t["quotes"])
    assert result.definition["themes"]["k"] == 3
    auto = summarize_feedback(source, themes=True).definition["themes"]
    assert 2 <= auto["k"] <= 10 and auto["k_chosen_by"].startswith("best cosine silhouette")


def test_wilson_interval_reference_values() -> None:
    low, high = wilson_interval(10, 100)
    assert round(low, 4) == 0.0552 and round(high, 4) == 0.1744  # Wilson (1927) / Newcombe (1998) method 3
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 1.0
    assert all(v != v for v in wilson_interval(0, 0))


def test_llm_sentiment_is_cached_in_metadata(source: FeedbackSource, feedback_csv: Path) -> None:
    from tools.feedback import score_with_llm

    index_feedback(source, str(feedback_csv))
    calls: list[int] = []

    class FixedScorer:
        name = "llm:fake"

        def score(self, texts: Any) -> list[float]:
            calls.append(len(texts))
            return [-1.0 for _ in texts]

    assert score_with_llm(source, FixedScorer()) == {"scored": 36, "cached": 0}
    assert score_with_llm(source, FixedScorer()) == {"scored": 0, "cached": 36}
    assert calls == [36]
    summary = summarize_feedback(source, themes=False, sentiment_source="llm")
    assert summary.result["negative_share"] == 1.0


def test_registry_specs_and_invoke(source: FeedbackSource, feedback_csv: Path) -> None:
    from tools.registry import invoke

    names = {spec.name for spec in SPECS}
    assert names == {"feedback_search", "feedback_summary"}
    for spec in SPECS:
        assert spec.needs == "feedback" and 4 <= len(spec.examples) <= 8 and len(spec.description) > 80
        assert spec.args.model_config.get("extra") == "forbid"
        assert all(field.description for field in spec.args.model_fields.values())
    context = ToolContext(feedback=FeedbackSource(store=source.store, embedding="hashing", path=str(feedback_csv)))
    summary = invoke("feedback_summary", {"by": "stage", "themes": False}, context)  # indexes on first use
    assert summary.result["count"] == 36
    matches = invoke("feedback_search", {"query": "rip-off", "top": 2, "sentiment": "negative"}, context)
    assert len(matches.result["matches"]) == 2
    with pytest.raises(StoreError, match="no feedback store is configured"):
        invoke("feedback_search", {"query": "x"}, ToolContext())
    with pytest.raises(ArgumentError, match="invalid arguments for feedback_search"):
        invoke("feedback_search", {"query": "x", "colour": "red"}, context)


def test_missing_feedback_file(source: FeedbackSource, feedback_csv: Path, tmp_path: Path) -> None:
    from tools.feedback import ensure_indexed

    missing = FeedbackSource(store=source.store, embedding="hashing", path=str(tmp_path / "nope.csv"))
    with pytest.raises(DataError, match="does not exist and the store"):
        ensure_indexed(missing)
    index_feedback(source, str(feedback_csv))
    ensure_indexed(missing)  # the store has records: the stale path is ignored
    assert search_feedback(missing, "demo").result["matches"]


def test_same_ids_with_other_content_are_indexed_as_new(source: FeedbackSource, tmp_path: Path) -> None:
    # Two survey exports that both number their rows f0001 …: B's texts must not be dropped as "already stored".
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    feedback_frame(1).to_csv(first, index=False)
    other = feedback_frame(1)
    other["text"] = [f"Survey two, answer {i}: the onboarding wizard froze on step three." for i in range(len(other))]
    other["customer_id"] = [f"z{i}" for i in range(len(other))]
    other.to_csv(second, index=False)
    index_feedback(source, str(first))
    added = index_feedback(source, str(second))
    assert added.result["indexed"] == 12 and added.result["skipped_already_stored"] == 0
    assert added.result["stored_id_other_content"] == 12 and added.result["collection_size"] == 24
    assert any("FEEDBACK_ID~HASH" in note for note in added.notes)
    stored = {r["id"]: r for r in open_store(source).iter_records()}
    assert stored["f0001"]["metadata"]["customer_id"] == "c1"  # A's record is untouched
    found = search_feedback(source, "onboarding wizard froze on step three", top=3).result["matches"]
    assert found and all(m["text"].startswith("Survey two") and m["id"].startswith("f00") for m in found)
    assert all("~" in m["id"] for m in found)
    for path in (second, first):  # re-indexing either file adds nothing
        again = index_feedback(source, str(path))
        assert again.result["indexed"] == 0 and again.result["skipped_already_stored"] == 12
    assert open_store(source).count() == 24


def test_search_with_an_unknown_stage_or_channel_names_the_known_ones(
    source: FeedbackSource, feedback_csv: Path
) -> None:
    index_feedback(source, str(feedback_csv))
    with pytest.raises(ArgumentError, match=r"stage 'demoo'; stages in the store: demo, pricing, signup"):
        search_feedback(source, "x", stage="demoo")
    with pytest.raises(ArgumentError, match=r"channel 'mail'; channels in the store: email, social"):
        search_feedback(source, "x", channel="mail")
    # A known stage that the other filters empty is not an error, only a note.
    empty = search_feedback(source, "x", stage="demo", sentiment="positive")
    assert empty.result["matches"] == [] and "no feedback matches" in empty.notes[0]


def test_merge_similar_joins_clusters_with_alike_centres() -> None:
    from tools.themes import merge_similar

    rng = np.random.default_rng(3)
    base = np.eye(8)
    # Clusters 0 and 1 are paraphrases (centres ~0.9 alike); cluster 2 is another topic (orthogonal).
    centres = [base[0], 0.9 * base[0] + 0.44 * base[1], base[2]]
    vectors = np.vstack([c + 0.05 * rng.standard_normal((10, 8)) for c in centres])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    labels = np.repeat([2, 0, 1], 10)  # any label numbering
    merged = merge_similar(vectors, labels, similarity=0.6)
    assert merged[:10].tolist() == [0] * 10 and merged[10:20].tolist() == [0] * 10 and set(merged[20:]) == {1}
    assert merge_similar(vectors, labels, similarity=0.99).tolist() == labels.tolist()  # nothing alike enough
