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
    "generate": "Generate problems with worked solutions (training.tasks), decontaminated, as record files.",
    "export": "Export a checkpoint to GGUF (see export-gguf), as a pipeline stage.",
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
    from training.export_gguf import ExportError
    from training.pipeline import run_pipeline, run_stage

    try:
        if stage == "pipeline":
            result = run_pipeline(load_config(config, PipelineConfig), resume=not fresh)
        else:
            result = run_stage(stage, load_config(config, STAGES[stage]), resume=not fresh)
    except (ValueError, FileNotFoundError, ExportError) as exc:
        fail(exc)
    print(json.dumps(result, indent=2, default=str))


def fail(exc: BaseException) -> None:
    """Print a one-line error and exit 1."""
    console.print(f"[bold red]error:[/] {' '.join(str(exc).split())}", soft_wrap=True, markup=True)
    raise typer.Exit(1) from exc


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


@app.command("export-gguf")
def export_gguf_cmd(
    run_dir: Annotated[str, typer.Argument(help="a finished run: pipeline folder, stage folder or checkpoint")],
    output: Annotated[str | None, typer.Option(help="the .gguf to write (default: the user-cache specialist, "
                                                     "what `llamacpp:specialist` loads)")] = None,
    outtype: Annotated[str, typer.Option(help="f16 or q8_0 (also bf16, f32)")] = "q8_0",
    max_diff: Annotated[float, typer.Option(help="largest next-token log-prob difference to accept")] = 1.0,
) -> None:
    """Convert a trained checkpoint to GGUF with llama.cpp's converter, check it, install it atomically."""
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from training.export_gguf import ExportError, export_gguf

    try:
        card = export_gguf(run_dir, output, outtype, max_diff=max_diff)
    except (ExportError, ValueError, FileNotFoundError) as exc:
        fail(exc)
    print(json.dumps(card, indent=2))


@app.command("fetch-converter")
def fetch_converter() -> None:
    """Fetch llama.cpp's convert_hf_to_gguf.py (from the llama-cpp-python sdist) into the cache; print its path."""
    from training.export_gguf import ExportError, ensure_converter

    try:
        print(ensure_converter())
    except ExportError as exc:
        fail(exc)
