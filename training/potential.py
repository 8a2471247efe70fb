"""Learning potential: how much a student can still learn from a trace, measured as the student's
mean negative log-likelihood per response token, and the selection that uses it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from training.records import Record


def mean_token_nll(model: Any, tokenizer: Any, records: Sequence[Record], batch_size: int = 8) -> list[float]:
    """The student's mean NLL over each record's last assistant turn (the prompt is context only)."""
    import torch

    if tokenizer.padding_side != "right":
        raise ValueError("mean_token_nll needs a right-padding tokenizer: set tokenizer.padding_side = 'right'")
    model.eval()
    scores: list[float] = []
    with torch.no_grad():
        for start in range(0, len(records), batch_size):
            batch = records[start:start + batch_size]
            prompts = [tokenizer.apply_chat_template(r.prompt, tokenize=False, add_generation_prompt=True)
                       for r in batch]
            fulls = [p + r.response + (tokenizer.eos_token or "") for p, r in zip(prompts, batch, strict=True)]
            encoded = tokenizer(fulls, return_tensors="pt", padding=True, add_special_tokens=False)
            prompt_lengths = [len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts]
            logits = model(**encoded.to(model.device)).logits[:, :-1].float()
            targets = encoded["input_ids"][:, 1:]
            nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets, reduction="none")
            mask = encoded["attention_mask"][:, 1:].clone()
            for row, length in enumerate(prompt_lengths):
                mask[row, :length - 1] = 0  # positions predicting prompt tokens
            scores.extend(((nll * mask).sum(1) / mask.sum(1).clamp(min=1)).tolist())
    return scores


def bucket_of(length: int, edges: Sequence[int]) -> int:
    """Index of the length bucket: 0 below edges[0], ..., len(edges) at or above the last edge."""
    return int(np.searchsorted(np.asarray(edges), length, side="right"))


def select_by_potential(records: Sequence[Record], scores: Sequence[float], lengths: Sequence[int],
                        bucket_edges: Sequence[int], min_tokens: int = 8, outlier_quantile: float = 0.99,
                        score_range: tuple[float, float] = (0.4, 0.99),
                        per_bucket: int | None = None) -> list[Record]:
    """Choose traces per (domain, length bucket): drop traces shorter than ``min_tokens`` and scores
    above the bucket's ``outlier_quantile``, keep the ``score_range`` quantile band (middle to high
    potential), highest score first, at most ``per_bucket`` each."""
    lo, hi = score_range
    if not 0 <= lo < hi <= 1:
        raise ValueError(f"score_range must be two quantiles 0 <= lo < hi <= 1, got {score_range}")
    groups: dict[tuple[str, int], list[int]] = defaultdict(list)
    for i, (record, length) in enumerate(zip(records, lengths, strict=True)):
        if length >= min_tokens:
            groups[(record.domain, bucket_of(length, bucket_edges))].append(i)
    chosen: list[Record] = []
    for key in sorted(groups):
        members = groups[key]
        values = np.asarray([scores[i] for i in members])
        ceiling = np.quantile(values, outlier_quantile)
        inliers = [i for i in members if scores[i] <= ceiling]
        band = np.asarray([scores[i] for i in inliers])
        low, high = np.quantile(band, lo), np.quantile(band, hi)
        kept = sorted((i for i in inliers if low <= scores[i] <= high), key=lambda i: -scores[i])
        chosen.extend(records[i].with_response(records[i].response, potential=scores[i], bucket=key[1])
                      for i in kept[:per_bucket])
    return chosen
