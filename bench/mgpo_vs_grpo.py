"""MGPO vs GRPO at matched compute: λ = 1 against λ = 0, the same start model (the specialist recipe's
SFT output), the same boundary prompts, steps, batch and generations, three seeds each. Reports greedy
accuracy on eval's held-back generated set (mean ± sd over seeds, the start model measured in the same
run) and the distribution of the entropy weights w(q) = exp(-KL(p(q) ‖ 0.5)) over training.

    flock /tmp/corecover-cpu.lock .venv/bin/python bench/mgpo_vs_grpo.py --run runs/specialist

Resumable: finished runs and evaluations are kept in --out and skipped on a rerun.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.config import MGPOStageConfig, SamplingConfig, from_dict
from training.probe import greedy_accuracy, heldout_records
from training.records import read_records, write_records


def start_model(run: Path) -> str:
    """The recipe's SFT output: what its RL stage started from."""
    plan = json.loads((run / "pipeline.json").read_text())["stages"]
    sft = next((s for s in plan if s["stage"] == "sft"), None)
    done = Path(sft["output_dir"]) / "stage_done.json" if sft else None
    if done is None or not done.is_file():
        sys.exit(f"error: {run} has no finished sft stage: run the specialist recipe first")
    return json.loads(done.read_text())["model"]


def boundary(model: str, pool: Path, out: Path, generations: int, max_tokens: int, limit: int) -> Path:
    """The pool's prompts the start model solves sometimes but not always (computed once, shared)."""
    path = out / "boundary.jsonl"
    if path.is_file():
        return path
    from training.checkpoint import load_model
    from training.mgpo import drop_solved_and_unsolved, start_accuracy

    records = read_records(pool)[:limit]
    policy, tokenizer = load_model(model)
    acc = start_accuracy(policy, tokenizer, records, generations, SamplingConfig(max_new_tokens=max_tokens,
                                                                                   batch_size=64))
    kept = drop_solved_and_unsolved(records, acc)
    write_records(kept, path)
    (out / "boundary.json").write_text(json.dumps({"pool": len(records), "kept": len(kept),
                                                   "start_accuracy": statistics.fmean(acc)}, indent=2))
    return path


def train(model: str, data: Path, out: Path, lam: float, seed: int, args: argparse.Namespace) -> str:
    from training.mgpo import run_mgpo

    done = out / "done.json"
    if done.is_file():
        return json.loads(done.read_text())["model"]
    config = from_dict(MGPOStageConfig, {
        "model": model, "data": {"paths": [str(data)]}, "output_dir": str(out), "mgpo_lambda": lam,
        "long2short_lambda": 0.0, "filter_solved": False,
        "train": {"max_steps": args.steps, "learning_rate": args.lr, "per_device_train_batch_size": args.batch,
                  "num_generations": args.generations, "max_completion_length": args.max_tokens,
                  "gradient_accumulation_steps": 1, "save_steps": 5, "seed": seed, "data_seed": seed,
                  "warmup_steps": 0, "temperature": 1.0}})
    start = time.time()
    metrics = run_mgpo(config, resume=True)
    done.write_text(json.dumps({**metrics, "seconds": round(time.time() - start)}, default=str))
    return metrics["model"]


def weights(run: Path) -> list[dict]:
    """Every training group's p(q) and w(q), the last record of each step (a resumed step is logged twice)."""
    path = run / "groups.jsonl"
    lines = path.read_text().splitlines() if path.is_file() else []
    by_step = {(record := json.loads(line))["step"]: record for line in lines}
    return list(by_step.values())


def evaluate(model: str, out: Path, limit: int, max_tokens: int) -> dict[str, float]:
    path = out / "heldout_accuracy.json"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(greedy_accuracy(model, heldout_records(limit), max_tokens)))
    return json.loads(path.read_text())


