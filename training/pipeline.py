"""Stages by name, run alone or chained by a pipeline config."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from training.config import STAGES, PipelineConfig, from_dict

console = Console(stderr=True)


def stage_runner(stage: str) -> Callable[..., dict[str, Any]]:
    """The function that runs a stage (imported lazily: training imports are heavy)."""
    if stage == "sft":
        from training.sft import run_sft as run
    elif stage == "merge":
        from training.merge import run_merge as run
    elif stage == "mgpo":
        from training.mgpo import run_mgpo as run
    elif stage == "distill":
        from training.distill import run_distill as run
    elif stage == "instruct-rl":
        from training.instruct import run_instruct_rl as run
    else:
        raise ValueError(f"unknown stage {stage!r}: use one of {', '.join(STAGES)}")
    return run


def run_stage(stage: str, config: Any, resume: bool = True) -> dict[str, Any]:
    """Run one stage with its config dataclass."""
    run = stage_runner(stage)
    return run(config) if stage == "merge" else run(config, resume=resume)


def run_pipeline(config: PipelineConfig, resume: bool = True) -> list[dict[str, Any]]:
    """Run the stages in order. A stage without ``model`` (or ``checkpoints`` for merge) starts from
    the previous stage's output; ``output_dir`` defaults to ``<pipeline output>/<index>-<stage>``."""
    results: list[dict[str, Any]] = []
    previous: str | None = None
    root = Path(config.output_dir)
    for index, entry in enumerate(config.stages):
        entry = dict(entry)
        stage = entry.pop("stage", None)
        if stage not in STAGES:
            raise ValueError(f"pipeline stage {index}: `stage` must be one of {', '.join(STAGES)}, got {stage!r}")
        entry.setdefault("output_dir", str(root / f"{index}-{stage}"))
        if previous is not None:
            if stage == "merge":
                entry.setdefault("checkpoints", [previous])
            else:
                entry.setdefault("model", previous)
        stage_config = from_dict(STAGES[stage], entry, where=f"pipeline stage {index} ({stage})")
        console.rule(f"[bold]pipeline {index + 1}/{len(config.stages)}: {stage}")
        done_marker = Path(stage_config.output_dir) / "stage_done.json"
        if resume and done_marker.exists():
            result = json.loads(done_marker.read_text())
            console.print(f"[dim]{stage} already done in {stage_config.output_dir}; skipped[/]")
        else:
            result = run_stage(stage, stage_config, resume=resume)
            done_marker.parent.mkdir(parents=True, exist_ok=True)
            done_marker.write_text(json.dumps(result, indent=2, default=str))
        previous = result.get("model") or result.get("output_dir")
        results.append({"stage": stage, **result})
    return results
