"""Which accuracy figures the strict scorer changes: the same outputs scored by today's rule
(eval.scoring: a stated final answer only) and by the scorer of an older commit (default be9a19b,
whose verify_math also took the last number of free text).

    .venv/bin/python bench/rescore_strict.py runs/bench-calculator.jsonl [--baseline be9a19b]

Input: per-answer JSONL of bench/calculator.py (fields set, mode, gold, text, tokens, max_tokens).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from eval.benchmarks import Item  # noqa: E402
from eval.scoring import score  # noqa: E402


def old_scorer(rev: str) -> types.ModuleType:
    """``eval/scoring.py`` as it was at ``rev`` (its sandbox import now lives in reasoner.sandbox)."""
    import reasoner.sandbox

    source = subprocess.run(["git", "show", f"{rev}:eval/scoring.py"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout
    sys.modules.setdefault("eval.sandbox", reasoner.sandbox)
    module = types.ModuleType(f"scoring_{rev}")
    sys.modules[module.__name__] = module  # its dataclasses look their module up
    exec(compile(source, f"{rev}:eval/scoring.py", "exec"), module.__dict__)  # our own file from git history
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("records", type=Path)
    parser.add_argument("--baseline", default="be9a19b", help="git revision of the old scorer")
    args = parser.parse_args()
    old = old_scorer(args.baseline)
    rows = [json.loads(line) for line in args.records.read_text().splitlines() if line.strip()]
    print(f"{'set':<11}{'mode':<7}{'n':>4}  {'strict rule':>16}  {args.baseline + ' scorer':>20}  cut at the limit")
    for name in sorted({r["set"] for r in rows}):
        for mode in ("plain", "inject"):
            chosen = [r for r in rows if r["set"] == name and r["mode"] == mode]
            if not chosen:
                continue
            cut = [r["tokens"] >= r["max_tokens"] for r in chosen]
            new = sum(score(Item(r["id"], "", str(r["gold"]), "math"), r["text"], truncated=c).correct
                      for r, c in zip(chosen, cut, strict=True))
            was = sum(bool(old.verify_math(r["text"], str(r["gold"]))) for r in chosen)
            n = len(chosen)
            print(f"{name:<11}{mode:<7}{n:>4}  {new:>5} ({new / n:.3f})    {was:>9} ({was / n:.3f})  {sum(cut):>6}")


if __name__ == "__main__":
    main()
