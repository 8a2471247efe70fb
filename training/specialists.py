"""Diversity-exploring distillation: score periodic checkpoints by pass@K on per-domain probe
sets, keep each domain's best checkpoint as its specialist, and merge the specialists."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from training.config import SpecialistsConfig
from training.merge import merge_checkpoints
from training.records import read_records

console = Console(stderr=True)


def probe_score(checkpoint: str, probe_path: str, config: SpecialistsConfig) -> float:
    """Mean pass@K of a checkpoint on one probe set."""
    from eval.scoring import pass_at_k
    from training.rewards import is_correct
    from training.sampling import sample

    if config.k > config.samples:
        raise ValueError(f"pass@{config.k} needs specialists.samples >= {config.k}")
    records = read_records(probe_path)
    outputs = sample(checkpoint, [r.prompt for r in records], config.samples, config.sampling, seed=0)
    scores = [pass_at_k(config.samples, sum(is_correct(t, r.reward) for t in texts), config.k)
              for r, texts in zip(records, outputs, strict=True)]
    return sum(scores) / len(scores)


def checkpoints_in(run_dir: str | Path) -> list[Path]:
    """The ``checkpoint-N`` folders of a Trainer run, oldest first."""
    found = [p for p in Path(run_dir).glob("checkpoint-*") if p.name.split("-")[-1].isdigit()]
    return sorted(found, key=lambda p: int(p.name.split("-")[-1]))


def select_and_merge(run_dir: str | Path, config: SpecialistsConfig, output_dir: str | Path) -> dict:
    """Score every checkpoint of ``run_dir`` per domain, pick each domain's best, merge them."""
    if not config.probes:
        raise ValueError("specialists need probe sets: set specialists.probes to {domain: probe.jsonl}")
    candidates = checkpoints_in(run_dir)
    if not candidates:
        raise ValueError(f"no checkpoint-N folders in {run_dir}: set train.save_steps so checkpoints are saved")
    table: dict[str, dict[str, float]] = {}
    for checkpoint in candidates:
        table[checkpoint.name] = {}
        for domain, probe in config.probes.items():
            table[checkpoint.name][domain] = probe_score(str(checkpoint), probe, config)
        console.print(f"[dim]{checkpoint.name}[/] pass@{config.k}: {table[checkpoint.name]}")
    best = {domain: max(candidates, key=lambda c, d=domain: table[c.name][d]) for domain in config.probes}
    domains = list(best)
    weights = [config.weights.get(d, 1.0) for d in domains]
    merged = merge_checkpoints([str(best[d]) for d in domains], weights, output_dir)
    return {"pass_at_k": table, "specialists": {d: best[d].name for d in domains}, "merged": str(merged)}
