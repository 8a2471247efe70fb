"""A ~300-passage slice of the embedded corpus, indexed once per test session."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def embedder():
    from retriever import Embedder

    return Embedder()


@pytest.fixture(scope="session")
def slice_passages():
    """Every 33rd article of the embedded corpus: ~300 passages over all topics."""
    from retriever import load_corpus

    return load_corpus("default")[::33]


@pytest.fixture(scope="session")
def slice_dir(tmp_path_factory, slice_passages, embedder):
    """The slice built and saved once; tests that damage an index copy this folder first."""
    from retriever import Index

    path = tmp_path_factory.mktemp("slice") / "index"
    index = Index.build(slice_passages, embedder, work_dir=tmp_path_factory.mktemp("work"), progress=False,
                        corpus="slice")
    index.save(path)
    return path


@pytest.fixture(scope="session")
def slice_index(slice_dir, embedder):
    from retriever import Index

    return Index.load(slice_dir, embedder)


@pytest.fixture
def counting_embedder(embedder):
    """The real embedded model (shared with `embedder`), counting the texts it embeds."""
    from retriever import Embedder

    class Counting(Embedder):
        def __init__(self):
            super().__init__()
            self._st = embedder.st
            self.encoded = 0

        def encode(self, texts):
            self.encoded += len(texts)
            return super().encode(texts)

    return Counting()
