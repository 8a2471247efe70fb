"""Test-time scaling at the embedded reasoner's boundary: pass@1, vote@K and clr@K side by side.

One run through the eval harness (``eval.runner.run``, resumable) on the generated boundary set
(bench/boundary_tasks.py): greedy pass@1, then K_max samples per problem at the preset's eval
temperature. Vote and CLR are computed on the same samples: K=4 uses the first 4 of the 8, and
CLR scores each candidate once (its claims and verdicts do not depend on K). Prints accuracy,
tokens per question (sampling + claims + verification) and the confidence threshold that best
separates right from wrong winners (used for ``reasoner.tts.DEFAULT_THRESHOLDS``). Every row
scores the same extracted answer (``reasoner.tts.candidate_answer``: the final answer, else the
last number) with the harness's ``same_answer``; the harness's own scores are printed beside.

    .venv/bin/python bench/tts.py [--n 30] [--ks 4 8] [--out /tmp/corecover-bench-tts]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path
from typing import Any

from boundary_tasks import boundary_tasks
from rich.console import Console
from rich.progress import track
from rich.table import Table

from eval.benchmarks import Custom
from eval.runner import read_samples, run, run_dir
from eval.scoring import same_answer
from eval.systems import ReasonerSystem
from reasoner.base import Completion, Sampling
from reasoner.presets import preset_for
from reasoner.tts import Candidate, candidate_answer, decide, is_confident, score_claims


def candidates_of(records: list[dict[str, Any]]) -> list[Candidate]:
    """The harness's samples of one item, in sample order, as TTS candidates."""
    out = []
    for r in sorted(records, key=lambda r: r["sample"]):
        c = Completion.from_text(r["text"], prompt_tokens=r["prompt_tokens"], completion_tokens=r["completion_tokens"])
        out.append(Candidate(candidate_answer(c), c))
    return out


def right(answer: str | None, gold: str) -> bool:
    return answer is not None and same_answer("math", answer, gold)


def best_threshold(points: list[tuple[float, bool]]) -> tuple[float, float]:
    """The threshold on the confidence score with the best balanced accuracy for "winner is right"."""
    best = (0.5, 0.0)
    for t in sorted({s for s, _ in points}):
        hits = [(s >= t) == ok for s, ok in points]
        right = [s >= t for s, ok in points if ok]
        wrong = [s < t for s, ok in points if not ok]
        balanced = statistics.mean([statistics.mean(right) if right else 0.0, statistics.mean(wrong) if wrong else 0.0])
        if balanced > best[1] or (balanced == best[1] and sum(hits) > 0):
            best = (t, balanced)
    return best


