"""Build, save, load and search on a real slice of the embedded corpus."""

from __future__ import annotations

import numpy as np
import pytest

from retriever import Hit, Index, RetrieverError

MODES = ("hybrid", "dense", "bm25")
QUERIES = ["who painted the Mona Lisa", "largest planet in the solar system", "theory of evolution by natural selection"]


def results(index: Index, query: str, mode: str) -> list[tuple[str, float]]:
    return [(h.id, round(h.score, 5)) for h in index.search(query, k=10, mode=mode)]


def test_slice_index_shape(slice_index, slice_passages):
    assert len(slice_index) >= len(slice_passages)
    manifest = slice_index.manifest
    assert manifest["count"] == len(slice_index)
    assert manifest["documents"] == len(slice_passages)
    assert manifest["dimension"] == 384 and manifest["embedding_model"] == "embedded"
    assert manifest["faiss"]["kind"] == "flat"
    assert {"passages.jsonl", "dense.faiss"} <= set(manifest["files"])


def test_round_trip_gives_identical_results(tmp_path, slice_dir, slice_index, embedder):
    again = Index.load(slice_dir, embedder)
    copy = tmp_path / "copy"
    again.save(copy)
    reloaded = Index.load(copy, embedder)
    for mode in MODES:
        for query in QUERIES:
            first = results(slice_index, query, mode)
            assert first, (mode, query)
            assert results(again, query, mode) == first
            assert results(reloaded, query, mode) == first


@pytest.mark.parametrize("mode", MODES)
def test_each_mode_returns_hits_in_score_order(slice_index, mode):
    for query in QUERIES:
        hits = slice_index.search(query, k=8, mode=mode)
        assert all(isinstance(h, Hit) for h in hits)
        assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
        scores = [h.score for h in hits]
        assert scores == sorted(scores, reverse=True)
        assert len({h.id for h in hits}) == len(hits)


def test_relevant_passage_comes_first(slice_index, slice_passages):
    target = slice_passages[7]
    query = " ".join(target.text.split()[:12])
    for mode in MODES:
        assert slice_index.search(query, k=3, mode=mode)[0].title == target.title, mode


def test_hybrid_hits_carry_both_scores(slice_index):
    hit = slice_index.search(QUERIES[0], k=1, mode="hybrid")[0]
    assert "dense" in hit.scores or "bm25" in hit.scores
    assert hit.source.startswith("https://en.wikipedia.org/wiki/")


def test_query_vector_is_used_instead_of_embedding(slice_index):
    query = QUERIES[1]
    vector = slice_index.embedder.encode_query(query)
    assert vector.shape == (384,) and abs(float(np.linalg.norm(vector)) - 1) < 1e-4
    assert [h.id for h in slice_index.search(query, 5, "dense", query_vector=vector)] == \
           [h.id for h in slice_index.search(query, 5, "dense")]
    # a vector of another query gives that query's neighbours
    other = slice_index.embedder.encode_query(QUERIES[2])
    assert [h.id for h in slice_index.search(query, 3, "dense", query_vector=other)] == \
           [h.id for h in slice_index.search(QUERIES[2], 3, "dense")]
    with pytest.raises(RetrieverError, match="dimensions"):
        slice_index.search(query, 5, "dense", query_vector=np.ones(10, dtype=np.float32))


@pytest.mark.parametrize("query", ["", "   ", "\n\t "])
@pytest.mark.parametrize("mode", MODES)
def test_empty_query_is_a_clear_error(slice_index, query, mode):
    with pytest.raises(RetrieverError, match="query is empty"):
        slice_index.search(query, mode=mode)


def test_bad_mode_and_k_are_clear_errors(slice_index):
    with pytest.raises(RetrieverError, match="unknown search mode"):
        slice_index.search("music", mode="fuzzy")
    with pytest.raises(RetrieverError, match="k must be"):
        slice_index.search("music", k=0)


@pytest.mark.parametrize("query", ["Beethoven’s Symphonie Nr. 9 — „Ode an die Freude“", "東京の歴史",
                                   "Ελληνική μυθολογία", "café crème brûlée", "🙂"])
def test_non_ascii_queries_work(slice_index, query):
    for mode in ("hybrid", "dense"):
        hits = slice_index.search(query, k=3, mode=mode)
        assert len(hits) == 3
    slice_index.search(query, k=3, mode="bm25")  # may find nothing, must not fail


def test_k_larger_than_index(slice_index):
    assert len(slice_index.search("history", k=10_000, mode="dense")) == len(slice_index)


def test_encode_query_matches_encode(embedder):
    import torch

    threads = torch.get_num_threads()
    text = "Wer schrieb „Faust“? ¿Quién escribió Don Quijote?"
    batch = embedder.encode([text, "another text"])
    assert batch.dtype == np.float32 and batch.shape == (2, 384)
    assert np.allclose(np.linalg.norm(batch, axis=1), 1, atol=1e-5)
    assert np.allclose(embedder.encode_query(text), batch[0], atol=1e-5)
    assert torch.get_num_threads() == threads  # the query path restores the thread count
