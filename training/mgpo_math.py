"""The math of MGPO and Long2Short, on plain tensors (shared by the TRL trainer and the verl plugin).

MGPO (max-entropy guided policy optimisation) weights each group's advantages by
``w(q) = exp(-λ · D_ME(p(q) ‖ 0.5))``, where ``p(q)`` is the group's accuracy and
``D_ME`` the KL divergence between Bernoulli(p) and Bernoulli(0.5): groups near 50 %
accuracy (most uncertain, most to learn) keep their full weight.

Long2Short shifts the rewards of a group's *correct* answers by their relative
shortness: ``r'_i = r_i + λ · (s_i − s̄) / max_j |s_j − s̄|`` with ``s_i = 1 / L_i``
and the mean over the correct answers only.
"""

from __future__ import annotations

import math

import torch


def bernoulli_kl_to_half(p: torch.Tensor) -> torch.Tensor:
    """KL(Bernoulli(p) ‖ Bernoulli(0.5)) = log 2 − H(p), with 0·log 0 = 0."""
    p = p.clamp(0.0, 1.0)
    return math.log(2.0) + torch.xlogy(p, p) + torch.xlogy(1 - p, 1 - p)


def mgpo_weights(accuracy: torch.Tensor, lam: float) -> torch.Tensor:
    """Per-group weights ``exp(-λ · KL(p ‖ 0.5))``; exactly 1 when ``λ = 0``."""
    if lam == 0:
        return torch.ones_like(accuracy, dtype=torch.float32)
    return torch.exp(-lam * bernoulli_kl_to_half(accuracy.float()))


def group_accuracy(correct: torch.Tensor, group_size: int) -> torch.Tensor:
    """Mean correctness of each group of ``group_size`` consecutive samples, one value per group."""
    if correct.numel() % group_size:
        raise ValueError(f"{correct.numel()} samples do not split into groups of {group_size}")
    return correct.float().view(-1, group_size).mean(dim=1)


def long2short_shift(correct: torch.Tensor, lengths: torch.Tensor, lam: float = 0.2) -> torch.Tensor:
    """The Long2Short reward shift of one group (0 for incorrect answers).

    Shorter correct answers gain, longer ones lose, the shifts of the correct answers sum to
    zero, and nothing moves when every correct answer has the same length.
    """
    correct = correct.bool()
    shift = torch.zeros(lengths.shape, dtype=torch.float64)
    if correct.sum() < 2 or lam == 0:
        return shift
    s = 1.0 / lengths[correct].double().clamp(min=1)
    centred = s - s.mean()
    scale = centred.abs().max()
    if scale <= 1e-12:
        return shift
    shift[correct] = lam * centred / scale
    return shift


def long2short_rewards(rewards: torch.Tensor, correct: torch.Tensor, lengths: torch.Tensor,
                       group_size: int, lam: float = 0.2) -> torch.Tensor:
    """Apply :func:`long2short_shift` to every group of ``group_size`` consecutive samples."""
    out = rewards.clone().double()
    for start in range(0, rewards.numel(), group_size):
        group = slice(start, start + group_size)
        out[group] += long2short_shift(correct[group], lengths[group], lam)
    return out.to(rewards.dtype)
