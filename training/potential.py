"""Learning potential: how much a student can still learn from a trace, measured as the student's
mean negative log-likelihood per response token, and the selection that uses it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from training.records import Record


def mean_token_nll(student: str, records: Sequence[Record]) -> list[float]:
    """The student's mean NLL per token of each record's last assistant turn, given its prompt
    (log-probs from reasoner's transformers backend; no system prompt is added)."""
    from rich.progress import track

    from reasoner.hf import TransformersBackend
    from training.checkpoint import limit_cpu_threads, resolve_model

    limit_cpu_threads()
    backend = TransformersBackend(resolve_model(student), system="")
    scores = []
    for record in track(records, description="learning potential", transient=True):
        logprobs = [lp for _, _, lp in backend.logprobs(record.prompt, record.response or "")]
        scores.append(-sum(logprobs) / len(logprobs) if logprobs else 0.0)
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
