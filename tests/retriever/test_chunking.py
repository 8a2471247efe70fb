"""Chunks fit what the encoder reads: the vector sees every word BM25 indexes."""

from __future__ import annotations

import pytest

from retriever import Passage, RetrieverError
from retriever.chunking import chunk_passages
from retriever.index import embedding_text


def test_title_and_chunk_fit_the_encoder(embedder, capfd) -> None:
    tokenizer, limit = embedder.tokenizer, embedder.max_tokens
    title = "A rather long title about the history of the kingdom of " * 3
    passage = Passage(id="p", title=title, text=" ".join(f"word{i}" for i in range(900)), source="s")
    chunks = chunk_passages([passage], tokenizer, max_tokens=400, overlap=40, limit=limit)
    assert len(chunks) > 3
    sizes = [len(tokenizer(embedding_text(c), verbose=False)["input_ids"]) for c in chunks]
    assert max(sizes) <= limit and max(sizes) >= limit - 8  # as long as fits, no longer
    assert chunks[0].text.startswith("word0") and chunks[-1].text.endswith("word899")
    assert "Token indices sequence length" not in capfd.readouterr().err  # long passages are expected here
    without = chunk_passages([passage], tokenizer, max_tokens=400, overlap=40)  # no limit: windows of 400
    assert len(tokenizer(embedding_text(without[0]), verbose=False)["input_ids"]) > limit


def test_a_title_too_long_for_the_encoder_is_refused(embedder) -> None:
    passage = Passage(id="t", title="word " * 300, text="short text", source="s")
    with pytest.raises(RetrieverError, match="passage 't': its title leaves"):
        chunk_passages([passage], embedder.tokenizer, limit=embedder.max_tokens)
