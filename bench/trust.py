"""Do the answer labels keep their promise? Precision and coverage of every status, per route and
data set, for this tree's graph and a baseline graph (a git ref, run from its own checkout in a
subprocess) in the same run, plus a risk–coverage plot.

    flock /tmp/corecover-cpu.lock .venv/bin/python bench/trust.py [--nq 200] [--arith 60] [--gsm 200]
        [--mixed 40] [--baseline be9a19b] [--half odd] [--out runs/trust]

Data, each on a forced route (the label's precision, not the router's, is measured):
- knowledge: NQ-open dev questions whose gold answer occurs in the default corpus (normalised, whole
  words, as in bench/retrieval.py); even-numbered ones tune the rules, odd-numbered ones report;
- reason: generated arithmetic and word problems (exact answers), GSM8K test (first N);
- mixed: the router set's held-out corpus-fact questions (dates/spans with a computed answer).

Correctness: knowledge — a normalised gold answer occurs (whole words) in the short answer span
(``final_answer``); a graph that gives no span (today's) is scored by the same test on its whole
answer text, which is more lenient. Reason and mixed — math-verify of the final answer against the
gold number. A label's precision is the share of correct answers among those carrying it; its
coverage is the share of questions that got it. Resumable: per-item JSONL under --out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CORECOVER_SHARED_DATA", ROOT.parent / "shared" / "data"))
ABSTAIN = {"not_grounded", "truncated"}  # no answer given: precision does not apply
TRUST_ORDER = {"verified": 3, "grounded": 2, "unverified": 1, "answered": 1, "low_confidence": 0.5}
MAX_TOKENS = {"knowledge": 64, "reason": 256, "mixed": 256}


# ---------------------------------------------------------------- data


def nq_items(half: str, limit: int | None) -> list[dict[str, Any]]:
    """NQ-open dev questions answerable from the default corpus; ``half`` even or odd (by position)."""
    sys.path.insert(0, str(ROOT))
    from eval.scoring import normalize_qa
    from retriever import load_corpus

    corpus = " | ".join(f" {normalize_qa(p.title + ' ' + p.text)} " for p in load_corpus("default"))
    rows = [json.loads(line) for line in (SHARED / "knowledge" / "nq_open_dev.jsonl").read_text().splitlines()
            if line.strip()]
    answerable = []
    for row in rows:
        answers = [a for a in (normalize_qa(x) for x in row["answer"]) if a]
        if answers and any(f" {a} " in corpus for a in answers):
            answerable.append({"question": row["question"], "gold": row["answer"]})
    print(f"NQ-open dev: {len(rows)} questions, {len(answerable)} answerable from the corpus", flush=True)
    picked = [dict(q, id=f"nq-{i}") for i, q in enumerate(answerable) if i % 2 == (half == "odd")]
    return [dict(q, dataset="nq", route="knowledge") for q in picked[:limit]]


def arithmetic_items(count: int, seed: int = 0) -> list[dict[str, Any]]:
    """Exact-answer problems: a op b (1–3 digits) and one-step word problems."""
    rng = random.Random(seed)
    items = []
    words = [("{a} apples are in a basket and {b} more are added. How many apples are in the basket?", "+"),
             ("A train has {a} seats in each of {b} cars. How many seats does it have?", "*"),
             ("Sam had {a} stickers and gave away {b}. How many stickers does Sam have left?", "-")]
    for i in range(count):
        digits = 1 + i % 3
        a, b = rng.randint(10 ** (digits - 1), 10 ** digits - 1), rng.randint(2, 10 ** digits - 1)
        if i % 4 == 3:
            template, op = words[(i // 4) % len(words)]
            a, b = max(a, b), min(a, b)
            question = template.format(a=a, b=b)
        else:
            op = "+-*"[i % 3]
            question = f"What is {a} {op} {b}?"
        value = a + b if op == "+" else a - b if op == "-" else a * b
        items.append({"id": f"arith-{i}", "question": question, "gold": str(value), "dataset": "arithmetic",
                      "route": "reason"})
    return items


def gsm_items(limit: int) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in (SHARED / "benchmarks" / "gsm8k_test.jsonl").read_text().splitlines()
            if line.strip()][:limit]
    return [{"id": f"gsm8k-{i}", "question": r["question"], "dataset": "gsm8k", "route": "reason",
             "gold": r["answer"].rsplit("####", 1)[-1].strip().replace(",", "")} for i, r in enumerate(rows)]


def mixed_items(limit: int) -> list[dict[str, Any]]:
    """Held-out corpus-fact questions of the router set with a fixed answer (no "years ago today")."""
    rows = [json.loads(line) for line in (ROOT / "agent" / "data" / "router_set.jsonl").read_text().splitlines()]
    rows = [r for r in rows if r["source"] == "template_mixed" and r["split"] == "heldout"
            and r.get("answer") is not None and r.get("template") != "person_now"]
    return [{"id": r["id"], "question": r["text"], "gold": str(r["answer"]), "dataset": "mixed", "route": "mixed"}
            for r in rows[:limit]]


# ---------------------------------------------------------------- running one graph (in a subprocess)


async def _work(items: list[dict[str, Any]], out: Path) -> None:
    """Answer ``items`` with the graph importable from sys.path; one JSON line per item."""
    from agent.config import Settings
    from agent.runner import AgentRunner

    done = {json.loads(line)["id"] for line in out.read_text().splitlines() if line.strip()} if out.exists() else set()
    todo = [it for it in items if it["id"] not in done]
    with tempfile.TemporaryDirectory() as tmp:
        runner = AgentRunner(Settings(checkpoint_db=Path(tmp) / "threads.sqlite", reasoner_temperature=0.0))
        try:
            with out.open("a") as f:
                for i, item in enumerate(todo, 1):
                    started = time.perf_counter()
                    result = await runner.ainvoke(item["question"], route=item["route"],
                                                  max_tokens=MAX_TOKENS[item["route"]])
                    usage = result.get("usage") or {}
                    checks_seconds = sum(float(u.get("checks_seconds") or 0) for u in usage.values()
                                         if isinstance(u, dict))
                    f.write(json.dumps({
                        "id": item["id"], "status": result.get("status"), "answer": result.get("answer"),
                        "final_answer": result.get("final_answer"), "route": result.get("route"),
                        "checks": result.get("checks"), "seconds": time.perf_counter() - started,
                        "checks_seconds": checks_seconds if any("checks_seconds" in u for u in usage.values()
                                                                if isinstance(u, dict)) else None,
                        "relevance": max([c.get("relevance") or 0 for c in result.get("citations") or []],
                                         default=0.0)}, ensure_ascii=False) + "\n")
                    f.flush()
                    if i % 10 == 0 or i == len(todo):
                        print(f"  {out.parent.name}/{out.name}: {i}/{len(todo)}", file=sys.stderr, flush=True)
        finally:
            await runner.aclose()


def run_graph(tree: Path, items: list[dict[str, Any]], out: Path) -> list[dict[str, Any]]:
    """Run the graph of ``tree`` over ``items`` in a fresh process (its own imports); the records."""
    out.parent.mkdir(parents=True, exist_ok=True)
    items_file = out.with_name(f"{out.stem}.{items[0]['dataset'] if items else 'none'}.items.json")
    items_file.write_text(json.dumps(items))
    env = {**os.environ, "PYTHONPATH": str(tree)}
    subprocess.run([sys.executable, __file__, "--worker", str(items_file), str(out)], env=env, check=True,
                   cwd=tree)
    return read_records(items, out)


def read_records(items: list[dict[str, Any]], out: Path) -> list[dict[str, Any]]:
    """The recorded answers to ``items`` (those answered so far)."""
    lines = out.read_text().splitlines() if out.exists() else []
    by_id = {r["id"]: r for r in map(json.loads, filter(None, lines))}
    return [{**it, **by_id[it["id"]]} for it in items if it["id"] in by_id]


def baseline_tree(ref: str, where: Path) -> Path:
    """A checkout of ``ref`` (git archive, no worktree bookkeeping), made once."""
    tree = where / f"baseline-{ref}"
    if not (tree / "agent").is_dir():
        tree.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


# ---------------------------------------------------------------- scoring and tables


def correct(record: dict[str, Any]) -> bool:
    if record["status"] in ABSTAIN:
        return False
    if record["dataset"] == "nq":
        from eval.scoring import normalize_qa

        said = record.get("final_answer") or record.get("answer") or ""
        said = f" {normalize_qa(str(said))} "
        return any(f" {g} " in said for g in (normalize_qa(a) for a in record["gold"]) if g)
    from eval.scoring import verify_math

    return record.get("final_answer") is not None and verify_math(str(record["final_answer"]), record["gold"])


def table(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """status -> n, coverage, precision (and accuracy over all items)."""
    by_status: dict[str, list[bool]] = defaultdict(list)
    for r in records:
        by_status[r["status"] or "?"].append(r["correct"])
    total = len(records)
    rows = {s: {"n": len(v), "coverage": len(v) / total, "precision": sum(v) / len(v),
                "wilson95": wilson(sum(v), len(v))} for s, v in by_status.items()}
    right = sum(r["correct"] for r in records)
    rows["(all)"] = {"n": total, "coverage": 1.0, "precision": right / max(1, total), "wilson95": wilson(right, total)}
    return rows


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson interval of a proportion k/n (small n: the precision of a rare label is uncertain)."""
    if n == 0:
        return 0.0, 1.0
    p, d = k / n, 1 + z * z / n
    centre, half = (p + z * z / (2 * n)) / d, z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / d
    return max(0.0, centre - half), min(1.0, centre + half)


