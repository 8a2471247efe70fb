"""Decontamination audit: n-gram overlap between a training set and a benchmark.

Text is normalised (lower case, punctuation dropped, whitespace collapsed) and cut into word
n-grams (13 by default, as in GPT-3's and many later decontamination passes). An item shorter
than ``n`` words is matched as one whole n-gram. The report lists, per benchmark item, how many
of its n-grams occur in the training data and which training rows hold them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eval.benchmarks import Item

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def normalize_words(text: str) -> list[str]:
    """Lower-cased word tokens without punctuation."""
    return _WORD.findall(text.lower())


def ngrams(text: str, n: int = 13) -> set[tuple[str, ...]]:
    """The set of word n-grams of ``text`` (one shorter gram when it has fewer than ``n`` words)."""
    words = normalize_words(text)
    if not words:
        return set()
    if len(words) < n:
        return {tuple(words)}
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


@dataclass
class ItemOverlap:
    id: str
    ngrams: int
    matched: int
    fraction: float
    train_rows: list[int] = field(default_factory=list)


@dataclass
class ContaminationReport:
    """Per-item overlaps; ``flagged`` lists items with at least ``threshold`` of their n-grams matched."""

    n: int
    train_rows: int
    items: list[ItemOverlap]
    threshold: float = 0.0

    @property
    def flagged(self) -> list[ItemOverlap]:
        return [o for o in self.items if o.matched and o.fraction >= self.threshold]

    def summary(self) -> dict[str, Any]:
        return {"n": self.n, "train_rows": self.train_rows, "items": len(self.items),
                "flagged": len(self.flagged), "threshold": self.threshold,
                "flagged_ids": [o.id for o in self.flagged]}

    def to_dict(self) -> dict[str, Any]:
        return {**self.summary(), "per_item": [asdict(o) for o in self.items]}


def ngram_overlaps(train_texts: Iterable[str], bench_items: Iterable[Item | str], n: int = 13,
                   threshold: float = 0.0) -> ContaminationReport:
    """Which benchmark items share word ``n``-grams with the training texts, and how much."""
    items = [(getattr(it, "id", f"item-{i}"), getattr(it, "prompt", it)) for i, it in enumerate(bench_items)]
    item_grams = {item_id: ngrams(str(prompt), n) for item_id, prompt in items}
    wanted: dict[tuple[str, ...], list[str]] = {}
    for item_id, grams in item_grams.items():
        for gram in grams:
            wanted.setdefault(gram, []).append(item_id)
    hits: dict[str, set[tuple[str, ...]]] = {item_id: set() for item_id in item_grams}
    rows: dict[str, set[int]] = {item_id: set() for item_id in item_grams}
    lengths = {len(g) for g in wanted}
    count = 0
    for row, text in enumerate(train_texts):
        count += 1
        words = normalize_words(text)
        for size in lengths:
            for i in range(len(words) - size + 1):
                gram = tuple(words[i:i + size])
                for item_id in wanted.get(gram, ()):
                    hits[item_id].add(gram)
                    rows[item_id].add(row)
    overlaps = [ItemOverlap(id=item_id, ngrams=len(grams), matched=len(hits[item_id]),
                            fraction=len(hits[item_id]) / len(grams) if grams else 0.0,
                            train_rows=sorted(rows[item_id])[:20])
                for item_id, grams in item_grams.items()]
    return ContaminationReport(n=n, train_rows=count, items=overlaps, threshold=threshold)


def read_train_texts(path: str | Path, field_name: str | None = None) -> list[str]:
    """Texts of a JSONL training file: ``field_name``, else ``text``, ``messages`` (joined), ``prompt``."""
    texts = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            key = field_name or next((k for k in ("text", "messages", "prompt", "question") if k in row), None)
            if key is None or key not in row:
                raise ValueError(f"line {number} of {path} has no text field: pass --field NAME "
                                 f"(keys: {sorted(row)})")
            value = row[key]
            if isinstance(value, list):  # chat messages
                value = "\n".join(m.get("content", "") if isinstance(m, dict) else str(m) for m in value)
            texts.append(str(value))
    return texts
