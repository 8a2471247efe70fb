"""Export a trained checkpoint to GGUF with llama.cpp's own converter, check it, install it atomically.

The converter is ``convert_hf_to_gguf.py`` with its ``gguf-py``, taken from the llama-cpp-python
source distribution of the installed version (``vendor/llama.cpp``): fetched once from PyPI into the
user cache (:func:`ensure_converter`, or ``corecover train fetch-converter``), never committed. An
export then

1. runs the converter in a subprocess (``--outtype f16`` or ``q8_0``) into a temporary file;
2. loads the file in llama.cpp (a GGUF llama.cpp rejects stops here, with a one-line error);
3. compares the next-token log-probs of the checkpoint (transformers) and the GGUF (llama.cpp) on a
   few chat prompts, over the checkpoint's 20 most likely tokens (:func:`roundtrip`); too large a
   difference stops the export;
4. renames the file into place (and writes a ``.json`` card beside it), so the agent never loads a
   half-written model.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

from rich.console import Console

from training.config import ExportStageConfig

console = Console(stderr=True)
OUTTYPES = ("f16", "q8_0", "bf16", "f32")
CONVERTER_FILES = ("convert_hf_to_gguf.py", "conversion", "gguf-py")
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json")


class ExportError(RuntimeError):
    """An export cannot proceed; the message says why and what to do."""


def converter_dir() -> Path:
    """Where the converter of the installed llama-cpp-python version lives in the user cache."""
    from training.checkpoint import cache_dir

    return cache_dir() / "llama.cpp-converter" / version("llama-cpp-python")


def ensure_converter(fetch: bool = True) -> Path:
    """The converter script (fetched from the llama-cpp-python sdist on PyPI the first time)."""
    folder = converter_dir()
    script = folder / "convert_hf_to_gguf.py"
    if script.is_file() and all((folder / name).exists() for name in CONVERTER_FILES):
        return script
    if not fetch:
        raise ExportError(f"llama.cpp's converter is not in {folder}: run `corecover train fetch-converter`")
    wanted = f"llama-cpp-python=={version('llama-cpp-python')}"
    console.print(f"[dim]fetching llama.cpp's converter from the {wanted} source distribution (~77 MB, once)[/]")
    with tempfile.TemporaryDirectory(prefix="corecover-sdist-") as tmp:
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                               "--progress-bar", "on", "-d", tmp, wanted], stdout=sys.stderr)
        archives = list(Path(tmp).glob("llama_cpp_python-*.tar.gz"))
        if done.returncode or not archives:
            raise ExportError(f"could not download the {wanted} source distribution from PyPI (pip exit "
                              f"{done.returncode}); check the network, or unpack its vendor/llama.cpp/"
                              f"convert_hf_to_gguf.py and gguf-py into {folder}")
        _unpack_converter(archives[0], folder)
    return script


def _unpack_converter(archive: Path, folder: Path) -> None:
    import tarfile

    staging = folder.with_name(folder.name + f".tmp{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers()
                   if "/vendor/llama.cpp/" in m.name and
                   m.name.split("/vendor/llama.cpp/", 1)[1].split("/")[0] in CONVERTER_FILES]
        if not members:
            raise ExportError(f"{archive.name} holds no vendor/llama.cpp/convert_hf_to_gguf.py")
        for member in members:
            member.name = member.name.split("/vendor/llama.cpp/", 1)[1]
        tar.extractall(staging, members=members, filter="data")
    shutil.rmtree(folder, ignore_errors=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging.rename(folder)


def finished_checkpoint(run: str | Path) -> Path:
    """The finished model of ``run``: a checkpoint folder, a stage folder with ``final/``, or a pipeline
    folder whose every stage is done. An unfinished run raises :class:`ExportError`."""
    run = Path(run)
    if not run.is_dir():
        raise ExportError(f"{run} is not a folder: give a checkpoint or a training run folder")
    if (run / "config.json").is_file():
        if not any((run / f).is_file() for f in WEIGHT_FILES):
            raise ExportError(f"{run} has a config.json but no weights: the run did not finish saving")
        return run
    plan = run / "pipeline.json"
    if plan.is_file():
        stages = json.loads(plan.read_text())["stages"]
        unfinished = [s["stage"] for s in stages if not (Path(s["output_dir"]) / "stage_done.json").is_file()]
        model_stages = [s for s in stages if s["stage"] not in ("generate", "export")]
        if unfinished and any(s["stage"] != "export" for s in stages if s["stage"] in unfinished):
            raise ExportError(f"{run} is an unfinished pipeline (not done: {', '.join(unfinished)}): "
                              "finish it first (rerun the same command: it resumes)")
        if not model_stages:
            raise ExportError(f"{run} trains no model: nothing to export")
        done = json.loads((Path(model_stages[-1]["output_dir"]) / "stage_done.json").read_text())
        return finished_checkpoint(done.get("model") or done["output_dir"])
    if (run / "final").is_dir():
        return finished_checkpoint(run / "final")
    if (run / "stage_done.json").is_file():
        done = json.loads((run / "stage_done.json").read_text())
        return finished_checkpoint(done.get("model") or done["output_dir"])
    raise ExportError(f"{run} holds no finished model (no final/, no stage_done.json, no config.json): "
                      "is the training run unfinished?")


def convert(checkpoint: Path, outfile: Path, outtype: str = "q8_0") -> Path:
    """Run llama.cpp's converter on ``checkpoint``; a failure is an :class:`ExportError`."""
    if outtype not in OUTTYPES:
        raise ExportError(f"unknown outtype {outtype!r}: use one of {', '.join(OUTTYPES)}")
    script = ensure_converter()
    done = subprocess.run([sys.executable, str(script), str(checkpoint), "--outfile", str(outfile),
                           "--outtype", outtype], capture_output=True, text=True,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if done.returncode or not outfile.is_file():
        lines = [line for line in (done.stderr or done.stdout).strip().splitlines() if line.strip()]
        raise ExportError(f"llama.cpp's converter failed on {checkpoint}: {lines[-1] if lines else done.returncode}")
    return outfile


def load_gguf(path: Path, logits_all: bool = False) -> Any:
    """The GGUF loaded in llama.cpp; a file llama.cpp rejects raises :class:`ExportError`."""
    from llama_cpp import Llama

    try:
        llm = Llama(model_path=str(path), n_ctx=512, n_threads=1, n_threads_batch=1, logits_all=logits_all,
                    verbose=False)
    except (ValueError, RuntimeError) as exc:
        raise ExportError(f"llama.cpp rejects {path.name}: {exc}") from exc
    if not llm.metadata.get("tokenizer.chat_template"):
        llm.close()
        raise ExportError(f"{path.name} has no chat template: the agent could not prompt it")
    return llm


def roundtrip(checkpoint: Path, gguf: Path, prompts: list[str], top: int = 20) -> dict[str, Any]:
    """Next-token log-probs of the checkpoint (transformers) and the GGUF (llama.cpp) on chat prompts:
    the largest absolute difference over the checkpoint's ``top`` most likely tokens, and whether both
    pick the same most likely token."""
    import numpy as np
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    model = AutoModelForCausalLM.from_pretrained(checkpoint, dtype=torch.float32).eval()
    llm = load_gguf(gguf, logits_all=True)
    diffs, agree = [], 0
    try:
        for prompt in prompts:
            text = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                                 add_generation_prompt=True)
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            with torch.no_grad():
                hf = torch.log_softmax(model(torch.tensor([ids])).logits[0, -1].float(), -1).numpy()
            llm.reset()
            llm.eval(ids)
            logits = np.asarray(llm.scores[len(ids) - 1], dtype=np.float64)
            gg = logits - logits.max() - np.log(np.exp(logits - logits.max()).sum())
            best = np.argsort(-hf)[:top]
            diffs.append(float(np.abs(hf[best] - gg[best]).max()))
            agree += int(np.argmax(hf) == np.argmax(gg))
    finally:
        llm.close()
    return {"prompts": len(prompts), "top_tokens": top, "max_abs_logprob_diff": max(diffs),
            "per_prompt": diffs, "same_argmax": agree}


