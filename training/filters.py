"""Data hygiene: n-gram decontamination against the eval benchmarks, and a degeneration filter."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from training.records import Record


@dataclass(frozen=True)
class RepetitionFilter:
    """Drop responses that loop: too large a share of repeated word n-grams, or one n-gram
    repeated too often (the usual sign of a degenerate, runaway generation)."""

    n: int = 4
    max_repeated_fraction: float = 0.3
    max_count: int = 8

    def is_degenerate(self, text: str) -> bool:
        words = text.split()
        grams = [tuple(words[i:i + self.n]) for i in range(len(words) - self.n + 1)]
        if not grams:
            return False
        counts = Counter(grams)
        repeated = sum(c for c in counts.values() if c > 1) - sum(1 for c in counts.values() if c > 1)
        return repeated / len(grams) > self.max_repeated_fraction or max(counts.values()) > self.max_count

    def __call__(self, records: Sequence[Record]) -> list[Record]:
        return [r for r in records if not (r.response and self.is_degenerate(r.response))]


def decontaminate(records: Sequence[Record], bench_items: Sequence[Any], n: int = 13) -> tuple[list[Record], int]:
    """Drop records that share an ``n``-gram with any benchmark item (eval's contamination audit).

    Returns the kept records and how many were dropped.
    """
    from eval.contamination import ngram_overlaps

    texts = [" ".join(m["content"] for m in r.messages) for r in records]
    flagged = {_train_index(hit) for hit in ngram_overlaps(texts, bench_items, n=n)}
    kept = [r for i, r in enumerate(records) if i not in flagged]
    return kept, len(records) - len(kept)


def _train_index(hit: Any) -> int:
    """The training-text index of one overlap that eval's audit reports."""
    if isinstance(hit, int):
        return hit
    if isinstance(hit, dict):
        return int(hit.get("train_index", hit.get("train_idx", hit.get("index"))))
    for name in ("train_index", "train_idx", "index"):
        if hasattr(hit, name):
            return int(getattr(hit, name))
    return int(hit[0])
