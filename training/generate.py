"""The ``generate`` stage: problems with worked solutions drawn by code from a seed (training.tasks),
decontaminated against the eval sets, written as record files for the stages after it.

Writes ``sft.jsonl`` (SFT stage 1), ``curriculum.jsonl`` (the pool SFT stage 2 mines for problems the
stage-1 model still fails), ``rl.jsonl`` (the pool the RL stage keeps the boundary problems of) and
``dev.jsonl`` (the development split that picks the SFT checkpoint), all disjoint from each other and
from the held-back evaluation set. With ``order: curriculum`` the SFT split is written easy to hard.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console

from training.config import GenerateStageConfig
from training.records import Record, write_records

console = Console(stderr=True)
SPLITS = ("sft", "curriculum", "rl", "dev")


def heldout_questions() -> set[str]:
    """Questions of eval's held-back generated arithmetic set (never trained on)."""
    from eval.hypothesis import heldout_rows

    return {row["prompt"] for row in heldout_rows()}


def without_template(prompt: str) -> str:
    """A benchmark prompt without eval's answer-format suffix: decontamination is about the problems, and
    the suffix (the same for every item) is the prompt format the specialist is trained to answer."""
    from eval.benchmarks import BOXED_SUFFIX

    return prompt.replace(BOXED_SUFFIX, " ")


def curriculum_order(records: list[Record], seed: int, jitter: float = 0.3, window: int = 64) -> list[Record]:
    """Easy to hard within every kind, all kinds mixed throughout: each record's key is its length rank
    among its kind's records (a longer worked solution has more steps or larger numbers), jittered.
    Then every ``window`` consecutive records are sorted by length, so batches taken in this order
    (``train_sampling_strategy: sequential``, batches dividing ``window``) carry little padding."""
    import random

    rng = random.Random(f"curriculum-{seed}")
    by_kind: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        by_kind.setdefault(r.meta.get("kind", ""), []).append(i)
    key = {}
    for members in by_kind.values():
        ranked = sorted(members, key=lambda i: len(records[i].response or ""))
        for rank, i in enumerate(ranked):
            key[i] = rank / max(1, len(ranked) - 1) + jitter * rng.random()
    order = sorted(range(len(records)), key=key.__getitem__)
    out: list[Record] = []
    for start in range(0, len(order), window):
        out += sorted((records[i] for i in order[start:start + window]),
                      key=lambda r: sum(len(m["content"]) for m in r.messages))
    return out


def run_generate(config: GenerateStageConfig, resume: bool = True) -> dict[str, Any]:
    """Draw each split from its own seed, drop exact duplicates of earlier splits and of the held-back
    set, then drop records sharing an n-gram with the ``decontaminate`` benchmarks."""
    from training.data import benchmark_texts
    from training.filters import decontaminate
    from training.tasks import problem_records

    out = Path(config.output_dir)
    done = out / "metrics.json"
    if resume and done.is_file() and all((out / f"{s}.jsonl").is_file() for s in SPLITS):
        return json.loads(done.read_text())
    sizes = {"sft": config.sft, "curriculum": config.curriculum, "rl": config.rl, "dev": config.dev}
    seen = heldout_questions() if config.exclude_heldout else set()
    bench = [without_template(t) for name in config.decontaminate for t in benchmark_texts(name)]
    metrics: dict[str, Any] = {"kinds": list(config.kinds), "seed": config.seed, "data_dir": str(out)}
    for offset, split in enumerate(SPLITS):
        records: list[Record] = problem_records(config.kinds, sizes[split], seed=config.seed * 10 + offset,
                                                exclude=seen, instructions=config.instructions,
                                                systems=config.systems)
        seen.update(record.meta["question"] for record in records)
        kept, dropped = decontaminate(records, bench, n=config.ngram) if bench else (records, 0)
        if split == "sft" and config.order == "curriculum":
            kept = curriculum_order(kept, config.seed)
        path = write_records(kept, out / f"{split}.jsonl")
        metrics[split] = {"path": str(path), "records": len(kept), "contaminated": dropped}
        console.print(f"[dim]{split}:[/] {len(kept)} records ({dropped} contaminated dropped) -> {path}")
    done.write_text(json.dumps(metrics, indent=2))
    return metrics