def export_gguf(run: str | Path, output: str | Path | None = None, outtype: str = "q8_0",
                prompts: list[str] | None = None, max_diff: float = 1.0) -> dict[str, Any]:
    """Convert, check and install; returns the card written beside the GGUF."""
    from reasoner.registry import specialist_gguf

    checkpoint = finished_checkpoint(run)
    target = Path(output) if output else specialist_gguf()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    start = time.perf_counter()
    try:
        convert(checkpoint, tmp, outtype)
        load_gguf(tmp).close()
        check = roundtrip(checkpoint, tmp, prompts or ExportStageConfig().check_prompts)
        if check["max_abs_logprob_diff"] > max_diff:
            raise ExportError(f"the GGUF's next-token log-probs differ from the checkpoint's by "
                              f"{check['max_abs_logprob_diff']:.3f} (> {max_diff}): not installed")
        card = {"gguf": str(target), "checkpoint": str(checkpoint), "source_run": str(run), "outtype": outtype,
                "bytes": tmp.stat().st_size, "roundtrip": check, "seconds": round(time.perf_counter() - start, 1),
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "llama_cpp_python": version("llama-cpp-python")}
        card_tmp = tmp.with_suffix(".json.tmp")
        card_tmp.write_text(json.dumps(card, indent=2))
        tmp.replace(target)
        card_tmp.replace(target.with_suffix(".json"))
    finally:
        tmp.unlink(missing_ok=True)
        tmp.with_suffix(".json.tmp").unlink(missing_ok=True)
    console.print(f"[green]exported[/] {checkpoint} -> {target} ({outtype}, {card['bytes'] / 1e6:.0f} MB; "
                  f"max |Δ log-prob| {check['max_abs_logprob_diff']:.4f} over the top {check['top_tokens']} tokens)")
    return card


def run_export(config: ExportStageConfig, resume: bool = True) -> dict[str, Any]:
    """The ``export`` stage of a pipeline (its ``model`` is the previous stage's output)."""
    if not config.model:
        raise ValueError("export: no model to export: set `model` (a checkpoint or a run folder)")
    card = export_gguf(config.model, config.output, config.outtype, config.check_prompts, config.max_logprob_diff)
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(card, indent=2))
    return card
