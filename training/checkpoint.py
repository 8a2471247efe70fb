"""Hugging Face checkpoints: the embedded GGUF converted once, and model loading for training."""

from __future__ import annotations

import os
from pathlib import Path

EMBEDDED = "embedded"


def cache_dir() -> Path:
    """corecover's user cache folder (``CORECOVER_CACHE`` overrides it)."""
    from reasoner.registry import user_cache

    return user_cache()


def embedded_hf_checkpoint(refresh: bool = False) -> Path:
    """The embedded SmolLM2-135M GGUF as a Hugging Face checkpoint, converted once into the cache.

    transformers dequantizes the GGUF on load but then refuses ``save_pretrained`` ("quantized
    with gguf"); a fresh model built from the config without ``quantization_config`` takes the
    same weights and saves normally.
    """
    target = cache_dir() / "smollm2-135m-instruct-hf"
    if (target / "config.json").exists() and not refresh:
        return target
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from reasoner.presets import embedded_gguf

    gguf = embedded_gguf()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    tmp = target.with_name(target.name + ".tmp")
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    if target.exists():
        import shutil

        shutil.rmtree(target)
    tmp.rename(target)
    return target


def resolve_model(name: str) -> str:
    """A model path or hub id; ``embedded`` names the converted embedded checkpoint."""
    return str(embedded_hf_checkpoint()) if name == EMBEDDED else name


def limit_cpu_threads() -> int:
    """On a CPU-only machine use half the cores for torch (``CORECOVER_TORCH_THREADS`` overrides):
    measured on a shared 2-core box, greedy decoding with 2 threads took 463 s where 1 took 80 s."""
    import torch

    if torch.cuda.is_available():
        return torch.get_num_threads()
    threads = int(os.environ.get("CORECOVER_TORCH_THREADS") or max(1, (os.cpu_count() or 2) // 2))
    torch.set_num_threads(threads)
    return threads


def load_model(name: str, dtype: str = "auto"):
    """Load ``(model, tokenizer)`` for training; a missing pad token becomes the EOS token."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    limit_cpu_threads()
    path = resolve_model(name)
    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    torch_dtype = "auto" if dtype == "auto" else getattr(torch, dtype)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype)
    return model, tokenizer
