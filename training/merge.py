"""Parameter-level checkpoint merging: a weighted average of state dicts (same architecture)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from training.config import MergeStageConfig


def normalized(weights: Sequence[float] | None, count: int) -> list[float]:
    """Weights summing to 1 (equal when none are given); negative or all-zero weights fail."""
    if not weights:
        return [1.0 / count] * count
    if len(weights) != count:
        raise ValueError(f"{len(weights)} merge weights for {count} checkpoints: give one weight per checkpoint")
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError(f"merge weights must be non-negative and not all zero, got {list(weights)}")
    total = float(sum(weights))
    return [w / total for w in weights]


def average_state_dicts(state_dicts: Sequence[Mapping], weights: Sequence[float] | None = None) -> dict:
    """Weighted average of floating-point tensors (accumulated in float32); other tensors come from
    the first state dict. Keys and shapes must agree."""
    import torch

    weights = normalized(weights, len(state_dicts))
    first = state_dicts[0]
    for i, sd in enumerate(state_dicts[1:], 1):
        if set(sd) != set(first):
            raise ValueError(f"checkpoint {i} has different parameters from checkpoint 0: merge needs one architecture")
    merged = {}
    for key, tensor in first.items():
        if not torch.is_floating_point(tensor):
            merged[key] = tensor.clone()
            continue
        total = torch.zeros_like(tensor, dtype=torch.float32)
        for weight, sd in zip(weights, state_dicts, strict=True):
            if sd[key].shape != tensor.shape:
                raise ValueError(f"{key}: shapes {tuple(sd[key].shape)} and {tuple(tensor.shape)} differ")
            total += weight * sd[key].float()
        merged[key] = total.to(tensor.dtype)
    return merged


def merge_checkpoints(checkpoints: Sequence[str], weights: Sequence[float] | None, output_dir: str | Path) -> Path:
    """Merge checkpoints into ``output_dir`` (the tokenizer is taken from the first one)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from training.checkpoint import resolve_model

    if not checkpoints:
        raise ValueError("no checkpoints to merge: list them under `checkpoints:` in the config")
    paths = [resolve_model(c) for c in checkpoints]
    models = [AutoModelForCausalLM.from_pretrained(p) for p in paths]
    merged = average_state_dicts([m.state_dict() for m in models], weights)
    base = models[0]
    base.load_state_dict(merged)
    output_dir = Path(output_dir)
    base.save_pretrained(output_dir)
    AutoTokenizer.from_pretrained(paths[0]).save_pretrained(output_dir)
    return output_dir


def run_merge(config: MergeStageConfig) -> dict:
    """The ``merge`` stage."""
    out = merge_checkpoints(config.checkpoints, config.weights, config.output_dir)
    return {"output_dir": str(out), "checkpoints": list(config.checkpoints),
            "weights": normalized(config.weights, len(config.checkpoints))}
