"""Cold start of the CLI: each command in a fresh process, the new query path beside today's.

    .venv/bin/python bench/cold_start.py [--runs 5] [--baseline-tree DIR]

Commands (targets on a quiet 2-core machine): ``corecover ask "What is 17 * 23?"`` routed by the
router, 64 tokens (<= 3 s); ``corecover route --json`` (<= 1.5 s); ``corecover index search
--json`` (<= 2 s). Columns: ``onnx`` (this tree: queries embedded by onnxruntime from the ONNX
export), ``sentence-transformers`` (this tree with ``CORECOVER_QUERY_ENCODER=sentence-transformers``:
today's query path, torch and sentence-transformers imported) and, with ``--baseline-tree``, the
code of another checkout (e.g. the commit before this work). Every run is a new Python process,
runs are interleaved across columns, one untimed run per cell first (the OS file cache warm, the
ONNX export made); medians of ``--runs``. The reasoner answers greedily so every column
generates the same tokens. Run it under the CPU lock: timings on a busy machine mean nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {
    "ask": (["ask", "--json", "--max-tokens", "64", "What is 17 * 23?"], 3.0),
    "route": (["route", "--json", "What is 17 * 23?"], 1.5),
    "search": (["index", "search", "--json", "Who painted the Mona Lisa?"], 2.0),
}


def run_once(tree: Path, args: list[str], env: dict[str, str]) -> tuple[float, str]:
    """Wall seconds of one fresh ``corecover ARGS`` process running the code of ``tree``, and its output."""
    command = [sys.executable, "-c", "from agent.cli import main; main()", *args]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env={**env, "PYTHONPATH": str(tree)},
                          cwd=tree, timeout=600)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"corecover {' '.join(args)} failed in {tree}: {done.stderr.strip()[-500:]}")
    return seconds, done.stdout


def describe(name: str, output: str) -> str:
    """What the command did, to check that every column did the same work."""
    if name == "ask":
        result = json.loads(output.strip().splitlines()[-1])
        return f"route {result['route']}, {result['usage']['total']['completion_tokens']:.0f} tokens"
    if name == "route":
        return f"route {json.loads(output)['route']}"
    return f"top hit {json.loads(output)[0]['title']}"


def reason_seconds(output: str) -> float:
    """Seconds ``ask --json`` spent in the reason node."""
    return float(json.loads(output.strip().splitlines()[-1])["usage"]["reason"]["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--baseline-tree", type=Path, help="a checkout whose code is timed as a third column")
    parser.add_argument("--commands", nargs="+", choices=list(COMMANDS), default=list(COMMANDS))
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="corecover-cold-"))
    base = {**os.environ, "HF_HUB_OFFLINE": "1", "CORECOVER_REASONER_TEMPERATURE": "0",
            "CORECOVER_CHECKPOINT_DB": str(scratch / "threads.sqlite")}
    base.pop("CORECOVER_QUERY_ENCODER", None)
    columns = {"onnx": (ROOT, base),
               "sentence-transformers": (ROOT, {**base, "CORECOVER_QUERY_ENCODER": "sentence-transformers"})}
    if args.baseline_tree:
        columns[f"tree {args.baseline_tree.name}"] = (args.baseline_tree.resolve(), base)

    times: dict[tuple[str, str], list[float]] = {}
    work: dict[tuple[str, str], str] = {}
    generating: dict[str, list[float]] = {}  # ask: seconds in the reason node (prompt + decoding)
    for name in args.commands:
        for column, (tree, env) in columns.items():
            _, output = run_once(tree, COMMANDS[name][0], env)  # untimed: file cache warm, export made
            work[name, column] = describe(name, output)
    for _ in range(args.runs):
        for name in args.commands:
            for column, (tree, env) in columns.items():
                seconds, output = run_once(tree, COMMANDS[name][0], env)
                times.setdefault((name, column), []).append(seconds)
                if name == "ask":
                    generating.setdefault(column, []).append(reason_seconds(output))

    print(f"cold start, median of {args.runs} fresh processes (seconds); load average "
          f"{os.getloadavg()[0]:.2f}; llama.cpp threads {os.environ.get('CORECOVER_LLAMACPP_THREADS', 'default')}")
    width = max(len(c) for c in columns) + 2
    print(f"{'command':<8}{'target':>8}" + "".join(f"{c:>{width}}" for c in columns) + "   ratio   work")
    for name in args.commands:
        medians = [statistics.median(times[name, c]) for c in columns]
        ratio = medians[1] / medians[0]
        checks = "; ".join(sorted({work[name, c] for c in columns}))
        print(f"{name:<8}{COMMANDS[name][1]:>8.1f}" + "".join(f"{m:>{width}.2f}" for m in medians)
              + f"{ratio:>7.1f}x   {checks}")
    for column, spent in generating.items():
        rest = statistics.median(times["ask", column]) - statistics.median(spent)
        print(f"ask, {column}: reason node {statistics.median(spent):.2f} s (prompt and decoding), "
              f"the rest {rest:.2f} s (start-up, imports, loading, routing, saving)")
    print("all runs:", json.dumps({f"{n} / {c}": [round(t, 2) for t in v] for (n, c), v in times.items()}))


if __name__ == "__main__":
    main()
