"""Decode speed of the exported specialist GGUF against the embedded SmolLM2-135M (Q4_1), same run:
both loaded in llama.cpp with the same threads, the same prompts, greedy, calls interleaved; medians.

    flock /tmp/corecover-cpu.lock .venv/bin/python bench/specialist_speed.py [--specialist PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reasoner import load_backend
from reasoner.registry import specialist_gguf

PROMPTS = ["Write a short story about a lighthouse keeper.", "Explain how rain forms, step by step.",
           "What is 347 + 285? Show your work.", "List ten animals and one fact about each."]


def tokens_per_second(backend, prompt: str, max_tokens: int) -> float:
    start = time.perf_counter()
    completion = backend.generate(prompt, temperature=0.0, max_tokens=max_tokens)[0]
    return completion.completion_tokens / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specialist", default=str(specialist_gguf()))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=128)
    args = parser.parse_args()
    if not Path(args.specialist).is_file():
        sys.exit(f"error: no specialist GGUF at {args.specialist}: run the specialist recipe first")
    models = {"embedded": load_backend("llamacpp:embedded"), "specialist": load_backend(f"llamacpp:{args.specialist}")}
    speeds: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(args.repeats):
        for prompt in PROMPTS:
            for name, backend in models.items():
                speeds[name].append(tokens_per_second(backend, prompt, args.max_tokens))
    medians = {name: statistics.median(v) for name, v in speeds.items()}
    result = {"median_tokens_per_second": medians, "ratio": medians["specialist"] / medians["embedded"],
              "calls": len(speeds["embedded"]), "specialist": args.specialist,
              "card": json.loads(Path(args.specialist).with_suffix(".json").read_text())
              if Path(args.specialist).with_suffix(".json").is_file() else None}
    print(json.dumps(result, indent=2))
    print(f"decode: embedded {medians['embedded']:.1f} tok/s, specialist {medians['specialist']:.1f} tok/s, "
          f"ratio {result['ratio']:.2f} (target >= 0.9)", file=sys.stderr)


if __name__ == "__main__":
    main()
