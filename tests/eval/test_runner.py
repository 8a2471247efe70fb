"""The runner on the embedded reasoner: an end-to-end run, and a killed run that resumes."""

from __future__ import annotations

import asyncio
import json

import pytest
from typer.testing import CliRunner

from eval.benchmarks import load_benchmark
from eval.cli import app
from eval.runner import RunError, read_samples, run
from eval.scoring import SCORER
from eval.systems import ReasonerSystem
from reasoner.base import Sampling

FAST = Sampling(temperature=0.7, top_p=0.95, max_tokens=8, seed=1)


class CountingSystem:
    """The real reasoner system; it remembers which items it was asked about."""

    def __init__(self, inner):
        self.inner, self.name, self.model, self.spec = inner, inner.name, inner.model, inner.spec
        self.calls = []

    async def answer(self, item, sampling, n):
        self.calls.append((item.id, n))
        return await self.inner.answer(item, sampling, n)


@pytest.fixture(scope="module")
def reasoner_system(embedded_backend):
    return ReasonerSystem(embedded_backend)


def test_two_aime_items_end_to_end(shared_data, reasoner_system, tmp_path):
    bench = load_benchmark("aime24", data=shared_data)
    results = asyncio.run(run(bench, reasoner_system, tmp_path, n=2, limit=2, sampling=FAST, concurrency=2))
    s = results["summary"]
    assert results["schema"] == "corecover.eval.results/1" and results["benchmark"] == "aime24"
    assert s["items"] == 2 and s["samples"] == 4
    assert 0.0 <= s["accuracy"] <= 1.0 and set(s["pass@k"]) == {"1", "2"} and set(s["cons@k"]) == {"1", "2"}
    assert 0 < s["completion_tokens"] <= 4 * 8 and s["prompt_tokens"] > 0
    records = read_samples(tmp_path / "aime24__reasoner" / "samples.jsonl")
    assert sorted((r["item_id"], r["sample"]) for r in records) == [("aime24-0", 0), ("aime24-0", 1),
                                                                   ("aime24-1", 0), ("aime24-1", 1)]
    assert all(r["gold"] in ("204", "025") and r["model"] for r in records)
    on_disk = json.loads((tmp_path / "aime24__reasoner" / "results.json").read_text())
    assert on_disk["summary"] == s


def test_interrupted_run_resumes_without_redoing_samples(fixtures, reasoner_system, tmp_path):
    bench = load_benchmark("aime25", fixtures / "verl_math.jsonl")
    first = CountingSystem(reasoner_system)

    async def interrupted():
        task = None

        def stop(record):
            task.cancel()  # like Ctrl-C after the first finished sample

        task = asyncio.ensure_future(run(bench, first, tmp_path, n=2, sampling=FAST, concurrency=1, on_sample=stop))
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(interrupted())
    path = tmp_path / "aime25__reasoner" / "samples.jsonl"
    before = read_samples(path)
    assert 1 <= len(before) < 4
    with open(path, "a") as f:
        f.write('{"item_id": "aime25-1", "sam')  # a line cut short by a kill
    second = CountingSystem(reasoner_system)
    results = asyncio.run(run(bench, second, tmp_path, n=2, sampling=FAST, concurrency=1))
    after = read_samples(path)
    assert after[:len(before)] == before
    done_first = {(r["item_id"], r["sample"]) for r in before}
    redone = {(r["item_id"], r["sample"]) for r in after[len(before):]}
    assert not done_first & redone
    assert sum(n for _, n in second.calls) == 4 - len(before)
    assert results["summary"]["samples"] == 4
    third = CountingSystem(reasoner_system)
    asyncio.run(run(bench, third, tmp_path, n=2, sampling=FAST))
    assert third.calls == []
    with pytest.raises(RunError, match="another --out"):
        asyncio.run(run(bench, third, tmp_path, n=2, sampling=FAST.with_(temperature=0.1)))


