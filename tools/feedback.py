"""Customer feedback: index into Chroma, sentiment by journey stage, themes, semantic search.

"What do customers say, and where in the journey do they feel it?"

* ``index_feedback``: load a feedback file (``tools.feedback_load``), redact PII (``tools.redact``), score
  sentiment (``tools.sentiment``), embed (``tools.embeddings``) and upsert into the persistent store
  (``tools.feedback_store``) — idempotent and resumable.
* ``summarize_feedback``: count, negative share with a 95% Wilson interval and mean sentiment by stage,
  channel or ISO week, plus themes (``tools.themes``) with terms and redacted quotes.
* ``search_feedback``: nearest texts to a query, filtered by stage, sentiment or channel.

``SPECS`` exposes ``feedback_search`` and ``feedback_summary`` to the agent; they read
``ToolContext.feedback``, a ``FeedbackSource``. Nothing here imports Chroma or onnxruntime at import time.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tools.context import ToolContext
from tools.errors import ArgumentError, DataError, StoreError
from tools.feedback_store import FeedbackSource, open_store, record_metadata, where_clause
from tools.registry import ToolSpec
from tools.result import ToolResult

if TYPE_CHECKING:
    from tools.dataset import Dataset
    from tools.sentiment import SentimentScorer

__all__ = [
    "SPECS",
    "FeedbackSource",
    "ensure_indexed",
    "index_feedback",
    "score_with_llm",
    "search_feedback",
    "summarize_feedback",
    "wilson_interval",
]

GroupBy = Literal["stage", "channel", "week", "theme"]
SentimentFilter = Literal["negative", "neutral", "positive"]
_SENTIMENT_ALIASES = {"neg": "negative", "neu": "neutral", "pos": "positive"}
SENTIMENT_RULE = (
    "VADER compound score in [-1, 1] with a customer-experience lexicon; negative <= -0.05, positive >= 0.05"
)
REDACTION_RULE = (
    "emails, phones, Luhn-valid or card-labelled numbers, IBANs, secret-bearing URLs and street addresses are "
    "replaced by placeholders before storage"
)
WEAK_MATCH_DISTANCE = 0.6


def wilson_interval(successes: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95% by default); (nan, nan) when ``total`` is 0."""
    if total <= 0:
        return float("nan"), float("nan")
    p = successes / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def _sentiment_value(value: str | None) -> str | None:
    if value is None:
        return None
    value = _SENTIMENT_ALIASES.get(value.lower(), value.lower())
    if value not in ("negative", "neutral", "positive"):
        raise ArgumentError(f"sentiment {value!r} is not one of: negative, neutral, positive (or neg, neu, pos)")
    return value


