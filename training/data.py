"""Load a stage's records: read, drop degenerate responses, decontaminate, cap."""

from __future__ import annotations

import random

from rich.console import Console

from training.config import DataConfig
from training.filters import RepetitionFilter, decontaminate
from training.records import Record, read_records

console = Console(stderr=True)


def benchmark_texts(source: str) -> list[str]:
    """Prompts of a benchmark to decontaminate against: an eval benchmark name (``aime24``,
    ``gsm8k``, ...; read from the shared data folder) or ``name:path`` for a file."""
    from eval.benchmarks import load_benchmark

    name, _, path = source.partition(":")
    return [item.prompt for item in load_benchmark(name, path or None)]


def load_data(config: DataConfig) -> list[Record]:
    """The records of ``config.paths``, cleaned as configured."""
    if not config.paths:
        raise ValueError("no training data: set data.paths to one or more JSONL record files")
    records = read_records(config.paths)
    total = len(records)
    if config.repetition_filter:
        records = RepetitionFilter()(records)
    degenerate = total - len(records)
    contaminated = 0
    if config.decontaminate:
        bench = [t for p in config.decontaminate for t in benchmark_texts(p)]
        records, contaminated = decontaminate(records, bench, n=config.ngram)
    if config.limit is not None and len(records) > config.limit:
        records = random.Random(config.seed).sample(records, config.limit)
    console.print(f"[dim]data:[/] {total} records, {degenerate} degenerate and {contaminated} contaminated "
                  f"dropped, {len(records)} kept")
    return records
