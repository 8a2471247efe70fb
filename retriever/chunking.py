"""Token-window chunking with overlap; every chunk keeps its document's title and source."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from retriever.corpus import Passage
from retriever.errors import RetrieverError


def chunk_passages(passages: Sequence[Passage], tokenizer, max_tokens: int = 200,
                   overlap: int = 40) -> list[Passage]:
    """Split each passage into windows of at most `max_tokens` tokenizer tokens, `overlap` shared.

    `tokenizer` is a Hugging Face fast tokenizer (the embedder's): windows are cut at token
    boundaries through its character offsets, so chunk text is an exact slice of the passage.
    A passage that fits stays whole and keeps its id; pieces get ids `<id>#<n>`.
    """
    if max_tokens < 8 or not 0 <= overlap < max_tokens:
        raise RetrieverError(f"chunking needs max_tokens >= 8 and 0 <= overlap < max_tokens; "
                             f"got {max_tokens} and {overlap}")
    encoded = tokenizer([p.text for p in passages], add_special_tokens=False,
                        return_offsets_mapping=True, return_attention_mask=False)
    step = max_tokens - overlap
    chunks: list[Passage] = []
    for passage, offsets in zip(passages, encoded["offset_mapping"], strict=True):
        if len(offsets) <= max_tokens:
            chunks.append(passage)
            continue
        starts = range(0, max(len(offsets) - overlap, 1), step)
        for n, start in enumerate(starts):
            window = offsets[start:start + max_tokens]
            text = passage.text[window[0][0]:window[-1][1]].strip()
            chunks.append(replace(passage, id=f"{passage.id}#{n}", text=text))
    return chunks