def index_feedback(
    source: FeedbackSource,
    path: str | None = None,
    dataset: Dataset | Callable[[], Dataset] | None = None,
    batch_size: int = 256,
    progress: Callable[[int, int], None] | None = None,
    llm_scorer: SentimentScorer | None = None,
) -> ToolResult:
    """Index a feedback file into the persistent store; records already stored are skipped before embedding.

    Args:
        source: the store, collection, embedding model and column mapping.
        path: the feedback file (default: ``source.path``).
        dataset: events (or a loader of them) to infer missing stages; only loaded when a stage is missing.
        batch_size: records embedded and written per batch (a batch is the unit of resumption).
        progress: called with (records done, records to do) after each batch.
        llm_scorer: also score sentiment with an LLM; scores are cached in metadata as ``sentiment_llm``.

    Raises:
        DataError: the file cannot be used. StoreError: the store cannot be used or holds another model.
    """
    from tools.feedback_load import STAGE_RULE
    from tools.redact import redact_detail
    from tools.sentiment import default_scorer, label

    started = time.perf_counter()
    target = path or source.path
    if target is None:
        raise DataError("no feedback file given; pass FILE or set [feedback] path in config.toml")
    store = open_store(source)
    loaded = _load(str(target), source, dataset)
    frame = loaded.frame
    timings = {"load": time.perf_counter() - started, "redact_and_sentiment": 0.0, "embed": 0.0, "store": 0.0}
    tick = time.perf_counter()
    present = store.existing_ids(frame["id"].tolist())
    frame, reused = _separate_reused_ids(store, frame, present)
    if reused:
        present = store.existing_ids(frame["id"].tolist())
    timings["store"] += time.perf_counter() - tick
    todo = frame.loc[~frame["id"].isin(present)].copy()
    # Length-sorted batches keep the per-batch padding of the sentence model small.
    todo = todo.iloc[todo["text"].str.len().argsort(kind="stable")]
    scorer = default_scorer()
    pii: Counter[str] = Counter()
    done = 0
    if progress:
        progress(0, len(todo))
    for start in range(0, len(todo), batch_size):
        batch = todo.iloc[start : start + batch_size]
        tick = time.perf_counter()
        redactions = [redact_detail(text) for text in batch["text"]]
        texts = [r.text for r in redactions]
        scores = scorer.score(texts)
        llm_scores = llm_scorer.score(texts) if llm_scorer is not None else None
        timings["redact_and_sentiment"] += time.perf_counter() - tick
        tick = time.perf_counter()
        vectors = store.embedder.embed(texts)
        timings["embed"] += time.perf_counter() - tick
        metadatas = []
        for i, (row, redaction, score) in enumerate(zip(batch.itertuples(), redactions, scores, strict=True)):
            pii.update(redaction.counts)
            meta = record_metadata(row, score, label(score), sum(redaction.counts.values()))
            if llm_scores is not None and llm_scorer is not None:
                meta["sentiment_llm"] = round(llm_scores[i], 4)
                meta["sentiment_llm_model"] = llm_scorer.name
            metadatas.append(meta)
        tick = time.perf_counter()
        store.add(batch["id"].tolist(), texts, metadatas, vectors)
        timings["store"] += time.perf_counter() - tick
        done += len(batch)
        if progress:
            progress(done, len(todo))
    seconds = time.perf_counter() - started
    result = {
        "rows_read": loaded.counts["rows_read"],
        "records": len(frame),
        "indexed": len(todo),
        "skipped_already_stored": len(frame) - len(todo),
        "stored_id_other_content": reused,
        "stage_from_file": loaded.counts["stage_from_file"],
        "stage_inferred": loaded.counts["stage_inferred"],
        "stage_unknown": loaded.counts["stage_unknown"],
        "pii_replaced": sum(pii.values()),
        "pii_replacements": dict(sorted(pii.items())),
        "collection_size": store.count(),
        "seconds": round(seconds, 2),
        "embedding_texts_per_second": round(len(todo) / timings["embed"], 1) if timings["embed"] else None,
        "seconds_by_step": {step: round(value, 2) for step, value in timings.items()},
    }
    notes = list(loaded.notes)
    if pii:
        kinds = ", ".join(f"{n:,} {kind}" for kind, n in sorted(pii.items()))
        notes.append(f"personal data replaced before storage: {kinds}")
    if reused:
        notes.append(
            f"{reused:,} records reuse a feedback_id already stored with other content (e.g. from another file); "
            "they are kept as separate records with id FEEDBACK_ID~HASH"
        )
    if not len(todo):
        notes.append("nothing new: every record of the file is already in the store")
    return ToolResult(
        tool="feedback_index",
        definition={
            **source.describe(),
            "file": loaded.source,
            "embedding_model": store.model_id,
            "id": (
                "feedback_id when present, else a hash of customer_id, timestamp and text; a feedback_id already "
                "stored with other content becomes FEEDBACK_ID~HASH"
            ),
            "stage_inference": STAGE_RULE,
            "sentiment": SENTIMENT_RULE,
            "sentiment_model": scorer.name,
            "redaction": REDACTION_RULE,
            "batch_size": batch_size,
        },
        result=result,
        notes=notes,
    )


