"""Run a system on a benchmark: n samples per item, bounded concurrency, resumable, scored.

A run writes to ``OUT/<benchmark>__<system>/``:

``run.json``
    the settings of the run (benchmark, system, backend, sampling, seed, n, limit). A rerun with
    the same folder must keep benchmark, system, backend, seed and sampling; ``n`` and ``limit``
    may grow (only the missing samples are generated).

``samples.jsonl``
    one JSON object per finished sample, appended and flushed as it arrives; a rerun skips the
    ``(item_id, sample)`` pairs already there. Keys: ``item_id, sample, kind, gold`` (letter,
    number or answer list; ``null`` for code/ifeval), ``text`` (the raw output), ``final_answer``
    (the system's parse), ``extracted`` (the scorer's parse), ``correct``, ``score`` (0–1),
    ``details`` (scorer specifics: option ``letter``/``shipped_letter``/``permutation`` for MCQ,
    ``strict``/``loose`` lists for IFEval, ``exact_match``/``f1`` for QA, sandbox ``status`` for
    code, the math extraction ``rule``), ``truncated`` (cut at the token limit), ``scorer`` (the
    extraction rules' version: records scored under older rules are re-scored, code aside),
    ``prompt_tokens, completion_tokens, seconds, model, route, cost_usd, extra``.
    Prompts are not copied into it.

``results.json`` (schema ``corecover.eval.results/1``)::

    {
      "schema": "corecover.eval.results/1",
      "benchmark": "aime25", "system": "reasoner", "backend": "llamacpp:embedded", "model": "...",
      "kind": "math", "n": 4, "ks": [1, 2, 4], "seed": 0, "limit": 10,
      "sampling": {"temperature": 1.0, "top_p": 0.95, "max_tokens": 256, ...},
      "prices": {model: {"input": USD per 1M, "output": USD per 1M}},
      "created": ISO time, "errors": number of failed calls (retried on the next run),
      "scorer": "strict-1", "extraction": {kind: how the answer is taken from a sample},
      "sandbox" (code only): {"isolation": "bwrap" | "guards", "unsafe_allowed", ...},
      "rescored": samples of earlier runs re-scored under the current rules,
      "summary": {
        "items", "samples",
        "accuracy"            avg@n: mean over items of the share of correct samples (mean pass@1),
        "score"               mean graded score (F1 for QA, share of instructions for IFEval),
        "pass@k": {"1": ..}   unbiased estimator, mean over items,
        "cons@k": {"1": ..}   majority vote over the first k samples (math, mcq, qa),
        "prompt_tokens", "completion_tokens", "mean_completion_tokens",
        "mean_seconds", "median_seconds" (per sample), "cost_usd", "cost_per_item_usd",
        "truncated"           samples cut at the token limit, "unanswered" (math, mcq): samples
                              stating no final answer (wrong), "truncated_unanswered": both,
        "routes": {route: samples}, "models": {model: samples},
        mcq:    "answer_letters", "gold_letters", "shipped_answer_letters" (position bias),
        ifeval: "ifeval": {"prompt_strict", "prompt_loose", "instruction_strict", "instruction_loose"},
        qa:     "qa": {"exact_match", "f1"},   code: "code_status": {status: samples}
      },
      "items": [{"id", "kind", "n", "correct", "avg", "score", "pass@k", "cons@k",
                 "prompt_tokens", "completion_tokens", "seconds", "cost_usd"}, ...]
    }
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eval.mcq import shuffle_item
from eval.metrics import cost_usd, default_ks, is_truncated, summarize
from eval.scoring import EXTRACTION, SCORER, score
from reasoner.base import Sampling
from reasoner.sandbox import sandbox_info

if TYPE_CHECKING:
    from collections.abc import Callable

    from eval.benchmarks import Benchmark, Item
    from eval.systems import SampleOutput, System

SCHEMA = "corecover.eval.results/1"
KEEP_FIXED = ("benchmark", "system", "backend", "seed", "sampling")


class RunError(RuntimeError):
    """A run cannot start or resume; the message names the fix."""


def run_dir(out: str | os.PathLike[str], benchmark: str, system: str) -> Path:
    return Path(out) / f"{benchmark}__{system}"


def read_samples(path: Path) -> list[dict[str, Any]]:
    """Records of a samples file; a line cut short by a kill is ignored."""
    records = []
    if path.is_file():
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
    return records


def sample_item(item: Item, sample: int, seed: int) -> Item:
    """The item as sample ``sample`` sees it (MCQ options re-shuffled when the item asks for it)."""
    if item.kind == "mcq" and item.metadata.get("shuffle") and "options" in item.metadata:
        return shuffle_item(item, sample, seed)
    return item


def sample_seed(seed: int, item_id: str, sample: int) -> int:
    """The sampling seed of sample ``sample`` of an item: the same in every run, resumed or not, in any
    order (an item's samples take consecutive seeds, so one call with ``n`` samples gets them all)."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{item_id}".encode()).digest()[:4], "big") % 2**30 + sample


def _consecutive(samples: list[int]) -> list[list[int]]:
    """``[0, 1, 3, 4, 5]`` -> ``[[0, 1], [3, 4, 5]]``: runs that one call with consecutive seeds can make."""
    runs: list[list[int]] = []
    for s in samples:
        if runs and s == runs[-1][-1] + 1:
            runs[-1].append(s)
        else:
            runs.append([s])
    return runs


def _check_config(path: Path, config: dict[str, Any]) -> None:
    config = json.loads(json.dumps(config))  # tuples -> lists, as they come back from disk
    if path.is_file():
        old = json.loads(path.read_text())
        changed = [k for k in KEEP_FIXED if old.get(k) != config.get(k)]
        if changed:
            raise RunError(f"{path.parent} holds a run with other {', '.join(changed)}: "
                           "use another --out folder or delete that one")
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(config, indent=2))
    tmp.replace(path)