def risk_coverage(records: list[dict[str, Any]]) -> list[tuple[float, float]]:
    """(coverage, risk) as answers are admitted from most to least trusted (label, then relevance)."""
    answered = sorted((r for r in records if r["status"] in TRUST_ORDER),
                      key=lambda r: (-TRUST_ORDER[r["status"]], -(r.get("relevance") or 0)))
    points, wrong = [], 0
    for i, r in enumerate(answered, 1):
        wrong += not r["correct"]
        points.append((i / len(records), wrong / i))
    return points


def plot(curves: dict[str, dict[str, list[tuple[float, float]]]], path: Path) -> None:
    """One panel per data set: risk against coverage for each graph (points: answers admitted)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(curves), figsize=(4.2 * len(curves), 4), squeeze=False)
    for ax, (dataset, systems) in zip(axes[0], curves.items(), strict=True):
        for name, points in systems.items():
            if points:
                ax.plot([c for c, _ in points], [r for _, r in points], "--" if name == "today" else "-",
                        marker="." if len(points) < 30 else None, label=name)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_title(dataset)
        ax.set_xlabel("coverage (share answered)")
        ax.legend(fontsize=8)
    axes[0][0].set_ylabel("risk (share of given answers wrong)")
    fig.suptitle("Risk–coverage: answers admitted from most to least trusted label", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nq", type=int, default=200, help="NQ questions of the chosen half (0: skip)")
    parser.add_argument("--half", choices=("even", "odd"), default="odd", help="even: tuning half; odd: report")
    parser.add_argument("--arith", type=int, default=60, help="generated arithmetic/word problems")
    parser.add_argument("--gsm", type=int, default=200, help="GSM8K test items (first N)")
    parser.add_argument("--mixed", type=int, default=40, help="held-out mixed (facts + computation) questions")
    parser.add_argument("--baseline", default="be9a19b", help="git ref of today's graph ('' to skip)")
    parser.add_argument("--report-only", action="store_true", help="tables from the records already in --out")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "trust")
    args = parser.parse_args()

    items = (nq_items(args.half, args.nq) if args.nq else []) + arithmetic_items(args.arith) + \
        mixed_items(args.mixed) + gsm_items(args.gsm)
    systems = {"new": ROOT}
    if args.baseline:
        systems["today"] = baseline_tree(args.baseline, args.out)
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in systems}
    for dataset in dict.fromkeys(it["dataset"] for it in items):  # both graphs per data set, in turn
        subset = [it for it in items if it["dataset"] == dataset]
        for name, tree in systems.items():
            print(f"{dataset} / {name}: {tree} on {len(subset)} items", flush=True)
            out = args.out / f"{name}-{args.half}.jsonl"
            records = read_records(subset, out) if args.report_only else run_graph(tree, subset, out)
            for r in records:
                r["correct"] = correct(r)
            results[name] += records

    report: dict[str, Any] = {"half": args.half, "systems": {k: str(v) for k, v in systems.items()}, "tables": {}}
    curves: dict[str, dict[str, list[tuple[float, float]]]] = {}
    print(f"\n{'data set':<11}{'system':<7}{'status':<16}{'n':>5}{'coverage':>10}{'precision':>11}  95% CI")
    for dataset in dict.fromkeys(it["dataset"] for it in items):
        for name, records in results.items():
            subset = [r for r in records if r["dataset"] == dataset]
            if not subset:
                continue
            rows = table(subset)
            report["tables"].setdefault(dataset, {})[name] = rows
            for status, row in sorted(rows.items(), key=lambda kv: -TRUST_ORDER.get(kv[0], -1)):
                precision = "–" if status in ABSTAIN else f"{row['precision']:.3f}"
                ci = "" if status in ABSTAIN else "  [{:.2f}, {:.2f}]".format(*row["wilson95"])
                print(f"{dataset:<11}{name:<7}{status:<16}{row['n']:>5}{row['coverage']:>10.3f}{precision:>11}{ci}")
            curves.setdefault(dataset, {})[name] = risk_coverage(subset)
    checks = [r["checks_seconds"] * 1000 for r in results["new"] if r.get("checks_seconds") is not None]
    if checks:
        report["checks_ms"] = {"p50": statistics.median(checks), "max": max(checks), "n": len(checks)}
        print(f"\nchecks latency (new graph): p50 {report['checks_ms']['p50']:.2f} ms, max {max(checks):.2f} ms, "
              f"over {len(checks)} answers")
    args.out.mkdir(parents=True, exist_ok=True)
    plot(curves, args.out / f"risk_coverage-{args.half}.png")
    (args.out / f"trust-{args.half}.json").write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out / f'trust-{args.half}.json'} and risk_coverage-{args.half}.png")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        sys.path.insert(0, os.environ["PYTHONPATH"])
        asyncio.run(_work(json.loads(Path(sys.argv[2]).read_text()), Path(sys.argv[3])))
    else:
        sys.path.insert(0, str(ROOT))
        main()
