"""Load time and decode speed of every reasoner backend on the embedded model, beside raw llama-cpp-python.

    .venv/bin/python bench/reasoner_throughput.py [--runs 3] [--max-tokens 64] [--no-transformers]

One fixed prompt, greedy, a fixed token cap; every backend is streamed so the prompt time
(to the first token) and the decode rate (tokens after the first, over the time after it)
are measured apart; the actual number of tokens is counted, so an early EOS cannot inflate
the rate. Runs are interleaved across backends (the machine may be shared); medians shown.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

os.environ.setdefault("HF_HUB_OFFLINE", "1")

PROMPT = "Write a long story about a dragon who learns to count."


@dataclass
class Row:
    name: str
    load_s: float = float("nan")
    prompt_s: list[float] = field(default_factory=list)
    decode_tps: list[float] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)


def timed_stream(pieces: Iterator[str]) -> tuple[float, float, int]:
    """(seconds to the first piece, seconds after it, pieces) of one streamed answer."""
    start = time.perf_counter()
    first = end = None
    count = 0
    for piece in pieces:
        if not piece:
            continue
        end = time.perf_counter()
        first = first or end
        count += 1
    if first is None:
        raise RuntimeError("the stream produced no text")
    return first - start, end - first, count


def raw_llama(n_threads: int | None, max_tokens: int) -> tuple[float, Callable[[], tuple[float, float, int]]]:
    """Plain llama-cpp-python on the same prompt tokens the backend sends."""
    from llama_cpp import Llama

    from reasoner.llamacpp import LlamaCppBackend
    from reasoner.presets import embedded_gguf

    tokens = LlamaCppBackend().prompt_tokens(PROMPT)
    start = time.perf_counter()
    kwargs = {"n_threads": n_threads, "n_threads_batch": n_threads} if n_threads else {}
    llm = Llama(model_path=str(embedded_gguf()), n_ctx=4096, verbose=False, **kwargs)
    load = time.perf_counter() - start

    def run() -> tuple[float, float, int]:
        llm.reset()  # no prompt cache between runs: every row pays the prompt each time
        chunks = llm.create_completion(tokens, max_tokens=max_tokens, temperature=0.0, stream=True)
        return timed_stream(c["choices"][0]["text"] for c in chunks)

    return load, run


def backend_runner(backend, max_tokens: int, reset: Callable[[], None] = lambda: None):
    def run() -> tuple[float, float, int]:
        reset()
        pieces, final = [], []

        def deltas() -> Iterator[str]:
            for chunk in backend.stream(PROMPT, temperature=0.0, max_tokens=max_tokens):
                if chunk.completion is not None:
                    final.append(chunk.completion)
                pieces.append(chunk.delta)
                yield chunk.delta

        first, rest, count = timed_stream(deltas())
        tokens = final[0].completion_tokens or count
        return first, rest, tokens

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--no-transformers", action="store_true", help="skip the slow transformers backend")
    args = parser.parse_args()

    from reasoner import llamacpp
    from reasoner.openai_api import OpenAIBackend
    from reasoner.serve import running_server

    cpus = os.cpu_count() or 1
    runners: dict[str, Callable[[], tuple[float, float, int]]] = {}
    rows: dict[str, Row] = {}

    load, runners["raw llama-cpp-python (defaults)"] = raw_llama(None, args.max_tokens)
    rows["raw llama-cpp-python (defaults)"] = Row("raw llama-cpp-python (defaults)", load)
    if cpus > 1:
        name = f"raw llama-cpp-python (n_threads={cpus})"
        load, runners[name] = raw_llama(cpus, args.max_tokens)
        rows[name] = Row(name, load)

    llamacpp._load.cache_clear()
    start = time.perf_counter()
    local = llamacpp.LlamaCppBackend()
    rows["llamacpp backend"] = Row("llamacpp backend", time.perf_counter() - start)
    runners["llamacpp backend"] = backend_runner(local, args.max_tokens, local.llm.reset)

    start = time.perf_counter()
    with running_server() as base_url:
        remote = OpenAIBackend(base_url)
        rows["openai backend → llama_cpp.server"] = Row("openai backend → llama_cpp.server",
                                                        time.perf_counter() - start)
        # The server keeps its prompt cache; a fresh prefix each run would change the prompt.
        runners["openai backend → llama_cpp.server"] = backend_runner(remote, args.max_tokens)

        if not args.no_transformers:
            from reasoner.hf import TransformersBackend

            start = time.perf_counter()
            hf = TransformersBackend("embedded")
            rows["transformers backend"] = Row("transformers backend", time.perf_counter() - start)
            runners["transformers backend"] = backend_runner(hf, args.max_tokens)

        for run in runners.values():  # warm-up: first-touch page faults, lazy imports
            run()
        for i in range(args.runs):
            for name, run in runners.items():
                prompt_s, decode_s, tokens = run()
                row = rows[name]
                row.prompt_s.append(prompt_s)
                row.tokens.append(tokens)
                row.decode_tps.append((tokens - 1) / decode_s if decode_s > 0 else float("nan"))
            print(f"run {i + 1}/{args.runs} done", flush=True)

    show(list(rows.values()), args, cpus)


def show(rows: list[Row], args: argparse.Namespace, cpus: int) -> None:
    from rich.console import Console
    from rich.table import Table

    base = statistics.median(rows[0].decode_tps)
    table = Table(title=f"Reasoner throughput: SmolLM2-135M Q4_1, greedy, max_tokens={args.max_tokens}, "
                        f"median of {args.runs} runs, {cpus} CPUs, load avg {os.getloadavg()[0]:.1f}")
    for column in ("backend", "load s", "prompt s", "decode tok/s", "× raw", "tokens"):
        table.add_column(column, justify="left" if column == "backend" else "right")
    for row in rows:
        tps = statistics.median(row.decode_tps)
        table.add_row(row.name, f"{row.load_s:.2f}", f"{statistics.median(row.prompt_s):.3f}", f"{tps:.1f}",
                      f"{tps / base:.2f}", f"{statistics.median(row.tokens):.0f}")
    Console(width=120).print(table)
    print("load: in-process model load; for openai: server start until /v1/models answers, plus the client. "
          "prompt: seconds to the first token (llama_cpp.server keeps its prompt cache, the others reset).")


if __name__ == "__main__":
    main()
