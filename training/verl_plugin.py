"""MGPO and Long2Short as verl plugins, so the same algorithms run on verl / Ray.

* ``compute_mgpo_advantage`` is registered with verl's advantage-estimator registry
  (``verl.trainer.ppo.core_algos.register_adv_est``) as ``mgpo``: Long2Short shaping of the
  correct answers' rewards (when ``long2short_lambda > 0``), verl's own GRPO advantage, then the
  MGPO group weight. Select it with ``algorithm.adv_estimator=mgpo``; set
  ``+algorithm.mgpo_lambda=1.0`` and ``+algorithm.long2short_lambda=0.2``.
* ``compute_score`` follows verl's custom reward function contract
  (``custom_reward_function.path=training/verl_plugin.py custom_reward_function.name=compute_score``).

verl cannot be installed on this machine; everything verl-free here is tested, the registration
runs when verl is importable. Launch with ``python -m training.verl_plugin <verl overrides>``,
which registers the estimator and then runs ``verl.trainer.main_ppo``.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import torch

from training.mgpo_math import long2short_shift, mgpo_weights

ESTIMATOR = "mgpo"


def _option(config: Any, key: str, default: float) -> float:
    """An algorithm option from verl's config (DictConfig or dataclass), else ``CORECOVER_<KEY>``."""
    value = None
    if config is not None:
        value = config.get(key, None) if hasattr(config, "get") else getattr(config, key, None)
    if value is None:
        value = os.environ.get(f"CORECOVER_{key.upper()}", default)
    return float(value)


def group_shaping(scores: torch.Tensor, lengths: torch.Tensor, index: np.ndarray | list, mgpo_lambda: float,
                  long2short_lambda: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample ``(reward shift, advantage weight)`` for samples grouped by prompt ``index``
    (verl's ``uid``); a sample is correct when its score is at least 1."""
    correct = scores >= 1.0
    shift = torch.zeros_like(scores, dtype=torch.float64)
    weight = torch.ones_like(scores, dtype=torch.float32)
    groups: dict[Any, list[int]] = {}
    for i, key in enumerate(index):
        groups.setdefault(key, []).append(i)
    for members in groups.values():
        rows = torch.tensor(members)
        if long2short_lambda > 0:
            shift[rows] = long2short_shift(correct[rows], lengths[rows], long2short_lambda)
        weight[rows] = mgpo_weights(correct[rows].float().mean().reshape(1), mgpo_lambda)
    return shift, weight


def compute_mgpo_advantage(token_level_rewards: torch.Tensor, response_mask: torch.Tensor, index: np.ndarray,
                           epsilon: float = 1e-6, norm_adv_by_std_in_grpo: bool = True, config: Any = None,
                           **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """verl advantage estimator ``mgpo`` (returns ``(advantages, returns)`` like verl's GRPO)."""
    from verl.trainer.ppo.core_algos import compute_grpo_outcome_advantage

    mgpo_lambda = _option(config, "mgpo_lambda", 1.0)
    long2short_lambda = _option(config, "long2short_lambda", 0.0)
    scores = token_level_rewards.sum(dim=-1)
    lengths = response_mask.sum(dim=-1)
    shift, weight = group_shaping(scores, lengths, index, mgpo_lambda, long2short_lambda)
    shaped = token_level_rewards.clone()
    last = (lengths - 1).clamp(min=0).long()
    rows = torch.arange(shaped.shape[0], device=shaped.device)
    shaped[rows, last] += shift.to(shaped.dtype).to(shaped.device)
    advantages, _ = compute_grpo_outcome_advantage(
        token_level_rewards=shaped, response_mask=response_mask, index=index, epsilon=epsilon,
        norm_adv_by_std_in_grpo=norm_adv_by_std_in_grpo, config=config)
    advantages = advantages * weight.to(advantages.device).unsqueeze(-1)
    return advantages, advantages


def compute_score(data_source: str, solution_str: str, ground_truth: Any, extra_info: dict | None = None,
                  **_: Any) -> float:
    """verl custom reward function: our verifiers. The reward spec comes from ``extra_info["reward"]``,
    from ``ground_truth`` when it is a JSON spec, or else from ``data_source`` naming the kind
    (``math``, ``option``, ``code``) with ``ground_truth`` as the answer or tests."""
    from training.rewards import score

    spec = (extra_info or {}).get("reward")
    if spec is None and isinstance(ground_truth, str) and ground_truth.lstrip().startswith("{"):
        spec = json.loads(ground_truth)
    if spec is None:
        kind = next((k for k in ("option", "code", "math") if k in str(data_source).lower()), "math")
        spec = {"kind": kind, ("tests" if kind == "code" else "answer"): ground_truth}
    return score(solution_str, spec) or 0.0


def register() -> bool:
    """Register ``mgpo`` with verl's advantage-estimator registry; False when verl is absent."""
    try:
        from verl.trainer.ppo.core_algos import register_adv_est
    except ImportError:
        return False
    register_adv_est(ESTIMATOR)(compute_mgpo_advantage)
    return True


def main() -> None:
    """Register the plugin, then run verl's PPO entry point with the command-line overrides."""
    if not register():
        raise SystemExit("verl is not installed: `pip install verl` on the GPU cluster (see training/README.md)")
    from verl.trainer.main_ppo import main as verl_main

    verl_main()


register()

if __name__ == "__main__":
    main()