def plot(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    names = ["start (SFT)", "GRPO (λ=0)", "MGPO (λ=1)"]
    means = [summary["start"]["all"], summary["grpo"]["mean"], summary["mgpo"]["mean"]]
    sds = [0.0, summary["grpo"]["sd"], summary["mgpo"]["sd"]]
    axes[0].bar(names, [100 * m for m in means], yerr=[100 * s for s in sds], capsize=4,
                color=["grey", "tab:blue", "tab:orange"])
    axes[0].set(ylabel="held-back greedy accuracy (%)", title=f"mean ± sd over {summary['seeds']} seeds")
    for key, label in (("grpo", "GRPO (λ=0): w(q) not applied"), ("mgpo", "MGPO (λ=1): w(q) applied")):
        axes[1].hist(summary[key]["w_all"], bins=20, range=(0.5, 1.0), alpha=0.55, label=label)
    axes[1].set(xlabel="w(q) = exp(-KL(p(q) ‖ 0.5))", ylabel="groups", title="entropy weights over training")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default="runs/specialist", help="the specialist recipe's run folder")
    parser.add_argument("--out", default="bench/out/mgpo_vs_grpo")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    # sized for one ~25-minute hold of the CPU lock on 2 cores (~40 s per step of 16 completions)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--batch", type=int, default=16, help="completions per step")
    parser.add_argument("--generations", type=int, default=4, help="completions per prompt (group size)")
    parser.add_argument("--lr", type=float, default=1e-5)
    parser.add_argument("--max-tokens", type=int, default=200)
    parser.add_argument("--pool", type=int, default=64, help="RL pool prompts the boundary filter scans")
    parser.add_argument("--heldout", type=int, default=90, help="held-back items (10 per kind)")
    args = parser.parse_args()
    out, run = Path(args.out), Path(args.run)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    model = start_model(run)
    plan = json.loads((run / "pipeline.json").read_text())["stages"]
    data_dir = Path(next(s for s in plan if s["stage"] == "generate")["output_dir"])
    data = boundary(model, data_dir / "rl.jsonl", out, args.generations, args.max_tokens, args.pool)
    print(f"start {model}; boundary prompts: {json.loads((out / 'boundary.json').read_text())}", flush=True)
    summary: dict = {"seeds": len(args.seeds), "steps": args.steps, "batch": args.batch,
                     "generations": args.generations, "lr": args.lr, "start_model": model,
                     "start": evaluate(model, out / "start", args.heldout, args.max_tokens)}
    print(f"start accuracy {summary['start']['all']:.3f}", flush=True)
    for key, lam in (("grpo", 0.0), ("mgpo", 1.0)):
        accs, w_all, p_all, seconds = [], [], [], []
        for seed in args.seeds:
            folder = out / f"{key}-seed{seed}"
            final = train(model, data, folder, lam, seed, args)
            acc = evaluate(final, folder, args.heldout, args.max_tokens)
            accs.append(acc["all"])
            seconds.append(json.loads((folder / "done.json").read_text())["seconds"])
            for record in weights(folder):
                w_all += record["w"]
                p_all += record["p"]
            print(f"{key} seed {seed}: held-back accuracy {acc['all']:.3f} ({time.time() - t0:.0f} s)", flush=True)
        summary[key] = {"lambda": lam, "accuracy": accs, "mean": statistics.fmean(accs),
                        "sd": statistics.stdev(accs) if len(accs) > 1 else 0.0, "train_seconds": seconds,
                        "w_mean": statistics.fmean(w_all) if w_all else float("nan"),
                        "w_quartiles": statistics.quantiles(w_all, n=4) if len(w_all) > 1 else [],
                        "groups": len(w_all), "groups_all_or_nothing": sum(p in (0.0, 1.0) for p in p_all),
                        "w_all": w_all}
    summary["total_seconds"] = round(time.time() - t0)
    plot(summary, out / "mgpo_vs_grpo.png")
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(f"\nheld-back greedy accuracy over {args.heldout} items; start (SFT) {100 * summary['start']['all']:.1f}%")
    print("| algorithm | λ | accuracy % (mean ± sd) | per seed | w(q) mean | w(q) quartiles | groups with p∈{0,1} |")
    print("|---|---:|---:|---|---:|---|---:|")
    for key in ("grpo", "mgpo"):
        s = summary[key]
        print(f"| {key.upper()} | {s['lambda']:.0f} | {100 * s['mean']:.1f} ± {100 * s['sd']:.1f} | "
              f"{', '.join(f'{100 * a:.1f}' for a in s['accuracy'])} | {s['w_mean']:.3f} | "
              f"{', '.join(f'{q:.3f}' for q in s['w_quartiles'])} | {s['groups_all_or_nothing']}/{s['groups']} |")
    print(f"figure: {out / 'mgpo_vs_grpo.png'}; total {summary['total_seconds']} s")


if __name__ == "__main__":
    main()