def _separate_reused_ids(store: Any, frame: Any, present: set[str]) -> tuple[Any, int]:
    """Give rows whose feedback_id is stored with other content an id of their own, ``ID~HASH``.

    Files often number their rows the same way (f0000001 …); without this a second file's different texts would
    be skipped as "already stored". The content is compared by fingerprint (customer, time, text), so
    re-indexing the same file still adds nothing.

    Returns:
        The frame (ids changed where the content differs) and how many ids changed.
    """
    candidates = frame["id"].isin(present) & (frame["id"] != frame["fingerprint"])
    if not candidates.any():
        return frame, 0
    stored = store.metadata_of(frame.loc[candidates, "id"].tolist())
    # Records stored before fingerprints were kept are compared by their text: fetched in one call.
    legacy = [rid for rid, meta in stored.items() if "fp" not in meta]
    documents = {r["id"]: r["document"] for r in store.fetch(legacy, embeddings=False)} if legacy else {}
    differs = [
        not _same_content(row, stored.get(row.id), documents.get(row.id))
        for row in frame.loc[candidates].itertuples(index=False)
    ]
    changed = frame.loc[candidates].index[differs]
    if len(changed):
        frame = frame.copy()
        frame.loc[changed, "id"] = frame.loc[changed, "id"] + "~" + frame.loc[changed, "fingerprint"].str[1:13]
    return frame, len(changed)


def _same_content(row: Any, metadata: dict[str, Any] | None, document: str | None) -> bool:
    """Whether the stored record with ``row``'s id (its metadata and, without a fingerprint, its text) holds the
    same feedback as ``row``."""
    if metadata is None:
        return True
    if "fp" in metadata:
        return bool(metadata["fp"] == row.fingerprint)
    from tools.redact import redact

    customer = row.customer_id if isinstance(row.customer_id, str) else None
    return metadata.get("customer_id") == customer and document == redact(row.text)


def _load(path: str, source: FeedbackSource, dataset: Dataset | Callable[[], Dataset] | None) -> Any:
    from tools.feedback_load import load_feedback

    # Load without events first: most files carry a stage, and loading events is the expensive part.
    loaded = load_feedback(path, source.columns, source.timezone)
    if dataset is None or loaded.counts["stage_unknown"] == 0:
        return loaded
    try:
        events = dataset() if callable(dataset) else dataset
    except DataError as exc:
        loaded.notes.append(f"stages not inferred: event data could not be loaded ({exc})")
        return loaded
    return load_feedback(path, source.columns, source.timezone, dataset=events, stages=source.stages)


_ENSURED: set[tuple[str, ...]] = set()


def ensure_indexed(source: FeedbackSource, dataset: Dataset | Callable[[], Dataset] | None = None) -> None:
    """Index ``source.path`` once per process (cheap when already stored: ids are checked, nothing embedded).

    A configured file that does not exist is ignored while the store has records (the default
    ``[feedback] path`` may point at demo data that was never generated); with an empty store it is an error.
    """
    from pathlib import Path

    if source.path is None:
        return
    file = Path(source.path)
    if not file.exists() and not any(ch in str(file) for ch in "*?["):
        if open_store(source).count() > 0:
            return
        raise DataError(
            f"feedback file {str(file)!r} does not exist and the store {str(source.store)!r} is empty; "
            "pass --feedback FILE or fix [feedback] path"
        )
    stamp = str(file.stat().st_mtime_ns) if file.is_file() else ""
    key = (str(Path(source.store).resolve()), source.collection, source.embedding, str(file), stamp)
    if key in _ENSURED:
        return
    index_feedback(source, dataset=dataset)
    _ENSURED.add(key)


