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
    if stage == "generate":
        from training.generate import run_generate as run
    elif stage == "export":
        from training.export_gguf import run_export as run
    elif stage == "sft":
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





PREVIOUS = "<previous stage>"  # placeholder for the model the previous model stage leaves
DATA_ONLY = ("generate", "export")  # stages that leave the model as it is


def stage_configs(config: PipelineConfig) -> list[tuple[str, Any]]:
    """Each stage's name and config dataclass. A stage without ``model`` (``checkpoints`` for merge)
    starts from the previous model stage's output (:data:`PREVIOUS` until it is known);
    ``output_dir`` defaults to ``<pipeline output>/<index>-<stage>``."""
    out: list[tuple[str, Any]] = []
    after_model = False
    root = Path(config.output_dir)
    for index, entry in enumerate(config.stages):
        entry = dict(entry)
        stage = entry.pop("stage", None)
        if stage not in STAGES:
            raise ValueError(f"pipeline stage {index}: `stage` must be one of {', '.join(STAGES)}, got {stage!r}")
        entry.setdefault("output_dir", str(root / f"{index}-{stage}"))
        if after_model and stage == "merge":
            entry.setdefault("checkpoints", [PREVIOUS])
        elif after_model and stage != "generate":
            entry.setdefault("model", PREVIOUS)
        out.append((stage, from_dict(STAGES[stage], entry, where=f"pipeline stage {index} ({stage})")))
        after_model = after_model or stage not in DATA_ONLY
    return out


def check_inputs(stages: list[tuple[str, Any]]) -> None:
    """Fail before any work when a stage names a model or data file that nothing provides."""
    from training.checkpoint import EMBEDDED
    from training.generate import SPLITS

    produced: set[str] = set()
    earlier_outputs: list[Path] = []  # a model inside an earlier stage's output exists by the time it is needed
    for index, (stage, config) in enumerate(stages):
        where = f"pipeline stage {index} ({stage})"
        data = getattr(config, "data", None)
        for path in (data.paths if data is not None else []):
            if str(Path(path)) not in produced and not Path(path).is_file():
                raise FileNotFoundError(f"{where}: data file {path} does not exist and no earlier generate "
                                        "stage writes it")
        models = getattr(config, "checkpoints", None) or [getattr(config, "model", None)]
        for model in models:
            if not model:
                if stage != "generate":
                    raise ValueError(f"{where}: no model to start from: set `model`")
                continue
            provided = model in (EMBEDDED, PREVIOUS) or Path(model).exists() or _hub_id(model) \
                or any(Path(model).is_relative_to(out) for out in earlier_outputs)
            if not provided:
                raise FileNotFoundError(f"{where}: model {model} does not exist (give a checkpoint folder, "
                                        "a hub id or `embedded`)")
        earlier_outputs.append(Path(config.output_dir))
        if stage == "generate":
            produced |= {str(Path(config.output_dir) / f"{split}.jsonl") for split in SPLITS}


def _hub_id(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and all(parts) and not name.startswith((".", "~")) and not Path(parts[0]).exists()


def run_pipeline(config: PipelineConfig, resume: bool = True) -> list[dict[str, Any]]:
    """Run the stages in order (see :func:`stage_configs`); a finished stage is skipped on a rerun."""
    stages = stage_configs(config)
    check_inputs(stages)
    root = Path(config.output_dir)
    root.mkdir(parents=True, exist_ok=True)
    plan = [{"stage": stage, "output_dir": c.output_dir} for stage, c in stages]
    (root / "pipeline.json").write_text(json.dumps({"stages": plan}, indent=2))
    results: list[dict[str, Any]] = []
    previous: str | None = None
    for index, (stage, stage_config) in enumerate(stages):
        if getattr(stage_config, "model", None) == PREVIOUS:
            stage_config.model = previous
        if stage == "merge":
            stage_config.checkpoints = [previous if c == PREVIOUS else c for c in stage_config.checkpoints]
        console.rule(f"[bold]pipeline {index + 1}/{len(stages)}: {stage}")
        done_marker = Path(stage_config.output_dir) / "stage_done.json"
        if resume and done_marker.exists():
            result = json.loads(done_marker.read_text())
            console.print(f"[dim]{stage} already done in {stage_config.output_dir}; skipped[/]")
        else:
            result = run_stage(stage, stage_config, resume=resume)
            done_marker.parent.mkdir(parents=True, exist_ok=True)
            tmp = done_marker.with_suffix(".tmp")
            tmp.write_text(json.dumps(result, indent=2, default=str))
            tmp.replace(done_marker)
        if stage not in DATA_ONLY:
            previous = result.get("model") or result.get("output_dir")
        results.append({"stage": stage, **result})
    return results
