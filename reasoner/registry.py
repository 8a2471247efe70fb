"""Backends chosen by a spec string, like plugins chosen by name.

``llamacpp:embedded`` · ``llamacpp:/models/x.gguf?n_ctx=8192`` ·
``openai:http://127.0.0.1:8000/v1?model=WeiboAI/VibeThinker-3B`` ·
``transformers:/path/to/hf-checkpoint`` · ``transformers:embedded``.
"""

from __future__ import annotations

import importlib
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from reasoner.base import BackendError, ChatBackend

BACKENDS: dict[str, str] = {
    "llamacpp": "reasoner.llamacpp:LlamaCppBackend",
    "openai": "reasoner.openai_api:OpenAIBackend",
    "transformers": "reasoner.hf:TransformersBackend",
}
_INT_OPTIONS = {"n_ctx", "n_threads", "max_retries"}
_FLOAT_OPTIONS = {"timeout"}


def parse_spec(spec: str) -> tuple[str, str, dict[str, Any]]:
    """Split ``name:target?opt=v`` into ``(name, target, options)``."""
    name, _, rest = spec.strip().partition(":")
    name = name.lower()
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


def load_backend(spec: str | ChatBackend = "llamacpp:embedded", **kwargs: Any) -> ChatBackend:
    """Create the backend a spec names; ``kwargs`` add or override spec options.

    An object that already is a backend is returned as it is.
    """
    if not isinstance(spec, str):
        return spec
    name, target, options = parse_spec(spec)
    module_name, _, class_name = BACKENDS[name].partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    options.update(kwargs)
    try:
        return cls(target, **options)
    except TypeError as exc:
        raise BackendError(f"bad option for the {name} backend in {spec!r}: {exc}") from exc