def _open_nonempty(source: FeedbackSource) -> Any:
    from pathlib import Path

    # Reading never creates a store: a mistyped --store must not leave an empty folder behind.
    store = open_store(source) if Path(source.store).exists() else None
    if store is None or store.count() == 0:
        raise StoreError(
            f"the feedback store {str(source.store)!r} (collection {source.collection!r}) is empty; "
            "run `journey feedback index FILE` first (or pass --feedback FILE)"
        )
    return store


def search_feedback(
    source: FeedbackSource,
    query: str,
    top: int = 5,
    stage: str | None = None,
    sentiment: str | None = None,
    channel: str | None = None,
) -> ToolResult:
    """Feedback texts closest in meaning to ``query`` (semantic search), optionally filtered.

    Args:
        source: the store.
        query: what to look for, in plain words (it is redacted before it is embedded).
        top: how many matches.
        stage: only feedback about this journey stage.
        sentiment: only ``negative`` | ``neutral`` | ``positive`` feedback (``neg``/``neu``/``pos`` accepted).
        channel: only feedback from this channel.
    """
    from tools.redact import quote, redact

    if not query.strip():
        raise ArgumentError("the search query is empty; say what to look for, e.g. 'demo was cancelled'")
    sentiment = _sentiment_value(sentiment)
    store = _open_nonempty(source)
    where = where_clause(stage=stage, sentiment_label=sentiment, channel=channel)
    rows = store.query(redact(query), top, where)
    if not rows:
        # An empty answer is usually a misspelt filter value: say which values exist rather than print nothing.
        _require_known(store, "stage", stage)
        _require_known(store, "channel", channel)
    matches = [
        {
            "text": quote(row["document"], source.quote_chars),
            "stage": row["metadata"].get("stage"),
            "sentiment": row["metadata"].get("sentiment"),
            "distance": round(row["distance"], 4),
            "channel": row["metadata"].get("channel"),
            "date": str(row["metadata"].get("time", ""))[:10] or None,
            "id": row["id"],
        }
        for row in rows
    ]
    notes = []
    if not matches:
        notes.append("no feedback matches these filters; check the stage/sentiment/channel values")
    elif matches[0]["distance"] > WEAK_MATCH_DISTANCE:
        notes.append(f"even the best match is distant (cosine distance > {WEAK_MATCH_DISTANCE}): weak evidence")
    notes.append("texts are redacted and truncated")
    return ToolResult(
        tool="feedback_search",
        definition={
            **source.describe(),
            "embedding_model": store.model_id,
            "query": redact(query),
            "top": top,
            "filters": {"stage": stage, "sentiment": sentiment, "channel": channel},
            "distance": "cosine distance = 1 - cosine similarity (0 = same meaning)",
            "sentiment": SENTIMENT_RULE,
            "quote_chars": source.quote_chars,
        },
        result={"matches": matches},
        notes=notes,
    )