def _cost(output: SampleOutput, prices: dict[str, dict[str, float]]) -> float:
    """USD of one sample; per node of the agent graph when the system reports node usage."""
    nodes = {k: u for k, u in (output.extra.get("usage") or {}).items() if k != "total" and isinstance(u, dict)}
    if nodes:
        return sum(cost_usd(str(u.get("backend", "")), int(u.get("prompt_tokens", 0)),
                            int(u.get("completion_tokens", 0)), prices) for u in nodes.values())
    return cost_usd(output.model, output.prompt_tokens, output.completion_tokens, prices)


def _gold_for_log(item: Item) -> Any:
    return item.gold if item.kind in ("math", "mcq", "qa") else None


def _rescore(path: Path, items: list[Item], seed: int) -> int:
    """Re-score the records scored under older extraction rules (code keeps its sandbox verdict), in place."""
    by_id = {item.id: item for item in items}
    records = read_samples(path)
    stale = [r for r in records if r.get("scorer") != SCORER and r["kind"] != "code" and r["item_id"] in by_id]
    for r in stale:
        cut = is_truncated(r)
        result = score(sample_item(by_id[r["item_id"]], r["sample"], seed), r["text"], truncated=cut)
        r.update(extracted=result.extracted, correct=result.correct, score=result.score, details=result.details,
                 truncated=cut, scorer=SCORER)
    if stale:
        tmp = path.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
        tmp.replace(path)
    return len(stale)


