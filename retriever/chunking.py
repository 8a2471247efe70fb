"""Token-window chunking with overlap; every chunk keeps its document's title and source."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from retriever.corpus import Passage
from retriever.errors import RetrieverError


def chunk_passages(passages: Sequence[Passage], tokenizer, max_tokens: int = 200,
                   overlap: int = 40, limit: int | None = None) -> list[Passage]:
    """Split each passage into windows of at most `max_tokens` tokenizer tokens, `overlap` shared.

    `tokenizer` is a Hugging Face fast tokenizer (the embedder's): windows are cut at token
    boundaries through its character offsets, so chunk text is an exact slice of the passage.
    A passage that fits stays whole and keeps its id; pieces get ids `<id>#<n>`.

    `limit` is what the encoder reads (its max_seq_length, special tokens included). The index
    embeds "title\ntext", so with a limit each passage's windows are made short enough for its
    title, the special tokens and the window to fit: the vector sees every word BM25 indexes,
    nothing is cut off silently.
    """
    if max_tokens < 8 or not 0 <= overlap < max_tokens:
        raise RetrieverError(f"chunking needs max_tokens >= 8 and 0 <= overlap < max_tokens; "
                             f"got {max_tokens} and {overlap}")
    # verbose=False: passages longer than the encoder's limit are expected here, they get split
    encoded = tokenizer([p.text for p in passages], add_special_tokens=False,
                        return_offsets_mapping=True, return_attention_mask=False, verbose=False)
    budgets = [max_tokens] * len(passages)
    if limit is not None:
        reserved = tokenizer.num_special_tokens_to_add(pair=False)
        titles = tokenizer([p.title for p in passages], add_special_tokens=False, return_attention_mask=False,
                           verbose=False)["input_ids"]
        budgets = [min(max_tokens, limit - reserved - len(title)) for title in titles]
        for passage, budget in zip(passages, budgets, strict=True):
            if budget < 8:
                raise RetrieverError(f"passage {passage.id!r}: its title leaves {budget} of the encoder's {limit} "
                                     "tokens for text; shorten the title")
    chunks: list[Passage] = []
    for passage, offsets, budget in zip(passages, encoded["offset_mapping"], budgets, strict=True):
        if len(offsets) <= budget:
            chunks.append(passage)
            continue
        shared = min(overlap, budget // 2)
        starts = range(0, max(len(offsets) - shared, 1), budget - shared)
        for n, start in enumerate(starts):
            window = offsets[start:start + budget]
            text = passage.text[window[0][0]:window[-1][1]].strip()
            chunks.append(replace(passage, id=f"{passage.id}#{n}", text=text))
    return chunks
