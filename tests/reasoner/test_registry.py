"""Backends chosen by spec string; bad specs and missing files fail with one clear line."""

from __future__ import annotations

import pytest

from reasoner import BackendError, load_backend
from reasoner.registry import parse_spec


def test_parse_spec_splits_target_and_typed_options() -> None:
    assert parse_spec("openai:http://127.0.0.1:8000/v1?model=WeiboAI/VibeThinker-3B&timeout=5&max_retries=1") == (
        "openai", "http://127.0.0.1:8000/v1", {"model": "WeiboAI/VibeThinker-3B", "timeout": 5.0, "max_retries": 1})
    assert parse_spec("llamacpp:/m/x.gguf?n_ctx=8192") == ("llamacpp", "/m/x.gguf", {"n_ctx": 8192})
    assert parse_spec("LlamaCpp") == ("llamacpp", "embedded", {})


@pytest.mark.parametrize("spec", ["vllm:http://x", "gpt4", ""])
def test_unknown_backend_names_the_known_ones(spec: str) -> None:
    with pytest.raises(BackendError, match=r"unknown backend .*llamacpp, openai, transformers"):
        load_backend(spec)


@pytest.mark.parametrize("spec", ["llamacpp:/nonexistent/model.gguf", "transformers:/nonexistent/model.gguf"])
def test_missing_model_file(spec: str) -> None:
    with pytest.raises(BackendError, match=r"model file not found: /nonexistent/model\.gguf") as info:
        load_backend(spec)
    assert "\n" not in str(info.value)


def test_missing_checkpoint_folder(tmp_path) -> None:
    with pytest.raises(BackendError, match="transformers could not load"):
        load_backend(f"transformers:{tmp_path / 'nothing-here'}")


def test_bad_option_is_named(embedded_backend) -> None:
    with pytest.raises(BackendError, match="bad option for the llamacpp backend"):
        load_backend("llamacpp:embedded?colour=blue")


def test_openai_spec_needs_an_http_url() -> None:
    with pytest.raises(BackendError, match="not an http"):
        load_backend("openai:localhost:8000")


def test_a_backend_object_passes_through(embedded_backend) -> None:
    assert load_backend(embedded_backend) is embedded_backend