def test_cli_run_and_list(fixtures, tmp_path):
    runner = CliRunner()
    listed = runner.invoke(app, ["list"])
    assert listed.exit_code == 0 and "gpqa_diamond" in listed.output and "Idavidrein/gpqa" in listed.output
    result = runner.invoke(app, ["run", "--benchmark", "custom", "--path", str(fixtures / "custom.jsonl"),
                                 "--field", "id=qid", "--field", "prompt=question", "--field", "gold=answer",
                                 "--n", "1", "--max-tokens", "6", "--out", str(tmp_path),
                                 "--prices", '{"SmolLM2": {"input": 1.0, "output": 2.0}}'])
    assert result.exit_code == 0, result.output
    results = json.loads((tmp_path / "custom__reasoner" / "results.json").read_text())
    assert results["summary"]["items"] == 2 and results["summary"]["cost_usd"] > 0
    bad = runner.invoke(app, ["run", "--benchmark", "imo_answerbench", "--out", str(tmp_path)])
    assert bad.exit_code == 1 and "--path" in bad.output


def test_results_state_the_rule_count_truncation_and_agree_at_n1(fixtures, reasoner_system, tmp_path):
    bench = load_benchmark("aime25", fixtures / "verl_math.jsonl")
    results = asyncio.run(run(bench, reasoner_system, tmp_path, n=1, sampling=FAST.with_(max_tokens=4)))
    s = results["summary"]
    assert "boxed" in results["extraction"]["math"] and "never counts" in results["extraction"]["math"]
    assert results["scorer"] == SCORER and "sandbox" not in results
    assert s["pass@k"]["1"] == s["cons@k"]["1"] == s["accuracy"]
    records = read_samples(tmp_path / "aime25__reasoner" / "samples.jsonl")
    assert s["truncated"] == sum(r["truncated"] for r in records) > 0  # 4 tokens cannot finish an answer
    assert s["unanswered"] == sum(r["extracted"] is None for r in records)
    assert all(r["correct"] <= (r["extracted"] is not None) for r in records)


def test_samples_scored_under_old_rules_are_rescored(fixtures, reasoner_system, tmp_path):
    bench = load_benchmark("aime25", fixtures / "verl_math.jsonl")
    folder = tmp_path / "aime25__reasoner"
    asyncio.run(run(bench, reasoner_system, tmp_path, n=1, sampling=FAST))
    records = read_samples(folder / "samples.jsonl")
    for r in records:  # as the old scorer wrote them: a bare last number that matched the gold was correct
        r.update(text="Step 1. 12 * 17 = 204. Step 2", correct=True, score=1.0, extracted=None, truncated=True)
        del r["scorer"]
    (folder / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    system = CountingSystem(reasoner_system)
    results = asyncio.run(run(bench, system, tmp_path, n=1, sampling=FAST))
    assert system.calls == [] and results["rescored"] == 2
    assert results["summary"]["accuracy"] == 0.0 == results["summary"]["pass@k"]["1"] == results["summary"]["cons@k"]["1"]
    assert all(r["scorer"] == SCORER and not r["correct"] for r in read_samples(folder / "samples.jsonl"))


def test_code_runs_refuse_without_kernel_isolation_unless_unsafe(fixtures, tmp_path, monkeypatch):
    import reasoner.sandbox

    monkeypatch.setattr(reasoner.sandbox, "kernel_isolation", lambda: "bubblewrap (bwrap) is not installed")
    args = ["run", "--benchmark", "humaneval", "--path", str(fixtures / "humaneval.jsonl"), "--limit", "1",
            "--max-tokens", "8", "--out", str(tmp_path)]
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 1 and "--unsafe-sandbox" in refused.output and not (tmp_path / "humaneval__reasoner").exists()
    allowed = CliRunner().invoke(app, [*args, "--unsafe-sandbox"])
    assert allowed.exit_code == 0, allowed.output
    results = json.loads((tmp_path / "humaneval__reasoner" / "results.json").read_text())
    assert results["sandbox"]["isolation"] == "guards" and results["sandbox"]["unsafe_allowed"] is True
    assert all(r["details"]["isolation"] == "guards"
               for r in read_samples(tmp_path / "humaneval__reasoner" / "samples.jsonl"))
