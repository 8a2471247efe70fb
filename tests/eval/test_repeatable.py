"""A run with a seed is repeatable: the same texts run after run, resumed or not, whatever ran before."""

from __future__ import annotations

import asyncio

import pytest

from eval.benchmarks import load_benchmark
from eval.runner import read_samples, run, sample_seed
from eval.systems import ReasonerSystem
from reasoner.base import Sampling

SAMPLED = Sampling(temperature=0.8, top_p=0.95, max_tokens=8, seed=5)


@pytest.fixture(scope="module")
def system(embedded_backend):
    return ReasonerSystem(embedded_backend)


def texts(folder) -> dict[tuple[str, int], str]:
    return {(r["item_id"], r["sample"]): r["text"] for r in read_samples(folder / "samples.jsonl")}


def test_sample_seeds_are_stable_and_consecutive_per_item() -> None:
    assert sample_seed(5, "aime25-0", 0) == sample_seed(5, "aime25-0", 0)
    assert sample_seed(5, "aime25-0", 3) == sample_seed(5, "aime25-0", 0) + 3
    assert sample_seed(5, "aime25-0", 0) != sample_seed(5, "aime25-1", 0) != sample_seed(6, "aime25-1", 0)


def test_same_seed_same_samples_resumed_or_not(fixtures, system, embedded_backend, tmp_path) -> None:
    bench = load_benchmark("aime25", fixtures / "verl_math.jsonl")
    whole = asyncio.run(run(bench, system, tmp_path / "a", n=3, sampling=SAMPLED, concurrency=2, seed=5))
    assert whole["summary"]["samples"] == 6
    first = texts(tmp_path / "a" / "aime25__reasoner")

    embedded_backend.generate("Write a haiku about rain.", temperature=1.0, max_tokens=12)  # other work between
    asyncio.run(run(bench, system, tmp_path / "b", n=1, sampling=SAMPLED, seed=5))  # a run cut short ...
    asyncio.run(run(bench, system, tmp_path / "b", n=3, sampling=SAMPLED, concurrency=1, seed=5))  # ... resumed
    assert texts(tmp_path / "b" / "aime25__reasoner") == first

    other = asyncio.run(run(bench, system, tmp_path / "c", n=3, sampling=SAMPLED.with_(seed=6), seed=6))
    assert other["summary"]["samples"] == 6
    assert texts(tmp_path / "c" / "aime25__reasoner") != first


def test_the_hybrid_graph_is_repeatable_too(fixtures, embedded_backend, tmp_path) -> None:
    from eval.systems import make_system

    bench = load_benchmark("aime25", fixtures / "verl_math.jsonl")
    hybrid = make_system("hybrid", backend=embedded_backend)
    for out in ("a", "b"):
        asyncio.run(run(bench, hybrid, tmp_path / out, n=2, limit=1, sampling=SAMPLED, seed=5))
    assert texts(tmp_path / "a" / "aime25__hybrid") == texts(tmp_path / "b" / "aime25__hybrid")
