"""Load a stage's records: read, drop degenerate responses, decontaminate, cap."""

from __future__ import annotations

import json
import random
from pathlib import Path

from rich.console import Console

from training.config import DataConfig
from training.filters import RepetitionFilter, decontaminate
from training.records import Record, read_records

console = Console(stderr=True)


def benchmark_texts(path: str | Path) -> list[str]:
    """Texts of a benchmark file to decontaminate against: JSONL/parquet (a prompt-like column) or text."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no benchmark file at {path} (data.decontaminate lists benchmark files)")
    if path.suffix == ".parquet":
        import pandas as pd

        rows = pd.read_parquet(path).to_dict("records")
    elif path.suffix == ".jsonl":
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    else:
        return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    keys = ("prompt", "question", "problem", "Question", "instruction", "text")
    texts = []
    for row in rows:
        key = next((k for k in keys if k in row), None)
        if key is None:
            raise ValueError(f"{path}: rows need one of the columns {', '.join(keys)}")
        texts.append(str(row[key]))
    return texts


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
