"""What every stage does around a TRL trainer: build its config, resume, train, save, log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SFT_DEFAULTS: dict[str, Any] = {
    "learning_rate": 1e-5,
    "num_train_epochs": 1,
    "lr_scheduler_type": "cosine",
    "warmup_steps": 0.05,
    "packing": True,
    "logging_steps": 1,
    "save_strategy": "steps",
    "save_steps": 500,
    "report_to": "none",
    "disable_tqdm": False,
}

GRPO_DEFAULTS: dict[str, Any] = {
    "learning_rate": 1e-6,
    "num_generations": 8,
    "max_completion_length": 1024,
    "lr_scheduler_type": "cosine",
    "warmup_steps": 0.05,
    "logging_steps": 1,
    "save_strategy": "steps",
    "save_steps": 100,
    "report_to": "none",
    "beta": 0.0,
}


def trl_config(cls: type, output_dir: str | Path, defaults: dict[str, Any], overrides: dict[str, Any]) -> Any:
    """A TRL config (``SFTConfig``/``GRPOConfig``) from our defaults and the stage's ``train`` keys."""
    import dataclasses

    allowed = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(overrides) - allowed)
    if unknown:
        raise ValueError(f"train: {', '.join(unknown)} not options of trl.{cls.__name__}")
    options = {k: v for k, v in {**defaults, **overrides}.items() if k in allowed}
    if not _has_accelerator():
        # TRL defaults to bf16, which a CPU run refuses; activation checkpointing only costs time there
        if "bf16" not in overrides:
            options["bf16"] = False
        if "gradient_checkpointing" not in overrides:
            options["gradient_checkpointing"] = False
    return cls(output_dir=str(output_dir), **options)


def _has_accelerator() -> bool:
    import torch

    return torch.cuda.is_available() or (hasattr(torch, "xpu") and torch.xpu.is_available())


def last_checkpoint(output_dir: str | Path) -> str | None:
    """The newest ``checkpoint-N`` of an interrupted run, to resume from."""
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(output_dir)) if Path(output_dir).is_dir() else None


def time_budget(seconds: float) -> Any:
    """A trainer callback that ends training (saving a checkpoint) once ``seconds`` of training have
    passed in this process: a run on a busier machine stops on time instead of overrunning."""
    import time

    from transformers import TrainerCallback

    class TimeBudget(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            self.start = time.monotonic()

        def on_step_end(self, args, state, control, **kwargs):
            if time.monotonic() - self.start > seconds:
                state.stopped_by_time_budget = True  # noted in the stage's metrics
                control.should_training_stop = control.should_save = True
            return control

    return TimeBudget()


def train_and_save(trainer: Any, output_dir: str | Path, resume: bool = True,
                   time_budget_s: float | None = None) -> dict[str, Any]:
    """Train (resuming from the last checkpoint when there is one; within ``time_budget_s`` seconds when
    set), save model, tokenizer and the log history; return the final metrics."""
    import time

    output_dir = Path(output_dir)
    checkpoint = last_checkpoint(output_dir) if resume else None
    if time_budget_s:
        trainer.add_callback(time_budget(time_budget_s))
    start = time.monotonic()
    result = trainer.train(resume_from_checkpoint=checkpoint)
    final = output_dir / "final"
    trainer.save_model(str(final))
    trainer.processing_class.save_pretrained(str(final))
    history = trainer.state.log_history
    (output_dir / "log_history.json").write_text(json.dumps(history, indent=1))
    return {"model": str(final), "resumed_from": checkpoint, "steps": trainer.state.global_step,
            "max_steps": trainer.state.max_steps, "train_loss": result.training_loss,
            "train_seconds": round(time.monotonic() - start, 1),
            "stopped_by_time_budget": bool(getattr(trainer.state, "stopped_by_time_budget", False)),
            "log_history": str(output_dir / "log_history.json")}
