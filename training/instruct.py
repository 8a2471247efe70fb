"""Instruct RL: rule validators (eval's IFEval checks: format, ordering, item count, keywords) as
rewards for ``ifeval`` records, plus the rubric judge for open-ended ``rubric`` records; trained with
the MGPO trainer (``mgpo_lambda: 0`` for plain GRPO)."""

from __future__ import annotations

from typing import Any

from training.config import MGPOStageConfig
from training.data import load_data
from training.mgpo import run_mgpo


def run_instruct_rl(config: MGPOStageConfig, resume: bool = True) -> dict[str, Any]:
    """The ``instruct-rl`` stage."""
    kinds = {r.reward["kind"] for r in load_data(config.data)}
    if "rubric" in kinds and not config.judge:
        raise ValueError("rubric records need a judge: set judge: {base_url: ..., model: ...} in the config")
    if not kinds <= {"ifeval", "rubric"}:
        raise ValueError(f"instruct-rl trains on ifeval and rubric records, found {sorted(kinds)}; "
                         "use the mgpo stage for verifiable reasoning data")
    return run_mgpo(config, resume=resume)
