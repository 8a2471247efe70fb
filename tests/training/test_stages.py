"""Smoke runs of every stage on the tiny model (1–2 optimiser steps each), the CLI, resuming,
and MGPO with λ = 0 reproducing TRL's GRPO exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from training.cli import app

pytestmark = pytest.mark.slow

TINY_SFT = {"max_steps": 1, "per_device_train_batch_size": 4, "max_length": 64, "packing": False,
            "save_steps": 1, "logging_steps": 1, "learning_rate": 1e-4, "warmup_steps": 0}
TINY_GRPO = {"max_steps": 1, "per_device_train_batch_size": 4, "num_generations": 2,
             "max_completion_length": 8, "save_steps": 1, "logging_steps": 1, "learning_rate": 1e-5, "seed": 7,
             "warmup_steps": 0}
TINY_SAMPLING = {"max_new_tokens": 8, "batch_size": 16}


def write_yaml(path: Path, data: dict) -> str:
    path.write_text(yaml.safe_dump(data))
    return str(path)


def invoke(*args: str) -> dict:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line in ("{", "["))
    return json.loads("\n".join(lines[start:]))


def test_sft_curriculum_specialists_and_resume(tiny_model, arithmetic_file, tmp_path):
    config = {
        "model": tiny_model, "data": {"paths": [str(arithmetic_file)]}, "output_dir": str(tmp_path / "sft"),
        "curriculum": {"min_tokens": 1, "rollouts": 2, "min_error_rate": 0.5,
                       "sampling": {**TINY_SAMPLING, "temperature": 1.0}},
        "specialists": {"probes": {"math": str(arithmetic_file)}, "k": 1, "samples": 1,
                        "sampling": {**TINY_SAMPLING, "temperature": 0}},
        "train": TINY_SFT,
    }
    metrics = invoke("sft", "--config", write_yaml(tmp_path / "sft.yaml", config))
    assert metrics["stage1"]["steps"] == 1 and Path(metrics["stage1"]["model"], "config.json").exists()
    counts = metrics["hard_subset"]
    assert counts["records"] == 8 and counts["long_enough"] == 8 and 0 <= counts["hard"] <= 8
    run_dir = "stage2" if "stage2" in metrics else "stage1"
    assert metrics["specialists"]["specialists"]["math"] == "checkpoint-1"
    assert set(metrics["specialists"]["pass_at_k"]) == {"checkpoint-1"}
    assert Path(metrics["model"], "model.safetensors").exists()

    # an interrupted run resumes from its last checkpoint: continue stage 1 to two steps
    config["train"] = {**TINY_SFT, "max_steps": 2}
    config["curriculum"] = {"enabled": False}
    config["specialists"] = None
    resumed = invoke("sft", "--config", write_yaml(tmp_path / "sft2.yaml", config))
    assert resumed["stage1"]["resumed_from"].endswith("checkpoint-1") and resumed["stage1"]["steps"] == 2
    history = json.loads(Path(resumed["stage1"]["log_history"]).read_text())
    assert any("loss" in entry for entry in history)
    assert run_dir in {"stage1", "stage2"}


def test_mgpo_long2short_stage(tiny_model, arithmetic_file, tmp_path):
    config = {"model": tiny_model, "data": {"paths": [str(arithmetic_file)]}, "output_dir": str(tmp_path / "mgpo"),
              "mgpo_lambda": 1.0, "long2short_lambda": 0.2, "filter_sampling": TINY_SAMPLING,
              "train": {**TINY_GRPO, "num_generations": 4, "per_device_train_batch_size": 8}}
    metrics = invoke("mgpo", "--config", write_yaml(tmp_path / "mgpo.yaml", config))
    assert 1 <= metrics["kept_after_filter"] <= 8
    assert metrics["steps"] == 1 and Path(metrics["model"], "model.safetensors").exists()
    logged = json.loads(Path(metrics["log_history"]).read_text())[0]
    assert 0 < logged["mgpo/weight_mean"] <= 1 and "rewards/correctness_reward/mean" in logged


def test_instruct_rl_stage(tiny_model, ifeval_file, tmp_path):
    config = {"model": tiny_model, "data": {"paths": [str(ifeval_file)]}, "output_dir": str(tmp_path / "irl"),
              "mgpo_lambda": 0.5, "filter_solved": False, "train": TINY_GRPO}
    metrics = invoke("instruct-rl", "--config", write_yaml(tmp_path / "irl.yaml", config))
    assert metrics["steps"] == 1
    rewards = json.loads(Path(metrics["log_history"]).read_text())[0]["rewards/correctness_reward/mean"]
    assert 0 <= rewards <= 1


def test_distill_stage(tiny_model, arithmetic_file, tmp_path):
    config = {"model": tiny_model, "teacher": tiny_model, "data": {"paths": [str(arithmetic_file)]},
              "output_dir": str(tmp_path / "distill"), "samples": 2,
              "sampling": {"max_new_tokens": 16, "temperature": 0}, "min_tokens": 2, "score_range": [0.0, 1.0],
              "outlier_quantile": 1.0, "bucket_edges": [8], "train": TINY_SFT}
    metrics = invoke("distill", "--config", write_yaml(tmp_path / "distill.yaml", config))
    assert metrics["verified_traces"] >= 1 and 1 <= metrics["selected"] <= metrics["verified_traces"]
    selected = [json.loads(line) for line in Path(tmp_path / "distill" / "selected.jsonl").read_text().splitlines()]
    assert all(r["meta"]["potential"] > 0 for r in selected)
    assert metrics["steps"] == 1


def test_pipeline_chains_sft_into_merge(tiny_model, arithmetic_file, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    config = {"output_dir": str(tmp_path / "pipe"), "stages": [
        {"stage": "sft", "model": tiny_model, "data": {"paths": [str(arithmetic_file)]},
         "curriculum": {"enabled": False}, "train": TINY_SFT},
        {"stage": "merge", "checkpoints": ["PREVIOUS", tiny_model], "weights": [1, 1]},
    ]}
    config["stages"][1]["checkpoints"][0] = str(tmp_path / "pipe" / "0-sft" / "stage1" / "final")
    results = invoke("pipeline", "--config", write_yaml(tmp_path / "pipe.yaml", config))
    assert [r["stage"] for r in results] == ["sft", "merge"]
    tuned = AutoModelForCausalLM.from_pretrained(results[0]["model"]).state_dict()
    base = AutoModelForCausalLM.from_pretrained(tiny_model).state_dict()
    merged = AutoModelForCausalLM.from_pretrained(results[1]["output_dir"]).state_dict()
    key = "model.layers.0.mlp.up_proj.weight"
    assert not torch.equal(tuned[key], base[key])
    assert torch.allclose(merged[key], (tuned[key] + base[key]) / 2, atol=1e-6)
    again = invoke("pipeline", "--config", str(tmp_path / "pipe.yaml"))  # done stages are skipped
    assert again[1]["output_dir"] == results[1]["output_dir"]


def test_mgpo_lambda_zero_reproduces_grpo(tiny_model, arithmetic_file, tmp_path):
    import torch
    from trl import GRPOConfig, GRPOTrainer

    from training.checkpoint import load_model
    from training.mgpo import MGPOTrainer
    from training.records import read_records, rl_dataset
    from training.rewards import completion_text, correctness_reward
    from training.trainer_utils import GRPO_DEFAULTS, trl_config

    def brevity(completions, **_):  # varies within every group, so the step always moves the weights
        return [1.0 / (1 + len(completion_text(c))) for c in completions]

    dataset = rl_dataset(read_records(arithmetic_file)[:2])

    def one_step(cls, **extra):
        model, tokenizer = load_model(tiny_model)
        args = trl_config(GRPOConfig, tmp_path / cls.__name__, GRPO_DEFAULTS,
                          {**TINY_GRPO, "save_strategy": "no", "max_completion_length": 6,
                           "learning_rate": 1e-3, "temperature": 1.0})
        trainer = cls(model=model, reward_funcs=[correctness_reward, brevity], args=args, train_dataset=dataset,
                      processing_class=tokenizer, **extra)
        trainer.train()
        return {k: v.detach().clone() for k, v in model.state_dict().items()}, trainer.state.log_history

    grpo, grpo_log = one_step(GRPOTrainer)
    mgpo, mgpo_log = one_step(MGPOTrainer, mgpo_lambda=0.0)
    assert grpo_log[0]["reward"] == mgpo_log[0]["reward"]
    assert all(torch.equal(grpo[k], mgpo[k]) for k in grpo)
    assert any(not torch.equal(grpo[k], base) for k, base in load_model(tiny_model)[0].state_dict().items())


def test_learning_potential_is_student_nll(tiny_model):
    from training.potential import mean_token_nll
    from training.tasks import arithmetic_records

    records = arithmetic_records(2, kinds=("add1",), seed=11)
    fluent = mean_token_nll(tiny_model, records)
    garbled = mean_token_nll(tiny_model, [r.with_response("purple ostrich seventeen kettle") for r in records])
    assert all(0 < f < g for f, g in zip(fluent, garbled, strict=True))
