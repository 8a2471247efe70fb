"""Offline self-distillation: sample teacher trajectories, keep the verified ones (rejection
sampling), score each by its learning potential for the student, select within per-domain length
buckets, then SFT the student on the selection."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console

from training.config import DistillStageConfig
from training.records import Record, write_records

console = Console(stderr=True)


def rejection_sample(teacher: str, records: list[Record], config: DistillStageConfig) -> list[Record]:
    """The teacher's verified answers: up to ``samples`` per problem, distinct texts only."""
    from training.rewards import is_correct
    from training.sampling import sample

    outputs = sample(teacher, [r.prompt for r in records], config.samples, config.sampling, seed=0)
    kept = []
    for record, texts in zip(records, outputs, strict=True):
        for text in dict.fromkeys(texts):
            if text.strip() and is_correct(text, record.reward):
                kept.append(record.with_response(text, teacher=teacher))
    return kept


def run_distill(config: DistillStageConfig, resume: bool = True) -> dict[str, Any]:
    """The ``distill`` stage."""
    from transformers import AutoTokenizer

    from training.checkpoint import resolve_model
    from training.data import load_data
    from training.filters import RepetitionFilter
    from training.potential import mean_token_nll, select_by_potential
    from training.sft import sft

    out = Path(config.output_dir)
    records = load_data(config.data)
    console.rule("[bold]self-distillation: teacher rejection sampling")
    traces = RepetitionFilter()(rejection_sample(config.teacher, records, config))
    metrics: dict[str, Any] = {"problems": len(records), "verified_traces": len(traces)}
    if not traces:
        raise ValueError("the teacher produced no verified trace: raise `samples`, the teacher's "
                         "max_new_tokens, or use a stronger teacher")
    console.rule("[bold]learning potential (student mean token NLL)")
    scores = mean_token_nll(config.model, traces)
    tokenizer = AutoTokenizer.from_pretrained(resolve_model(config.model))
    lengths = [len(tokenizer(t.response)["input_ids"]) for t in traces]
    selected = select_by_potential(traces, scores, lengths, config.bucket_edges, config.min_tokens,
                                   config.outlier_quantile, tuple(config.score_range), config.per_bucket)
    metrics["selected"] = len(selected)
    write_records(selected, out / "selected.jsonl")
    console.print(f"[dim]{len(traces)} verified traces, {len(selected)} selected[/]")
    if not selected:
        raise ValueError("no trace survived the selection: widen score_range or lower min_tokens")
    console.rule("[bold]SFT on the selection")
    metrics.update(sft(config.model, selected, out / "sft", config.train, resume))
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics
