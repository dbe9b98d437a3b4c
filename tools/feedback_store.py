"""The persistent feedback store: one Chroma collection of redacted texts, their vectors and metadata.

``FeedbackSource`` is the small, typed handle the application puts in ``ToolContext.feedback``;
``FeedbackStore`` wraps a Chroma ``PersistentClient`` collection opened from it. Chroma is imported here,
lazily (``open_store``), so ``import tools`` never loads it.

Guarantees:
* idempotent: records are keyed by a stable id and ids already present are skipped *before* embedding, so
  re-indexing a file adds nothing and an interrupted run resumes where it stopped (writes are per batch); a
  record whose feedback_id is stored with *other* content (another file numbering its rows the same way) is
  stored as a new record ``ID~HASH`` — the content fingerprint kept in metadata (``fp``) tells them apart;
* one embedding model per collection: its id is stored in the collection metadata and opening the collection
  with another model raises ``StoreError`` naming both and the fix;
* no network: Chroma's telemetry is off and the embedding functions are ours (Chroma's default one would
  download a model).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

import numpy as np

from tools.errors import StoreError

SCHEMA_VERSION = 1
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,510}[A-Za-z0-9]$")
_PAGE = 5000


@dataclass(frozen=True)
class FeedbackSource:
    """Where the feedback lives and how it is embedded: what ``ToolContext.feedback`` holds.

    Attributes:
        store: the persistent Chroma directory (``[feedback] store``; ``--store`` overrides it).
        collection: the collection name (``[feedback] collection``).
        embedding: ``minilm`` | ``wordllama`` | ``openai`` (``[feedback] embedding``); ``hashing`` in tests.
        path: a feedback file indexed (idempotently) on first use by the tools, or ``None``.
        columns: feedback column mapping, canonical field -> column in the file.
        timezone: zone assumed for feedback timestamps without an offset (``[data] timezone``).
        quote_chars: quotes shown or sent to an LLM are redacted and cut to this (``[privacy] quote_chars``).
        stages: ordered journey stages, for inferring a missing stage and ordering summaries.
        embedding_options: extra arguments for the embedding class (e.g. ``api_key_env`` for openai).
    """

    store: str | Path = ".journey/chroma"
    collection: str = "feedback"
    embedding: str = "minilm"
    path: str | Path | None = None
    columns: dict[str, str] = field(default_factory=dict)
    timezone: str = "UTC"
    quote_chars: int = 200
    stages: tuple[str, ...] = ("visit", "product_view", "signup", "pricing", "demo", "purchase")
    embedding_options: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        """The store's identity for a result ``definition``."""
        return {
            "store": str(self.store),
            "collection": self.collection,
            "embedding": self.embedding,
        }


_OPEN: dict[tuple[str, str, str], FeedbackStore] = {}
_OPEN_LOCK = threading.Lock()


def open_store(source: FeedbackSource, embedder: Any = None) -> FeedbackStore:
    """The store for ``source`` (one handle per directory, collection and model in this process).

    Args:
        source: where and how.
        embedder: an embedding function to use instead of ``source.embedding`` (tests).

    Raises:
        StoreError: the directory cannot be used, the name is invalid, or the collection holds vectors of
            another embedding model.
    """
    from tools.embeddings import embedding_function

    ef = embedder if embedder is not None else embedding_function(source.embedding, **source.embedding_options)
    key = (str(Path(source.store).resolve()), source.collection, ef.model_id)
    with _OPEN_LOCK:
        if key not in _OPEN:
            _OPEN[key] = FeedbackStore(source, ef)
        return _OPEN[key]


def forget_open_stores() -> None:
    """Drop cached handles (tests that delete a store directory)."""
    with _OPEN_LOCK:
        _OPEN.clear()