async def run(benchmark: Benchmark, system: System, out: str | os.PathLike[str], *, n: int = 1,
              limit: int | None = None, sampling: Sampling | None = None, concurrency: int = 4, seed: int = 0,
              prices: dict[str, dict[str, float]] | None = None, ks: list[int] | None = None,
              code_timeout: float = 10, on_sample: Callable[[dict[str, Any]], None] | None = None,
              on_start: Callable[[int], None] | None = None, unsafe_sandbox: bool = False) -> dict[str, Any]:
    """Sample, score and summarise; returns the results dict also written to ``results.json``.

    Code is run in bubblewrap; where it is missing the run refuses to start unless ``unsafe_sandbox``.
    """
    if n < 1 or concurrency < 1:
        raise RunError("--n and --concurrency must be at least 1")
    sampling = (sampling or Sampling()).with_(n=1)
    prices = prices or {}
    ks = ks or default_ks(n)
    items = benchmark.items[:limit] if limit else list(benchmark.items)
    kinds = sorted({item.kind for item in items})
    sandbox = None
    if "code" in kinds:
        sandbox = sandbox_info(unsafe_sandbox)
        if sandbox["problem"] and not unsafe_sandbox:
            raise RunError(f"refusing to run model-written code without kernel isolation: {sandbox['problem']} "
                           "(or pass --unsafe-sandbox to run it under Python-level guards only)")
    folder = run_dir(out, benchmark.name, system.name)
    folder.mkdir(parents=True, exist_ok=True)
    sampling_cfg = {k: v for k, v in asdict(sampling).items() if k not in ("n", "timeout")}
    config = {"benchmark": benchmark.name, "system": system.name, "backend": getattr(system, "spec", None),
              "model": system.model, "seed": seed, "sampling": sampling_cfg, "n": n, "limit": limit,
              "path": str(benchmark.path)}
    _check_config(folder / "run.json", config)
    samples_path = folder / "samples.jsonl"
    done = {(r["item_id"], r["sample"]) for r in read_samples(samples_path)}

    # one job per call: shuffled MCQ samples each see their own prompt, the rest share one call
    jobs: list[tuple[Item, list[int]]] = []
    for item in items:
        missing = [s for s in range(n) if (item.id, s) not in done]
        if not missing:
            continue
        if sample_item(item, 0, seed) is not item:
            jobs.extend((item, [s]) for s in missing)
        else:
            jobs.extend((item, run) for run in _consecutive(missing))
    if on_start:
        on_start(sum(len(s) for _, s in jobs))

    semaphore = asyncio.Semaphore(concurrency)
    errors: list[str] = []
    if samples_path.is_file() and samples_path.stat().st_size:
        with open(samples_path, "rb+") as f:  # a kill mid-line leaves no newline: end that line
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                f.write(b"\n")

    with open(samples_path, "a", encoding="utf-8") as log:
        async def one(item: Item, samples: list[int]) -> None:
            variant = sample_item(item, samples[0], seed)
            seeded = sampling if sampling.seed is None else sampling.with_(
                seed=sample_seed(sampling.seed, item.id, samples[0]))
            async with semaphore:
                try:
                    outputs: list[SampleOutput] = await system.answer(variant, seeded, len(samples))
                except Exception as exc:  # recorded; the samples are retried by the next run
                    errors.append(f"{item.id}: {type(exc).__name__}: {exc}")
                    return
            for sample, output in zip(samples, outputs, strict=False):
                truncated = bool(output.extra.get("truncated"))
                if variant.kind == "code":
                    result = await asyncio.to_thread(score, variant, output.text, code_timeout=code_timeout,
                                                     truncated=truncated, unsafe_sandbox=unsafe_sandbox)
                else:
                    result = score(variant, output.text, truncated=truncated)
                record = {"item_id": item.id, "sample": sample, "kind": item.kind, "gold": _gold_for_log(variant),
                          "text": output.text, "final_answer": output.final_answer,
                          "extracted": result.extracted, "correct": result.correct, "score": result.score,
                          "details": result.details, "truncated": truncated, "scorer": SCORER,
                          "prompt_tokens": output.prompt_tokens,
                          "completion_tokens": output.completion_tokens, "seconds": round(output.seconds, 4),
                          "model": output.model, "route": output.route,
                          "cost_usd": _cost(output, prices),
                          "extra": output.extra}
                log.write(json.dumps(record, ensure_ascii=False) + "\n")
                log.flush()
                if on_sample:
                    on_sample(record)

        await asyncio.gather(*(one(item, samples) for item, samples in jobs))

    rescored = _rescore(samples_path, items, seed)
    wanted = {item.id for item in items}
    records = [r for r in read_samples(samples_path) if r["item_id"] in wanted and r["sample"] < n]
    results = {"schema": SCHEMA, **config, "kind": items[0].kind if items else None, "ks": ks,
               "prices": prices, "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
               "errors": len(errors), "error_messages": errors[:20], "scorer": SCORER,
               "extraction": {kind: EXTRACTION[kind] for kind in kinds if kind in EXTRACTION},
               **({"sandbox": sandbox} if sandbox else {}), "rescored": rescored, **summarize(records, ks)}
    tmp = folder / "results.json.tmp"
    tmp.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    tmp.replace(folder / "results.json")
    return results
