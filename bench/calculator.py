"""Calculator-checked reasoning on the embedded reasoner: plain decoding vs flag vs calculator-in-the-loop.

Two sets, same run, same backend (SmolLM2-135M on llama.cpp, one thread, greedy, the agent's
reason prompt):

- GSM8K test, first ``--gsm8k`` items (``../shared/data/benchmarks/gsm8k_test.jsonl``);
- generated arithmetic (``--arith`` items from ``--seed``): multi-digit add/sub/mul/div, fractions,
  percentages, in symbols and in words; ``training.tasks`` supplies its two-digit kinds.

Each item is answered twice: ``plain`` (calculator off; ``flag`` is the same text with every
written calculation recomputed, so it shares plain's accuracy and adds the flags) and ``inject``
(the exact value injected after every ``expression =``). Each answer then goes through
``reasoner.verify.verify`` and the checks' latency is timed. A sample counts as correct only
with a stated final answer equal to the gold (``eval.scoring``'s strict rule: boxed, else "the answer
is X"; never the last number of free text).

Printed per set, for the odd-numbered items (the report half; even ones are for tuning), the
even ones and all: accuracy plain vs inject, flag detection, precision and coverage of
``verified`` (target 1.00), ``contradicted``, accuracy when contradicted answers take the exact
``corrected`` value, tokens and seconds per answer, and the checks' latency p50/p95 (target
p50 <= 20 ms). Per-sample JSONL goes to ``--out`` and a rerun resumes from it.

    flock /tmp/corecover-cpu.lock .venv/bin/python bench/calculator.py [--gsm8k 200] [--arith 200]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from agent import prompts  # noqa: E402  the agent's own reason prompt
from eval.scoring import answer_part, math_answer, math_equal  # noqa: E402  the project's strict rule
from reasoner.calculator import parse_number  # noqa: E402
from reasoner.control import Control, controlled_generate  # noqa: E402
from reasoner.llamacpp import LlamaCppBackend  # noqa: E402
from reasoner.parsing import last_number  # noqa: E402
from reasoner.verify import verify  # noqa: E402
from training.tasks import arithmetic_problem  # noqa: E402

GSM8K = ROOT.parent / "shared" / "data" / "benchmarks" / "gsm8k_test.jsonl"
MODES = ("plain", "inject")


# -- data ---------------------------------------------------------------------------------
def gsm8k_items(count: int) -> list[dict[str, Any]]:
    if not GSM8K.is_file():
        print(f"GSM8K not found at {GSM8K}: skipped", file=sys.stderr)
        return []
    items = []
    for index, line in enumerate(GSM8K.read_text().splitlines()[:count]):
        row = json.loads(line)
        gold = row["answer"].split("####")[-1].strip().replace(",", "")
        items.append({"id": f"gsm8k-{index}", "set": "gsm8k", "index": index, "question": row["question"],
                      "gold": gold})
    return items


def arithmetic_item(kind: str, rng: random.Random) -> tuple[str, Fraction]:
    """One generated problem; the gold is computed here from the integers, not by the calculator."""
    if kind in ("add2", "mul1"):
        question, value, _ = arithmetic_problem(kind, rng)
        return question, Fraction(value)
    a, b = rng.randint(100, 9999), rng.randint(100, 9999)
    if kind == "add":
        return f"What is {a} + {b}?", Fraction(a + b)
    if kind == "sub":
        return f"What is {a} minus {b}?", Fraction(a - b)
    if kind == "mul":
        a, b = rng.randint(12, 99), rng.randint(12, 999)
        return f"What is {a} * {b}?", Fraction(a * b)
    if kind == "mulw":
        a, b = rng.randint(11, 99), rng.randint(11, 99)
        return f"What is {a} times {b}?", Fraction(a * b)
    if kind == "div":
        b, q = rng.randint(3, 40), rng.randint(12, 400)
        return f"Compute {b * q} / {b}.", Fraction(q)
    if kind == "frac":
        p, q, r, s = rng.randint(1, 9), rng.randint(2, 12), rng.randint(1, 9), rng.randint(2, 12)
        return f"Compute {p}/{q} + {r}/{s}", Fraction(p, q) + Fraction(r, s)
    if kind == "pct":
        pct, base = rng.choice([5, 10, 12, 15, 20, 25, 30, 40, 50, 75]), rng.randint(2, 90) * 20
        return f"What is {pct}% of {base}?", Fraction(pct * base, 100)
    raise ValueError(kind)


ARITH_KINDS = ("add", "sub", "mul", "mulw", "div", "frac", "pct", "add2", "mul1")


def arithmetic_items(count: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    items = []
    for index in range(count):
        question, gold = arithmetic_item(ARITH_KINDS[index % len(ARITH_KINDS)], rng)
        gold_text = str(gold.numerator) if gold.denominator == 1 else f"{gold.numerator}/{gold.denominator}"
        items.append({"id": f"arith-{index}", "set": "arithmetic", "index": index, "question": question,
                      "gold": gold_text, "kind": ARITH_KINDS[index % len(ARITH_KINDS)]})
    return items


# -- one answer ---------------------------------------------------------------------------
def same(answer: str | None, gold: str) -> bool:
    value = parse_number(answer) if answer else None
    return value is not None and value == parse_number(gold)


def run_one(backend: Any, item: dict[str, Any], mode: str, max_tokens: int) -> dict[str, Any]:
    """Generate one answer (the slow part); everything derived from its text is computed in :func:`score`."""
    control = Control(calculator="inject" if mode == "inject" else "flag")
    started = time.perf_counter()
    completion = controlled_generate(backend, prompts.reason_messages(item["question"]), control=control,
                                     temperature=0.0, max_tokens=max_tokens, timeout=1800)
    calc = completion.extra.get("calculator") or {}
    return {"id": item["id"], "set": item["set"], "index": item["index"], "mode": mode, "gold": item["gold"],
            "text": completion.text, "answer": completion.answer, "final_answer": completion.final_answer,
            "injections": len(calc.get("injections", [])), "tokens": completion.completion_tokens,
            "max_tokens": max_tokens,
            "seconds": round(time.perf_counter() - started, 3)}


def score(row: dict[str, Any], question: str) -> dict[str, Any]:
    """Strict correctness, the verdict (as the agent's reason node would ask for it) and its latency."""
    answer = row["answer"] or row["text"].strip()
    stated, _ = math_answer(answer_part(row["text"]), truncated=row["tokens"] >= row.get("max_tokens", 256))
    agent_final = row["final_answer"] or last_number(answer)  # what the agent's reason node passes
    tick = time.perf_counter()
    verdict = verify(question, row["text"], agent_final)
    check_ms = (time.perf_counter() - tick) * 1000
    correct = stated is not None and math_equal(stated, row["gold"])
    return {**row, "stated": stated, "agent_final": agent_final, "correct": correct,
            "agent_final_correct": same(agent_final, row["gold"]), "status": verdict.status,
            "corrected": verdict.corrected,
            "corrected_correct": same(verdict.corrected, row["gold"]) if verdict.corrected else None,
            "failed_steps": sum(c.name == "step" and c.outcome == "failed" for c in verdict.checks),
            "check_ms": check_ms}


# -- report -------------------------------------------------------------------------------
def share(part: int, whole: int) -> str:
    return f"{part / whole:.2f} ({part}/{whole})" if whole else "n/a (0/0)"


def summarise(rows: list[dict[str, Any]]) -> dict[str, str]:
    n = len(rows)
    verified = [r for r in rows if r["status"] == "verified"]
    contradicted = [r for r in rows if r["status"] == "contradicted"]
    flagged = [r for r in rows if r["failed_steps"]]
    shown = sum(r["agent_final_correct"] if r["status"] == "verified" else r["corrected_correct"]
                if r["status"] == "contradicted" or (r["corrected"] and not r["stated"]) else r["correct"]
                for r in rows)  # the answer the agent shows: the exact value replaces a contradicted one
    return {
        "n": str(n), "accuracy": share(sum(r["correct"] for r in rows), n),
        "verified precision": share(sum(r["agent_final_correct"] for r in verified), len(verified)),
        "verified coverage": share(len(verified), n),
        "contradicted (wrong)": share(sum(not r["agent_final_correct"] for r in contradicted), len(contradicted)),
        "acc. with corrected": share(shown, n),
        "flagged (>=1 wrong step)": share(len(flagged), n),
        "acc. flagged / not": (f"{share(sum(r['correct'] for r in flagged), len(flagged))} / "
                               f"{share(sum(r['correct'] for r in rows if not r['failed_steps']), n - len(flagged))}"),
        "injections / answer": f"{statistics.mean(r['injections'] for r in rows):.2f}" if rows else "n/a",
        "tokens / answer (mean)": f"{statistics.mean(r['tokens'] for r in rows):.1f}" if rows else "n/a",
        "seconds / answer (p50)": f"{statistics.median(r['seconds'] for r in rows):.2f}" if rows else "n/a",
        "checks ms p50 / p95": (f"{statistics.median(r['check_ms'] for r in rows):.2f} / "
                                f"{sorted(r['check_ms'] for r in rows)[int(0.95 * (n - 1))]:.2f}") if rows else "n/a",
    }


def report(results: list[dict[str, Any]]) -> None:
    for name in ("gsm8k", "arithmetic"):
        for half, keep in (("odd (report)", 1), ("even (tune)", 0), ("all", None)):
            table = {mode: summarise([r for r in results if r["set"] == name and r["mode"] == mode
                                      and (keep is None or r["index"] % 2 == keep)]) for mode in MODES}
            if table["plain"]["n"] == "0":
                continue
            print(f"\n== {name}, {half} ==")
            print(f"{'':28}" + "".join(f"{m:>28}" for m in ("plain / flag", "inject")))
            for key in table["plain"]:
                print(f"{key:28}" + "".join(f"{table[m][key]:>28}" for m in MODES))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gsm8k", type=int, default=200)
    parser.add_argument("--arith", type=int, default=200)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "bench-calculator.jsonl")
    parser.add_argument("--report-only", action="store_true", help="print the report of --out, run nothing")
    args = parser.parse_args()

    args.out.parent.mkdir(parents=True, exist_ok=True)
    done: dict[tuple[str, str], dict[str, Any]] = {}
    if args.out.is_file():
        for line in args.out.read_text().splitlines():
            row = json.loads(line)
            done[(row["id"], row["mode"])] = row
    items = arithmetic_items(args.arith, args.seed) + gsm8k_items(args.gsm8k)
    if not args.report_only:
        backend = LlamaCppBackend(n_threads=args.threads)
        todo = [(item, mode) for item in items for mode in MODES if (item["id"], mode) not in done]
        print(f"{len(items)} items x {len(MODES)} modes; {len(todo)} answers to run ({len(done)} resumed)",
              file=sys.stderr)
        started = time.perf_counter()
        with args.out.open("a") as out:
            for count, (item, mode) in enumerate(todo, 1):
                row = run_one(backend, item, mode, args.max_tokens)
                done[(item["id"], mode)] = row
                out.write(json.dumps(row) + "\n")
                out.flush()
                if count % 10 == 0 or count == len(todo):
                    rate = (time.perf_counter() - started) / count
                    print(f"  {count}/{len(todo)} answers, {rate:.1f} s each, ~{rate * (len(todo) - count) / 60:.0f} "
                          "min left", file=sys.stderr)
    questions = {item["id"]: item["question"] for item in items}
    verify("What is 1 + 1?", "1 + 1 = 2", "2")  # imports done once, before the timing
    report([score(row, questions[key[0]]) for key, row in done.items() if key[0] in questions])


if __name__ == "__main__":
    main()
