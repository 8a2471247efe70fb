"""Curriculum SFT on TRL's SFTTrainer.

Stage 1 learns the broad mixture; stage 2 continues on the hard subset chosen by a joint
length-difficulty filter (long traces of problems the reference model still gets wrong).
With ``specialists`` set, the run's periodic checkpoints are scored per domain and the best
ones merged (diversity-exploring distillation).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console

from training.config import CurriculumConfig, SelectConfig, SFTStageConfig
from training.data import load_data
from training.records import Record, sft_dataset
from training.trainer_utils import SFT_DEFAULTS, train_and_save, trl_config

console = Console(stderr=True)


def sft(model: str, records: list[Record], output_dir: str | Path, train: dict[str, Any],
        resume: bool = True, time_budget_s: float | None = None) -> dict[str, Any]:
    """Supervised fine-tuning of ``model`` on the records' chat messages."""
    from trl import SFTConfig, SFTTrainer

    from training.checkpoint import load_model

    policy, tokenizer = load_model(model)
    args = trl_config(SFTConfig, output_dir, SFT_DEFAULTS, train)
    trainer = SFTTrainer(model=policy, args=args, train_dataset=sft_dataset(records), processing_class=tokenizer)
    return train_and_save(trainer, output_dir, resume=resume, time_budget_s=time_budget_s)


def error_rates(reference: str, records: list[Record], config: CurriculumConfig) -> list[float]:
    """The reference model's error rate on each record over ``config.rollouts`` samples."""
    from training.rewards import is_correct
    from training.sampling import sample

    outputs = sample(reference, [r.prompt for r in records], config.rollouts, config.sampling, seed=0)
    return [1.0 - sum(is_correct(t, r.reward) for t in texts) / len(texts)
            for r, texts in zip(records, outputs, strict=True)]


def hard_subset(records: list[Record], reference: str, config: CurriculumConfig,
                tokenizer: Any) -> tuple[list[Record], dict[str, int]]:
    """Keep traces of at least ``min_tokens`` tokens whose problem the reference model gets wrong at
    least ``min_error_rate`` of the time (the length filter runs first: it is free)."""
    long_enough = [r for r in records if len(tokenizer(r.response or "")["input_ids"]) >= config.min_tokens]
    rates = error_rates(reference, long_enough, config) if long_enough else []
    hard = [r.with_response(r.response, reference_error_rate=rate)
            for r, rate in zip(long_enough, rates, strict=True) if rate >= config.min_error_rate]
    return hard, {"records": len(records), "long_enough": len(long_enough), "hard": len(hard)}


def select_checkpoint(run: Path, config: SelectConfig, cache: Path) -> dict[str, Any]:
    """Greedy dev accuracy of the run's newest ``config.last`` checkpoints (each scored once, kept in
    ``cache`` for a resumed run); the best one (the newest among ties) is the stage's model."""
    from training.probe import greedy_accuracy

    checkpoints = sorted(run.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))[-config.last:]
    candidates = [str(p) for p in checkpoints] or [str(run / "final")]
    scores: dict[str, Any] = json.loads(cache.read_text()) if cache.is_file() else {}
    records = load_data(config.data)
    for path in candidates:
        if path not in scores:
            scores[path] = greedy_accuracy(path, records, config.max_new_tokens, config.batch_size)
            cache.write_text(json.dumps(scores, indent=1))
            console.print(f"[dim]dev accuracy {scores[path]['all']:.3f}: {path}[/]")
    best = max(candidates, key=lambda p: (scores[p]["all"], candidates.index(p)))
    return {"model": best, "dev_accuracy": {p: scores[p] for p in candidates}, "dev_items": len(records)}


def run_sft(config: SFTStageConfig, resume: bool = True) -> dict[str, Any]:
    """The ``sft`` stage: curriculum stage 1, stage 2 on the hard subset, optional specialist merge."""
    from transformers import AutoTokenizer

    out = Path(config.output_dir)
    records = load_data(config.data)
    console.rule("[bold]SFT stage 1: broad mixture")
    metrics: dict[str, Any] = {"stage1": sft(config.model, records, out / "stage1", config.train, resume,
                                             config.time_budget_s)}
    last_run, model = out / "stage1", metrics["stage1"]["model"]
    curriculum = config.curriculum
    if curriculum.enabled:
        pool = load_data(curriculum.data) if curriculum.data else records
        tokenizer = AutoTokenizer.from_pretrained(model)
        hard, counts = hard_subset(pool, curriculum.reference_model or model, curriculum, tokenizer)
        metrics["hard_subset"] = counts
        console.print(f"[dim]hard subset:[/] {counts}")
        if hard:
            console.rule("[bold]SFT stage 2: hard subset")
            metrics["stage2"] = sft(model, hard, out / "stage2", {**config.train, **curriculum.train}, resume)
            last_run, model = out / "stage2", metrics["stage2"]["model"]
        else:
            console.print("[yellow]the hard subset is empty: stage 2 skipped "
                          "(lower curriculum.min_tokens or curriculum.min_error_rate)")
    if config.select is not None:
        console.rule("[bold]checkpoint selection on the dev split")
        metrics["select"] = select_checkpoint(last_run, config.select, out / "select.json")
        model = metrics["select"]["model"]
    if config.specialists is not None:
        from training.specialists import select_and_merge

        console.rule("[bold]specialists: pass@K per domain, then merge")
        metrics["specialists"] = select_and_merge(last_run, config.specialists, out / "merged")
        model = metrics["specialists"]["merged"]
    metrics["model"] = model
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics
