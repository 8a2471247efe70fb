"""Reciprocal rank fusion of several ranked lists."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def reciprocal_rank_fusion(rankings: Mapping[str, Sequence[int]], weights: Mapping[str, float] | None = None,
                           k: float = 60.0) -> list[tuple[int, float]]:
    """Fuse ranked id lists: score(d) = sum over lists of weight / (k + rank of d), rank from 1.

    Returns (id, fused score) pairs, best first; ties keep the order of first appearance.
    """
    fused: dict[int, float] = {}
    for name, ids in rankings.items():
        weight = 1.0 if weights is None else weights.get(name, 1.0)
        for rank, doc in enumerate(ids, 1):
            fused[doc] = fused.get(doc, 0.0) + weight / (k + rank)
    return sorted(fused.items(), key=lambda item: -item[1])