class FeedbackStore:
    """A Chroma collection of feedback with our embedding function.

    Args:
        source: where and how.
        embedder: the embedding function (Chroma protocol + ``embed`` + ``model_id``).
    """

    def __init__(self, source: FeedbackSource, embedder: Any) -> None:
        if not _NAME.match(source.collection):
            raise StoreError(
                f"invalid collection name {source.collection!r}: use 3-512 letters, digits, '.', '_' or '-', "
                "starting and ending with a letter or digit ([feedback] collection)"
            )
        self.source = source
        self.embedder = embedder
        self.directory = Path(source.store)
        self._collection = self._open()

    def _open(self) -> Any:
        try:
            import chromadb
            from chromadb.config import Settings as ChromaSettings
            from chromadb.utils.embedding_functions import register_embedding_function
        except ImportError as exc:  # pragma: no cover - chromadb is a dependency
            raise StoreError(f"the feedback store needs chromadb ({exc}); install it") from exc
        from tools.embeddings import EMBEDDING_CLASSES

        for cls in EMBEDDING_CLASSES:
            register_embedding_function(cls)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            client = chromadb.PersistentClient(
                path=str(self.directory), settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False)
            )
            names = {c.name for c in client.list_collections()}
        except (OSError, ValueError, RuntimeError) as exc:
            raise StoreError(
                f"cannot open the feedback store at {str(self.directory)!r} ({type(exc).__name__}: {exc}); "
                "pass another --store DIR or fix [feedback] store"
            ) from exc
        model = self.embedder.model_id
        if self.source.collection in names:
            existing = client.get_collection(self.source.collection, embedding_function=None)
            stored = (existing.metadata or {}).get("embedding")
            if stored != model:
                raise StoreError(
                    f"the feedback store {str(self.directory)!r} (collection {self.source.collection!r}) holds "
                    f"vectors of {stored!r}, not {model!r}; vectors of different models cannot be mixed — set "
                    f"[feedback] embedding back, or index into another --store DIR or [feedback] collection"
                )
            return client.get_collection(self.source.collection, embedding_function=self.embedder)
        return client.create_collection(
            self.source.collection,
            embedding_function=self.embedder,
            metadata={
                "embedding": model,
                "embedding_kind": self.source.embedding,
                "dimensions": int(self.embedder.dimensions or 0),
                "schema": SCHEMA_VERSION,
            },
            configuration={"hnsw": {"space": "cosine"}},
        )

    @property
    def model_id(self) -> str:
        """The embedding model id stored with the collection."""
        return str(self.embedder.model_id)

    def count(self) -> int:
        """Records in the collection."""
        return int(self._collection.count())

    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` are already stored."""
        found: set[str] = set()
        for start in range(0, len(ids), _PAGE):
            chunk = list(ids[start : start + _PAGE])
            if chunk:
                found.update(self._collection.get(ids=chunk, include=[])["ids"])
        return found

    def metadata_of(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The metadata of those ``ids`` that are stored."""
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), _PAGE):
            chunk = list(ids[start : start + _PAGE])
            if chunk:
                reply = self._collection.get(ids=chunk, include=["metadatas"])
                found.update(
                    {rid: dict(meta or {}) for rid, meta in zip(reply["ids"], reply["metadatas"], strict=True)}
                )
        return found

    def add(
        self, ids: Sequence[str], documents: Sequence[str], metadatas: Sequence[dict[str, Any]], vectors: np.ndarray
    ) -> None:
        """Upsert one batch (documents must already be redacted)."""
        if not ids:
            return
        self._collection.upsert(
            ids=list(ids), documents=list(documents), metadatas=list(metadatas), embeddings=list(vectors)
        )

    def update_metadata(self, ids: Sequence[str], metadatas: Sequence[dict[str, Any]]) -> None:
        """Merge metadata fields into existing records (e.g. cached LLM sentiment)."""
        if ids:
            self._collection.update(ids=list(ids), metadatas=list(metadatas))

    def query(self, text: str, top: int, where: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """The ``top`` nearest records to ``text`` (cosine distance), optionally filtered by metadata."""
        vector = self.embedder.embed([text])
        reply = self._collection.query(
            query_embeddings=list(vector),
            n_results=max(1, top),
            where=where or None,
            include=["documents", "metadatas", "distances"],
        )
        rows = []
        for rid, doc, meta, dist in zip(
            reply["ids"][0], reply["documents"][0], reply["metadatas"][0], reply["distances"][0], strict=True
        ):
            rows.append({"id": rid, "document": doc, "metadata": dict(meta or {}), "distance": float(dist)})
        return rows

    def fetch(self, ids: Sequence[str], embeddings: bool = True) -> list[dict[str, Any]]:
        """Records by id (documents, metadata and vectors), in the order of ``ids``."""
        include = ["documents", "metadatas", *(["embeddings"] if embeddings else [])]
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), _PAGE):
            reply = self._collection.get(ids=list(ids[start : start + _PAGE]), include=include)
            for i, rid in enumerate(reply["ids"]):
                found[rid] = {
                    "id": rid,
                    "document": reply["documents"][i],
                    "metadata": dict(reply["metadatas"][i] or {}),
                    **({"vector": np.asarray(reply["embeddings"][i], dtype=np.float32)} if embeddings else {}),
                }
        return [found[i] for i in ids if i in found]

    def iter_records(
        self,
        where: dict[str, Any] | None = None,
        embeddings: bool = False,
        documents: bool = True,
        page: int = _PAGE,
    ) -> Iterator[dict[str, Any]]:
        """Every record (id, metadata, the document and the vector when asked), page by page."""
        include = ["metadatas", *(["documents"] if documents else []), *(["embeddings"] if embeddings else [])]
        offset = 0
        while True:
            reply = self._collection.get(where=where or None, include=include, limit=page, offset=offset)
            ids = reply["ids"]
            if not ids:
                return
            for i, rid in enumerate(ids):
                record: dict[str, Any] = {"id": rid, "metadata": dict(reply["metadatas"][i] or {})}
                if documents:
                    record["document"] = reply["documents"][i]
                if embeddings:
                    record["vector"] = np.asarray(reply["embeddings"][i], dtype=np.float32)
                yield record
            if len(ids) < page:
                return
            offset += page


def record_metadata(row: Any, score: float, label: str, pii: int) -> dict[str, Any]:
    """Flat Chroma metadata of one record (Chroma stores no nulls, so missing fields are left out).

    Every key costs write and read time in Chroma (about half of its indexing time is metadata), so only
    fields the tools filter or aggregate on are kept.

    Args:
        row: a row of ``FeedbackFile.frame`` (attributes stage, stage_source, customer_id, timestamp, channel,
            rating).
        score: sentiment in [-1, 1]; label: its class.
        pii: number of redaction replacements in the text (stored only when > 0).

    Keys: stage, stage_source (file | inferred | unknown), sentiment, sentiment_label, channel, and when known
    customer_id, time (ISO, UTC), ts (epoch seconds), week (ISO week), rating, pii, and fp (the content
    fingerprint, only when the id is the file's feedback_id rather than the fingerprint itself).
    """
    meta: dict[str, Any] = {
        "stage": str(row.stage),
        "stage_source": str(row.stage_source),
        "sentiment": round(float(score), 4),
        "sentiment_label": label,
    }
    if pii:
        meta["pii"] = int(pii)
    fingerprint = getattr(row, "fingerprint", None)
    if isinstance(fingerprint, str) and fingerprint != getattr(row, "id", None):
        meta["fp"] = fingerprint
    if isinstance(row.customer_id, str):
        meta["customer_id"] = row.customer_id
    if row.timestamp is not None and row.timestamp == row.timestamp:  # NaT != NaT
        stamp = row.timestamp.to_pydatetime()
        iso_year, iso_week, _ = stamp.isocalendar()
        meta["time"] = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
        meta["ts"] = int(stamp.replace(tzinfo=UTC).timestamp())
        meta["week"] = f"{iso_year}-W{iso_week:02d}"
    meta["channel"] = str(row.channel) if isinstance(row.channel, str) else "unknown"
    if row.rating == row.rating and row.rating is not None:  # NaN check
        meta["rating"] = float(row.rating)
    return meta


def where_clause(**conditions: Any) -> dict[str, Any] | None:
    """A Chroma ``where`` filter from equality conditions (``None`` values are ignored)."""
    parts = [{key: value} for key, value in conditions.items() if value is not None]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else {"$and": parts}