def summarize_feedback(
    source: FeedbackSource,
    by: GroupBy = "stage",
    stage: str | None = None,
    sentiment: str | None = None,
    themes: bool = True,
    k: int | str = "auto",
    seed: int = 7,
    max_theme_texts: int = 4000,
    sentiment_source: Literal["lexicon", "llm"] = "lexicon",
) -> ToolResult:
    """Feedback volume, negative share (95% Wilson interval) and mean sentiment by a dimension, plus themes.

    Args:
        source: the store.
        by: ``stage`` | ``channel`` | ``week`` (ISO week, UTC) | ``theme``.
        stage: only feedback about this stage.
        sentiment: only this sentiment (``negative`` | ``neutral`` | ``positive``).
        themes: also cluster the texts into themes (always on for ``by="theme"``).
        k: number of themes, or ``"auto"`` (silhouette over 2..10).
        seed: seed for clustering and sampling.
        max_theme_texts: themes are found on a seeded sample of at most this many texts.
        sentiment_source: ``lexicon`` (always available) or ``llm`` (cached LLM scores; needs ``score_with_llm``).
    """
    from tools.feedback_summary import group_rows, theme_rows

    if by not in ("stage", "channel", "week", "theme"):
        raise ArgumentError(f"cannot group feedback by {by!r}; use stage, channel, week or theme")
    sentiment = _sentiment_value(sentiment)
    store = _open_nonempty(source)
    where = where_clause(stage=stage, sentiment_label=sentiment)
    records = [(r["id"], r["metadata"]) for r in store.iter_records(where, documents=False)]
    if not records:
        raise ArgumentError(
            f"no feedback matches stage={stage!r}, sentiment={sentiment!r}; "
            f"stages in the store: {', '.join(_distinct(store, 'stage'))}"
        )
    notes: list[str] = []
    score_key = "sentiment"
    if sentiment_source == "llm":
        if all("sentiment_llm" in m for _, m in records):
            score_key = "sentiment_llm"
        else:
            notes.append(
                "LLM sentiment is not cached for every record; lexicon sentiment is used "
                "(run `journey feedback index FILE --llm-sentiment`)"
            )
    result: dict[str, Any] = {}
    overall = group_rows(records, None, score_key, source.stages)[0]
    result.update({k: v for k, v in overall.items() if k != "group"})
    if by != "theme":
        rows = group_rows(records, by, score_key, source.stages)
        result[f"by_{by}"] = rows
        eligible = [r for r in rows if r["count"] >= 20] or rows
        worst = max(eligible, key=lambda r: r["negative_share"])
        result[f"most_negative_{by}"] = worst[by]
    clustering_info: dict[str, Any] = {}
    if themes or by == "theme":
        theme_table, clustering_info, theme_notes = theme_rows(
            store, records, score_key, k=k, seed=seed, max_texts=max_theme_texts, quote_chars=source.quote_chars
        )
        result["themes"] = theme_table
        notes.extend(theme_notes)
    notes.append("negative_share: share of texts scored negative; ci_low/ci_high: 95% Wilson interval")
    return ToolResult(
        tool="feedback_summary",
        definition={
            **source.describe(),
            "embedding_model": store.model_id,
            "by": by,
            "filters": {"stage": stage, "sentiment": sentiment},
            "sentiment": SENTIMENT_RULE if score_key == "sentiment" else "cached LLM scores in [-1, 1]",
            "negative": "sentiment label negative (score <= -0.05)",
            "interval": "95% Wilson score interval",
            "week": "ISO week of the feedback time (UTC)",
            "themes": clustering_info or None,
            "quote_chars": source.quote_chars,
            "redaction": REDACTION_RULE,
        },
        result=result,
        notes=notes,
    )


def _distinct(store: Any, key: str) -> list[str]:
    return sorted({str(r["metadata"].get(key)) for r in store.iter_records(documents=False)})


def _require_known(store: Any, key: str, value: str | None) -> None:
    """Raise ``ArgumentError`` listing the stored values when ``value`` is not one of them."""
    if value is None:
        return
    known = _distinct(store, key)
    if value not in known:
        raise ArgumentError(f"no feedback has {key} {value!r}; {key}s in the store: {', '.join(known)}")


def score_with_llm(source: FeedbackSource, scorer: SentimentScorer, batch_size: int = 200) -> dict[str, int]:
    """Score every stored record that has no cached LLM sentiment, and cache it in metadata.

    Only redacted texts are stored, so only redacted texts reach the scorer; ``LLMSentiment`` also truncates.

    Returns:
        ``{"scored": n, "cached": m}``.
    """
    store = _open_nonempty(source)
    pending = [(r["id"], r["document"]) for r in store.iter_records() if "sentiment_llm" not in r["metadata"]]
    cached = store.count() - len(pending)
    for start in range(0, len(pending), batch_size):
        chunk = pending[start : start + batch_size]
        scores = scorer.score([text for _, text in chunk])
        store.update_metadata(
            [rid for rid, _ in chunk],
            [{"sentiment_llm": round(s, 4), "sentiment_llm_model": scorer.name} for s in scores],
        )
    return {"scored": len(pending), "cached": cached}


