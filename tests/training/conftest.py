"""Fixtures for the training tests: the converted tiny model and small record files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from training.records import Record, write_records
from training.tasks import arithmetic_records

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_model() -> str:
    """The embedded SmolLM2-135M as a Hugging Face checkpoint (converted once into the user cache)."""
    from training.checkpoint import embedded_hf_checkpoint

    return str(embedded_hf_checkpoint())


@pytest.fixture(scope="session")
def arithmetic_file(tmp_path_factory) -> Path:
    """Eight 1-digit addition problems with worked answers."""
    return write_records(arithmetic_records(8, kinds=("add1",), seed=3),
                         tmp_path_factory.mktemp("data") / "add1.jsonl")


@pytest.fixture(scope="session")
def ifeval_file(tmp_path_factory) -> Path:
    """Instruction-following prompts with IFEval constraints (no answers: RL only)."""
    prompts = [("Describe the sea in one sentence, all in lowercase letters.", "change_case:english_lowercase"),
               ("Name two fruits without using any commas.", "punctuation:no_comma"),
               ("Say hello in lowercase only.", "change_case:english_lowercase"),
               ("List three colours and do not use commas.", "punctuation:no_comma")]
    records = [Record(messages=[{"role": "user", "content": text}], domain="instruct", id=f"if-{i}",
                      reward={"kind": "ifeval", "instruction_ids": [rule], "kwargs": [{}]})
               for i, (text, rule) in enumerate(prompts)]
    return write_records(records, tmp_path_factory.mktemp("data") / "ifeval.jsonl")
