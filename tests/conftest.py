"""Fixtures shared by every test package. Package-specific fixtures live in tests/<pkg>/conftest.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never need a model hub
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("CORECOVER_SHARED_DATA", ROOT.parent / "shared" / "data"))
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (benchmark files); tests that need it skip when it is absent."""
    if not (SHARED_DATA / "benchmarks").is_dir():
        pytest.skip(f"shared benchmark data not found at {SHARED_DATA} (set CORECOVER_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """A folder for files tests leave behind for people to look at (screenshots, plots)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def embedded_backend():
    """The embedded SmolLM2-135M GGUF on llama.cpp, loaded once per test session."""
    from reasoner import load_backend

    return load_backend("llamacpp:embedded")


@pytest.fixture(scope="session")
def llama_server():
    """A live ``python -m llama_cpp.server`` on the embedded GGUF, on a free loopback port.

    Yields the base URL (``http://127.0.0.1:PORT/v1``); the model it lists is
    ``reasoner.serve.served_models(base_url)[0]``. Stopped at the end of the session.
    """
    from reasoner.serve import running_server

    with running_server(startup_timeout=120) as base_url:
        yield base_url
