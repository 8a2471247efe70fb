"""Systems on real components: RAG over a tiny real index, then the agent graph (hybrid, oracle)."""

from __future__ import annotations

import asyncio

import pytest

from eval.benchmarks import load_benchmark
from eval.runner import run
from eval.systems import OracleSystem, RagSystem, make_system
from reasoner.base import Sampling

FAST = Sampling(temperature=0.7, top_p=0.95, max_tokens=8, seed=3)


@pytest.fixture(scope="module")
def tiny_index():
    from retriever import Index

    passages = [{"id": "paris", "title": "Paris", "text": "Paris is the capital and largest city of France."},
                {"id": "verona", "title": "Romeo and Juliet", "text": "Romeo and Juliet is a tragedy written by "
                 "William Shakespeare early in his career."},
                {"id": "rain", "title": "Rain", "text": "Rain is water droplets that fall from clouds."}]
    return Index.build(passages, progress=False)


def test_rag_retrieves_then_answers(fixtures, embedded_backend, tiny_index):
    system = RagSystem(embedded_backend, index=tiny_index, k=2)
    item = load_benchmark("nq_open", fixtures / "nq.jsonl")[0]
    [out] = asyncio.run(system.answer(item, FAST, 1))
    assert out.route == "rag" and out.extra["citations"][0] == "paris"
    assert out.prompt_tokens > 0 and 0 < out.completion_tokens <= 8


def test_unknown_system_and_missing_large_model():
    with pytest.raises(ValueError, match="unknown system"):
        make_system("psychic")
    with pytest.raises(ValueError, match="--large openai:"):
        make_system("large")
    with pytest.raises(ValueError, match="--large openai:"):  # never the small model under the large label
        make_system("large", backend="llamacpp:embedded")


@pytest.mark.slow
def test_hybrid_and_oracle_graphs_answer_math(fixtures, embedded_backend, tmp_path):
    bench = load_benchmark("aime25", fixtures / "verl_math.jsonl")
    oracle = OracleSystem(embedded_backend)
    results = asyncio.run(run(bench, oracle, tmp_path, n=1, limit=1, sampling=FAST))
    assert results["summary"]["routes"] == {"reason": 1}
    hybrid = make_system("hybrid", backend=embedded_backend)
    [out] = asyncio.run(hybrid.answer(bench[0], FAST, 1))
    assert out.route in ("reason", "knowledge", "mixed") and out.text
    assert "SmolLM2" in out.model or out.route != "reason"
