"""MGPO (and Long2Short) as a thin subclass of TRL's GRPOTrainer.

TRL computes group-normalised advantages inside ``_generate_and_score_completions``; there is
no separate hook. So the subclass overrides two methods and changes nothing else:

* ``_calculate_rewards`` (returns the rewards gathered over processes): records each sample's
  success, and with Long2Short shifts the correct answers' rewards by their shortness;
* ``_generate_and_score_completions``: multiplies the advantages TRL computed by the group
  weight ``exp(-λ·KL(p(q) ‖ 0.5))``. With ``λ = 0`` nothing is touched: plain GRPO.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from trl import GRPOTrainer

from training.config import MGPOStageConfig, SamplingConfig
from training.mgpo_math import group_accuracy, long2short_rewards, mgpo_weights
from training.records import Record

console = Console(stderr=True)


def success_per_sample(rewards_per_func: torch.Tensor) -> torch.Tensor:
    """Each sample's success in [0, 1]: its first non-missing reward (correctness first, then e.g. a
    judge's score for open-ended prompts); 0 when every reward is missing."""
    filled = torch.zeros(rewards_per_func.shape[0], device=rewards_per_func.device)
    done = torch.zeros_like(filled, dtype=torch.bool)
    for column in rewards_per_func.T:
        take = ~done & ~torch.isnan(column)
        filled[take] = column[take].float()
        done |= take
    return filled.clamp(0.0, 1.0)


class MGPOTrainer(GRPOTrainer):
    """GRPOTrainer whose group advantages are weighted by ``exp(-λ·KL(p(q) ‖ 0.5))``.

    ``correctness_index`` names the reward function whose value says an answer is correct
    (1.0); Long2Short shifts that column when ``long2short_lambda > 0``.
    """

    def __init__(self, *args: Any, mgpo_lambda: float = 1.0, long2short_lambda: float = 0.0,
                 correctness_index: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.mgpo_lambda = mgpo_lambda
        self.long2short_lambda = long2short_lambda
        self.correctness_index = correctness_index
        self._success: torch.Tensor | None = None

    def _group_size(self) -> int:
        return self.num_generations if self.model.training else self.num_generations_eval

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        self._success = success_per_sample(rewards)
        if self.long2short_lambda > 0:
            from accelerate.utils import gather

            local = torch.tensor([len(ids) for ids in completion_ids_list], device=rewards.device)
            lengths = gather(local)
            column = rewards[:, self.correctness_index]
            shifted = long2short_rewards(torch.nan_to_num(column), self._success >= 1.0, lengths,
                                         self._group_size(), self.long2short_lambda)
            rewards[:, self.correctness_index] = torch.where(torch.isnan(column), column, shifted)
        return rewards

    def _generate_and_score_completions(self, inputs):
        output = super()._generate_and_score_completions(inputs)
        group = self._group_size()
        accuracy = group_accuracy(self._success, group)
        self._log_groups(accuracy)
        if self.mgpo_lambda == 0:
            return output
        weights = mgpo_weights(accuracy, self.mgpo_lambda)
        per_sample = weights.repeat_interleave(group).to(output["advantages"].device)
        start = self.accelerator.process_index * len(inputs)
        output["advantages"] = output["advantages"] * per_sample[start:start + len(inputs)]
        mode = "train" if self.model.training else "eval"
        self._metrics[mode]["mgpo/weight_mean"].append(weights.mean().item())
        return output

    def _log_groups(self, accuracy: torch.Tensor) -> None:
        """Append each training group's accuracy p(q) and entropy weight w(q) = exp(-KL(p ‖ 0.5)) (λ = 1,
        whether or not it is applied) to ``groups.jsonl`` in the output folder."""
        if not self.model.training or not self.accelerator.is_main_process:
            return
        record = {"step": self.state.global_step, "p": [round(p, 4) for p in accuracy.tolist()],
                  "w": [round(w, 4) for w in mgpo_weights(accuracy, 1.0).tolist()], "lambda": self.mgpo_lambda}
        with open(Path(self.args.output_dir) / "groups.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")


def start_accuracy(model: Any, tokenizer: Any, records: list[Record], rollouts: int,
                   sampling: SamplingConfig) -> list[float]:
    """Each record's accuracy over ``rollouts`` samples of the stage's start model."""
    from training.rewards import score
    from training.sampling import sample

    outputs = sample(model, [r.prompt for r in records], rollouts, sampling, tokenizer=tokenizer, seed=0)
    return [sum(score(t, r.reward) or 0.0 for t in texts) / len(texts)
            for r, texts in zip(records, outputs, strict=True)]


def drop_solved_and_unsolved(records: list[Record], accuracies: list[float]) -> list[Record]:
    """Keep prompts whose start accuracy is strictly between 0 and 1 (the others give GRPO no signal);
    prompts no rule can check (``rubric``) are kept."""
    return [r for r, acc in zip(records, accuracies, strict=True)
            if r.reward["kind"] == "rubric" or 0.0 < acc < 1.0]


def reward_functions(config: MGPOStageConfig) -> list:
    """Correctness by the domain verifiers, plus the rubric judge when one is configured."""
    from training.rewards import correctness_reward

    funcs: list = [correctness_reward]
    if config.judge:
        from training.judge import RubricJudge

        funcs.append(RubricJudge(**config.judge))
    return funcs


def run_mgpo(config: MGPOStageConfig, resume: bool = True) -> dict[str, Any]:
    """The ``mgpo`` stage (Long2Short when ``long2short_lambda > 0``)."""
    from trl import GRPOConfig

    from training.checkpoint import load_model
    from training.data import load_data
    from training.records import rl_dataset
    from training.trainer_utils import GRPO_DEFAULTS, train_and_save, trl_config

    out = Path(config.output_dir)
    args = trl_config(GRPOConfig, out, GRPO_DEFAULTS, config.train)
    records = load_data(config.data)
    policy, tokenizer = load_model(config.model)
    metrics: dict[str, Any] = {"records": len(records)}
    if config.filter_solved:
        rollouts = args.num_generations
        accuracies = start_accuracy(policy, tokenizer, records, rollouts, config.filter_sampling)
        records = drop_solved_and_unsolved(records, accuracies)
        metrics["start_accuracy"] = sum(accuracies) / max(len(accuracies), 1)
        metrics["kept_after_filter"] = len(records)
        console.print(f"[dim]start accuracy {metrics['start_accuracy']:.3f}; {len(records)} prompts "
                      f"with accuracy strictly between 0 and 1 kept[/]")
        if not records:
            raise ValueError("every prompt is always or never solved by the start model: nothing to learn; "
                             "use harder/easier data or set filter_solved: false")
    trainer = MGPOTrainer(model=policy, reward_funcs=reward_functions(config), args=args,
                          train_dataset=rl_dataset(records), processing_class=tokenizer,
                          mgpo_lambda=config.mgpo_lambda, long2short_lambda=config.long2short_lambda)
    metrics.update(train_and_save(trainer, out, resume=resume))
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics
