"""Eval-harness throughput against a live OpenAI-compatible server, side by side with raw requests.

Starts ``python -m llama_cpp.server`` on the embedded GGUF (reasoner.serve.running_server), then
for each concurrency answers the same questions twice per round: with raw async requests from
the openai SDK, and with the full harness (eval.runner.run: reasoner system over the openai
backend, scoring, per-sample JSONL, results JSON). Greedy decoding, so both generate the same
tokens. Prints medians over rounds and the harness/raw ratio (target >= 0.90).

    .venv/bin/python bench/eval_throughput.py [--items 16] [--rounds 3] [--max-tokens 16]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from eval.benchmarks import Benchmark, Item
from eval.runner import run
from eval.systems import ReasonerSystem
from reasoner.base import Sampling, as_messages
from reasoner.presets import preset_for


class Questions(Benchmark):
    """Small arithmetic questions, built in memory (no file)."""

    name, kind = "arithmetic", "math"

    def __init__(self, count: int) -> None:
        self.path = Path("<memory>")
        self.items = [Item(f"q{i}", f"What is {i + 3} + {2 * i + 5}? Put the answer in \\boxed{{}}.",
                           str(3 * i + 8), "math") for i in range(count)]


async def raw(base_url: str, model: str, items: list[Item], sampling: Sampling, concurrency: int,
              system: str | None) -> float:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=base_url, api_key="none", max_retries=0)
    semaphore = asyncio.Semaphore(concurrency)

    async def one(item: Item) -> None:
        async with semaphore:
            await client.chat.completions.create(model=model, messages=as_messages(item.prompt, system),
                                                 max_tokens=sampling.max_tokens, temperature=0.0,
                                                 top_p=sampling.top_p, seed=sampling.seed)

    start = time.perf_counter()
    await asyncio.gather(*(one(item) for item in items))
    elapsed = time.perf_counter() - start
    await client.close()
    return elapsed


async def harness(system: ReasonerSystem, bench: Benchmark, sampling: Sampling, concurrency: int) -> float:
    with tempfile.TemporaryDirectory(prefix="corecover-bench-") as out:
        start = time.perf_counter()
        results = await run(bench, system, out, n=1, sampling=sampling, concurrency=concurrency)
        elapsed = time.perf_counter() - start
    if results["errors"]:
        raise RuntimeError(f"harness errors: {results['error_messages'][:3]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8])
    args = parser.parse_args()

    from reasoner.serve import running_server, served_models

    bench = Questions(args.items)
    # top_k=0: not sent (llama_cpp.server rejects the top_k=-1 the openai backend would send)
    sampling = Sampling(temperature=0.0, top_p=1.0, top_k=0, max_tokens=args.max_tokens, seed=0)
    with running_server() as base_url:
        model = served_models(base_url)[0]
        system = ReasonerSystem(f"openai:{base_url}?model={model}")
        system_prompt = preset_for(model).system
        asyncio.run(raw(base_url, model, bench.items[:2], sampling, 1, system_prompt))  # warm up
        print(f"server: llama_cpp.server, model {model}, {args.items} questions, max_tokens {args.max_tokens}, "
              f"greedy, {args.rounds} rounds (medians)")
        print(f"{'concurrency':>11} {'raw items/s':>12} {'harness items/s':>16} {'harness/raw':>12}")
        for concurrency in args.concurrency:
            raw_s, harness_s = [], []
            for _ in range(args.rounds):
                raw_s.append(asyncio.run(raw(base_url, model, bench.items, sampling, concurrency, system_prompt)))
                harness_s.append(asyncio.run(harness(system, bench, sampling, concurrency)))
            r, h = args.items / statistics.median(raw_s), args.items / statistics.median(harness_s)
            print(f"{concurrency:>11} {r:>12.2f} {h:>16.2f} {h / r:>12.2f}")


if __name__ == "__main__":
    main()