async def main(args: argparse.Namespace) -> None:
    console = Console()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = boundary_tasks(args.n, args.seed)
    path = out / "boundary.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    bench = Custom(path, kind="math", name="boundary")
    system = ReasonerSystem(args.backend)
    backend = system.backend
    k_max = max(args.ks)
    started = time.perf_counter()

    greedy = await run(bench, system, out / "greedy", n=1, sampling=Sampling(temperature=0.0, max_tokens=args.max_tokens),
                       concurrency=1, seed=args.seed)
    temperature = preset_for(backend.model).eval.temperature
    sampled = await run(bench, system, out / "sampled", n=k_max, concurrency=1, seed=args.seed, ks=sorted(args.ks),
                        sampling=Sampling(temperature=temperature, top_p=0.95, max_tokens=args.max_tokens))
    records = read_samples(run_dir(out / "sampled", bench.name, system.name) / "samples.jsonl")

    # CLR: claims and verdicts of every candidate, once, cached per item (a rerun resumes)
    cache_path = out / "clr.jsonl"
    cached = {r["id"]: r for r in map(json.loads, cache_path.read_text().splitlines())} if cache_path.is_file() else {}
    per_item: dict[str, list[Candidate]] = {}
    with open(cache_path, "a") as cache:
        for item in track(bench.items, description="CLR claims + verdicts", console=console):
            cands = candidates_of([r for r in records if r["item_id"] == item.id and r["sample"] < k_max])
            if item.id in cached:
                for cand, saved in zip(cands, cached[item.id]["candidates"], strict=True):
                    cand.claims, cand.verdicts = saved["claims"], saved["verdicts"]
                    cand.reliability, cand.tokens = saved["reliability"], saved["tokens"]
            else:
                answered = [c for c in cands if c.answer is not None]
                await score_claims(backend, item.prompt, answered, claim_tokens=args.claim_tokens)
                cache.write(json.dumps({"id": item.id, "candidates": [
                    {"claims": c.claims, "verdicts": c.verdicts, "reliability": c.reliability, "tokens": c.tokens}
                    for c in cands]}) + "\n")
                cache.flush()
            per_item[item.id] = cands

    table = Table(title=f"boundary set: {len(bench.items)} problems, SmolLM2 {backend.model}, T={temperature}")
    for col in ("method", "K", "accuracy", "tokens / question", "× greedy tokens", "threshold", "bal. acc."):
        table.add_column(col, justify="right")
    g_tokens = (greedy["summary"]["prompt_tokens"] + greedy["summary"]["completion_tokens"]) / len(bench.items)
    gold = {i.id: i.gold for i in bench.items}
    g_records = read_samples(run_dir(out / "greedy", bench.name, system.name) / "samples.jsonl")
    g_cands = {r["item_id"]: candidates_of([r])[0] for r in g_records if r["item_id"] in gold}
    greedy_acc = statistics.mean(right(g_cands[i.id].answer, i.gold) for i in bench.items)
    sampled_acc = statistics.mean(right(c.answer, i.gold) for i in bench.items for c in per_item[i.id])
    table.add_row("greedy pass@1", "1", f"{greedy_acc:.1%}", f"{g_tokens:.0f}", "1.0", "", "")
    s_tokens = {i.id: [r["prompt_tokens"] + r["completion_tokens"] for r in sorted(
        (r for r in records if r["item_id"] == i.id), key=lambda r: r["sample"])] for i in bench.items}
    table.add_row(f"sampled pass@1 (avg@{k_max})", "1", f"{sampled_acc:.1%}",
                  f"{statistics.mean(statistics.mean(t) for t in s_tokens.values()):.0f}", "", "", "")
    figures: dict[str, Any] = {"greedy_pass@1": greedy_acc, "sampled_pass@1": sampled_acc,
                               "harness": {"greedy_accuracy": greedy["summary"]["accuracy"],
                                           "sampled_accuracy": sampled["summary"]["accuracy"],
                                           "cons@k": sampled["summary"]["cons@k"]}}
    for k in sorted(args.ks):
        for method in ("vote", "clr"):
            correct, tokens, points, degraded = [], [], [], 0
            for item in bench.items:
                cands = per_item[item.id][:k]
                notes: list[str] = []
                _, winner, share, rel = decide(method, cands, notes)
                degraded += any("majority vote used" in n for n in notes)
                ok = right(winner, item.gold)
                correct.append(ok)
                score = rel if method == "clr" and rel is not None else share
                points.append((score, ok))
                spent = sum(s_tokens[item.id][:k])
                if method == "clr":
                    spent += sum(c.tokens.get("claims", 0) + c.tokens.get("verification", 0) for c in cands)
                tokens.append(spent)
            threshold, balanced = best_threshold(points)
            acc = statistics.mean(correct)
            figures[f"{method}@{k}"] = {"accuracy": acc, "tokens_per_question": statistics.mean(tokens),
                                        "threshold": threshold, "balanced_accuracy": balanced,
                                        "degraded_to_vote": degraded}
            table.add_row(f"{method}@{k}" + (f" ({degraded} fell back to vote)" if degraded else ""), str(k),
                          f"{acc:.1%}", f"{statistics.mean(tokens):.0f}", f"{statistics.mean(tokens) / g_tokens:.1f}",
                          f"{threshold:.3f}", f"{balanced:.2f}")
    console.print(table)
    console.print("every row scores the same extracted answer (final answer, else last number) against the gold; "
                  f"the harness's own scorer says greedy {greedy['summary']['accuracy']:.1%}, sampled "
                  f"{sampled['summary']['accuracy']:.1%}, cons@k {sampled['summary']['cons@k']}")
    confident = [is_confident(_result("vote", per_item[i.id][:k_max])) for i in bench.items]
    console.print(f"default vote threshold flags {sum(confident)}/{len(confident)} answers confident at K={k_max}")
    console.print(f"wall time {time.perf_counter() - started:.0f} s (samples and CLR verdicts are cached in {out})")
    (out / "figures.json").write_text(json.dumps(figures, indent=2))


def _result(method: str, cands: list[Candidate]) -> Any:
    from reasoner.tts import TTSResult

    notes: list[str] = []
    return TTSResult(method, len(cands), *decide(method, cands, notes), {}, notes, cands)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=30, help="problems in the boundary set")
    parser.add_argument("--ks", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--claim-tokens", type=int, default=64)
    parser.add_argument("--backend", default="llamacpp:embedded")
    parser.add_argument("--out", default="/tmp/corecover-bench-tts")
    asyncio.run(main(parser.parse_args()))
