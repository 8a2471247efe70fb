"""``corecover train STAGE --config X.yaml``: run one post-training stage, or the whole pipeline."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(help="Post-train the reasoner: SFT, merge, MGPO/Long2Short, self-distillation, Instruct RL.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
console = Console(stderr=True)

STAGE_HELP = {
    "sft": "Curriculum SFT (broad mixture, then the hard subset; optional specialist merge).",
    "merge": "Merge checkpoints by a weighted average of their parameters.",
    "mgpo": "MGPO reinforcement learning (Long2Short with long2short_lambda > 0).",
    "distill": "Offline self-distillation: verified teacher traces selected by learning potential, then SFT.",
    "instruct-rl": "Instruct RL: IFEval rule rewards plus a rubric judge for open-ended prompts.",
    "pipeline": "Run the stages of a pipeline config in order, each from the previous one's output.",
}

ConfigOption = Annotated[str, typer.Option("--config", "-c", help="YAML config (see training/configs/)")]
FreshOption = Annotated[bool, typer.Option("--fresh", help="start over instead of resuming an interrupted run")]


def run(stage: str, config: str, fresh: bool = False) -> None:
    """Run ``stage`` with a YAML config and print its metrics as JSON."""
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from training.config import STAGES, PipelineConfig, load_config
    from training.pipeline import run_pipeline, run_stage

    try:
        if stage == "pipeline":
            result = run_pipeline(load_config(config, PipelineConfig), resume=not fresh)
        else:
            result = run_stage(stage, load_config(config, STAGES[stage]), resume=not fresh)
    except (ValueError, FileNotFoundError) as exc:
        console.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    print(json.dumps(result, indent=2, default=str))


def _register(stage: str) -> None:
    def command(config: ConfigOption, fresh: FreshOption = False) -> None:
        run(stage, config, fresh)

    command.__doc__ = STAGE_HELP[stage]
    app.command(stage)(command)


for _stage in STAGE_HELP:
    _register(_stage)


@app.command("convert-embedded")
def convert_embedded(refresh: Annotated[bool, typer.Option(help="convert again")] = False) -> None:
    """Convert the embedded SmolLM2-135M GGUF to a Hugging Face checkpoint (cached); print its path."""
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from training.checkpoint import embedded_hf_checkpoint

    print(embedded_hf_checkpoint(refresh=refresh))
