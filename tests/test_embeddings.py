"""Embedding functions: Chroma 1.x protocol, unit vectors, batching that does not change vectors, quality."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tools.embeddings import (
    EMBEDDING_CLASSES,
    HashingEmbedding,
    MiniLMEmbedding,
    OpenAIEmbedding,
    WordLlamaEmbedding,
    embedding_function,
)
from tools.errors import ConfigError

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedding:
    return MiniLMEmbedding(batch_size=4)


@pytest.mark.parametrize("cls", EMBEDDING_CLASSES)
def test_chroma_protocol(cls: type) -> None:
    from chromadb.api.types import EmbeddingFunction, validate_embedding_function

    instance = cls()
    validate_embedding_function(instance)  # Chroma's own signature check of __call__(self, input)
    assert isinstance(instance, EmbeddingFunction)  # runtime-checkable protocol
    assert instance.name().startswith("journey-")
    rebuilt = cls.build_from_config(instance.get_config())
    assert type(rebuilt) is cls and rebuilt.get_config() == instance.get_config()
    assert instance.default_space() == "cosine" and not instance.is_legacy()
    assert not {"api_key", "key", "token", "password"} & set(instance.get_config())  # names of variables only


def test_hashing_is_deterministic_unit_length() -> None:
    ef = HashingEmbedding(64)
    first = ef(["slow app", "slow app", ""])
    assert len(first) == 3 and first[0].shape == (64,) and first[0].dtype == np.float32
    assert np.allclose(first[0], first[1]) and np.allclose([np.linalg.norm(v) for v in first], 1.0)
    assert np.allclose(HashingEmbedding(64).embed(["slow app"])[0], first[0])


def test_minilm_unit_vectors_and_semantics(minilm: MiniLMEmbedding) -> None:
    vectors = minilm.embed(
        ["The refund took weeks to arrive.", "I waited ages to get my money back.", "I love the new dashboard."]
    )
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > similarity[0, 2] + 0.2


def test_minilm_padding_does_not_change_vectors(minilm: MiniLMEmbedding) -> None:
    short = "slow demo"
    long = "The demo was rescheduled three times and nobody from sales told us why, which was frustrating."
    alone = minilm.embed([short])[0]
    together = minilm.embed([long, short, long + " again", short + "!"])[1]
    assert float(alone @ together) > 0.9999


def test_minilm_empty_and_order(minilm: MiniLMEmbedding) -> None:
    assert minilm.embed([]).shape == (0, 384)
    texts = [f"text number {i} " + "word " * (i % 7) for i in range(10)]
    forward = minilm.embed(texts)
    backward = minilm.embed(texts[::-1])[::-1]
    assert np.allclose(forward, backward, atol=1e-5)
    assert np.isfinite(minilm.embed(["", "   "])).all()


def _retrieval(ef: object) -> tuple[float, float]:
    pairs = pd.read_csv(DATA / "paraphrase_pairs.csv")
    queries = ef.embed(pairs["query"].tolist())  # type: ignore[attr-defined]
    targets = ef.embed(pairs["target"].tolist())  # type: ignore[attr-defined]
    ranks = np.argsort(-(queries @ targets.T), axis=1)
    truth = np.arange(len(pairs))
    return float((ranks[:, 0] == truth).mean()), float(np.mean([truth[i] in ranks[i, :3] for i in truth]))


def test_paraphrase_retrieval_quality(minilm: MiniLMEmbedding) -> None:
    assert len(pd.read_csv(DATA / "paraphrase_pairs.csv")) == 40
    top1, recall3 = _retrieval(minilm)
    assert top1 >= 0.6 and recall3 >= 0.85  # measured 0.70 / 0.90
    fast_top1, _ = _retrieval(WordLlamaEmbedding())
    assert fast_top1 >= 0.4  # measured 0.50
    hashed_top1, _ = _retrieval(HashingEmbedding())
    assert hashed_top1 < top1  # the stand-in is not semantic


def test_wordllama_loads_from_its_wheel() -> None:
    vectors = WordLlamaEmbedding().embed(["hidden fees", "unexpected charges", "great onboarding"])
    assert vectors.shape == (3, 256)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


def test_factory_and_openai_needs_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(embedding_function("hashing"), HashingEmbedding)
    with pytest.raises(ConfigError, match="unknown"):
        embedding_function("bert")
    monkeypatch.delenv("JOURNEY_TEST_KEY", raising=False)
    with pytest.raises(ConfigError, match="JOURNEY_TEST_KEY"):
        OpenAIEmbedding(api_key_env="JOURNEY_TEST_KEY").embed(["x"])


def test_importing_tools_loads_no_chroma_or_onnxruntime() -> None:
    import subprocess
    import sys

    code = (
        "import sys, tools.feedback, tools.embeddings, tools.registry; tools.registry.all_tools(); "
        "print(sorted(m for m in ('chromadb', 'onnxruntime', 'wordllama') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_vendored_tokenizer_is_the_documented_file() -> None:
    import hashlib

    from tools.embeddings import MINILM_TOKENIZER

    digest = hashlib.sha256(MINILM_TOKENIZER.read_bytes()).hexdigest()
    notice = (MINILM_TOKENIZER.parent / "NOTICE-minilm-tokenizer.md").read_text()
    assert digest in notice and "Apache License, Version 2.0" in notice