# ---------------------------------------------------------------------------------------------- registry


def _source(context: ToolContext) -> FeedbackSource:
    if isinstance(context.feedback, FeedbackSource):
        source = context.feedback
        loader = context.dataset if context.load_dataset is not None else None
        ensure_indexed(source, loader)
        return source
    raise StoreError(
        "no feedback store is configured for this session; index feedback with `journey feedback index FILE` "
        "and pass --feedback FILE (or set [feedback] path)"
    )


class FeedbackSearchArgs(BaseModel):
    """Arguments of ``feedback_search``."""

    model_config = ConfigDict(extra="forbid")
    query: str = Field(description="What to look for, in plain words, e.g. 'demo was cancelled' or 'hidden fees'.")
    top: int = Field(5, ge=1, le=50, description="How many matching texts to return.")
    stage: str | None = Field(None, description="Only feedback about this journey stage (e.g. 'demo').")
    sentiment: SentimentFilter | None = Field(None, description="Only negative, neutral or positive feedback.")
    channel: str | None = Field(None, description="Only feedback from this channel.")


class FeedbackSummaryArgs(BaseModel):
    """Arguments of ``feedback_summary``."""

    model_config = ConfigDict(extra="forbid")
    by: GroupBy = Field("stage", description="Group by journey stage, channel, ISO week, or theme only.")
    stage: str | None = Field(None, description="Only feedback about this journey stage (e.g. 'demo').")
    sentiment: SentimentFilter | None = Field(None, description="Only negative, neutral or positive feedback.")
    themes: bool = Field(True, description="Also find themes (clusters of similar texts) with terms and quotes.")
    k: int | None = Field(None, ge=2, le=20, description="Number of themes; omit to choose by silhouette.")


def _run_search(context: ToolContext, args: FeedbackSearchArgs) -> ToolResult:
    return search_feedback(_source(context), args.query, args.top, args.stage, args.sentiment, args.channel)


def _run_summary(context: ToolContext, args: FeedbackSummaryArgs) -> ToolResult:
    return summarize_feedback(
        _source(context),
        by=args.by,
        stage=args.stage,
        sentiment=args.sentiment,
        themes=args.themes,
        k=args.k or "auto",
        seed=context.defaults.seed,
    )


SPECS = [
    ToolSpec(
        name="feedback_summary",
        description=(
            "Summarise customer feedback (surveys, reviews, tickets): per journey stage, channel or ISO week the "
            "number of texts, the share that is negative with a 95% interval, and mean sentiment (-1..1); plus "
            "themes — clusters of similar texts, each with size, negative share, top terms and short redacted "
            "quotes. Use it for 'where in the journey are customers unhappy' and 'what do customers complain "
            "about'; filter by stage or sentiment to drill in."
        ),
        args=FeedbackSummaryArgs,
        run=_run_summary,
        needs="feedback",
        examples=(
            "where in the journey do customers feel the most frustration?",
            "which stage has the most negative feedback?",
            "what are the main themes in customer feedback?",
            "what do customers complain about at the demo stage?",
            "how has feedback sentiment changed week by week?",
            "is feedback from paid search more negative than from organic?",
        ),
    ),
    ToolSpec(
        name="feedback_search",
        description=(
            "Semantic search over customer feedback: the texts closest in meaning to a query (not just the same "
            "words), optionally only for one journey stage, sentiment or channel. Returns redacted, truncated "
            "texts with stage, sentiment and cosine distance. Use it to find evidence and quotes for a topic."
        ),
        args=FeedbackSearchArgs,
        run=_run_search,
        needs="feedback",
        examples=(
            "what do customers say about hidden fees?",
            "find feedback about demos being cancelled",
            "show me complaints about the app being slow",
            "are people unhappy with support response times?",
            "quotes from customers who loved the onboarding",
        ),
    ),
]
