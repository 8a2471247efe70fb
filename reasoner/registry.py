"""Backends chosen by a spec string, like plugins chosen by name.

``llamacpp:embedded`` · ``llamacpp:/models/x.gguf?n_ctx=8192`` ·
``openai:http://127.0.0.1:8000/v1?model=WeiboAI/VibeThinker-3B`` ·
``transformers:/path/to/hf-checkpoint`` · ``transformers:embedded`` ·
``llamacpp:specialist`` (the specialist ``corecover train pipeline --config
training/configs/specialist.yaml`` trains and installs in the user cache).
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from reasoner.base import BackendError, ChatBackend

BACKENDS: dict[str, str] = {
    "llamacpp": "reasoner.llamacpp:LlamaCppBackend",
    "openai": "reasoner.openai_api:OpenAIBackend",
    "transformers": "reasoner.hf:TransformersBackend",
}
SPECIALIST = "specialist"
_INT_OPTIONS = {"n_ctx", "n_threads", "max_retries"}
_FLOAT_OPTIONS = {"timeout"}


def parse_spec(spec: str) -> tuple[str, str, dict[str, Any]]:
    """Split ``name:target?opt=v`` into ``(name, target, options)``; a bare ``.gguf`` path is llamacpp's."""
    name, _, rest = spec.strip().partition(":")
    name = name.lower()
    if name not in BACKENDS and spec.strip().lower().endswith(".gguf"):
        name, rest = "llamacpp", spec.strip()
    if name not in BACKENDS:
        raise BackendError(f"unknown backend {spec!r}: use one of {', '.join(sorted(BACKENDS))} "
                           "(e.g. `llamacpp:embedded` or `openai:http://127.0.0.1:8000/v1?model=NAME`)")
    parts = urlsplit(rest) if name == "openai" else None
    if parts is not None and parts.scheme:
        target = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        query = parts.query
    else:
        target, _, query = rest.partition("?")
    options: dict[str, Any] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        options[key] = int(value) if key in _INT_OPTIONS else float(value) if key in _FLOAT_OPTIONS else value
    return name, target or "embedded", options


def user_cache() -> Path:
    """corecover's user cache folder (``CORECOVER_CACHE`` overrides it)."""
    import platformdirs

    return Path(os.environ.get("CORECOVER_CACHE") or platformdirs.user_cache_dir("corecover"))


def specialist_gguf() -> Path:
    """Where the trained specialist GGUF is installed (it may not exist yet)."""
    return user_cache() / "specialist" / "specialist.gguf"


def resolve_specialist(name: str, target: str) -> str:
    """``llamacpp:specialist`` -> the installed specialist's path; other targets unchanged."""
    if name != "llamacpp" or target != SPECIALIST:
        return target
    path = specialist_gguf()
    if not path.is_file():
        raise BackendError(f"no trained specialist at {path}: train and install one with `corecover train "
                           "pipeline --config training/configs/specialist.yaml` (~30 min on 2 cores)")
    return str(path)


def load_backend(spec: str | ChatBackend = "llamacpp:embedded", **kwargs: Any) -> ChatBackend:
    """Create the backend a spec names; ``kwargs`` add or override spec options.

    An object that already is a backend is returned as it is.
    """
    if not isinstance(spec, str):
        return spec
    name, target, options = parse_spec(spec)
    target = resolve_specialist(name, target)
    module_name, _, class_name = BACKENDS[name].partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    options.update(kwargs)
    try:
        return cls(target, **options)
    except TypeError as exc:
        raise BackendError(f"bad option for the {name} backend in {spec!r}: {exc}") from exc


def demo_spec(announce: bool = False) -> str:
    """The reasoner ``make demo`` uses: the trained specialist when one is installed, else the embedded
    model (``announce`` says which on stderr)."""
    installed = specialist_gguf().is_file()
    if announce:
        import sys

        print(f"demo reasoner: {'the trained specialist ' + str(specialist_gguf()) if installed else 'the embedded SmolLM2-135M (no trained specialist installed)'}",
              file=sys.stderr)
    return f"llamacpp:{SPECIALIST}" if installed else "llamacpp:embedded"
