"""Data hygiene: n-gram decontamination against the eval benchmarks, and a degeneration filter."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

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


def decontaminate(records: Sequence[Record], bench_texts: Sequence[str], n: int = 13) -> tuple[list[Record], int]:
    """Drop records sharing a word ``n``-gram with any benchmark text, with the normalisation and
    n-grams of eval's contamination audit (an item shorter than ``n`` words counts as one gram).

    Returns the kept records and how many were dropped.
    """
    from eval.contamination import ngrams, normalize_words

    wanted: set[tuple[str, ...]] = set().union(*(ngrams(t, n) for t in bench_texts)) if bench_texts else set()
    sizes = {len(g) for g in wanted}

    def contaminated(record: Record) -> bool:
        words = normalize_words(" ".join(m["content"] for m in record.messages))
        return any(tuple(words[i:i + size]) in wanted for size in sizes for i in range(len(words) - size + 1))

    kept = [r for r in records if not contaminated(r)]
    return kept, len(records) - len(kept)
