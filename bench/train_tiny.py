"""Proof that the pipeline learns, on this CPU: SmolLM2-135M (the embedded GGUF converted to a
Hugging Face checkpoint once), SFT on a few hundred generated arithmetic problems, then a few MGPO
steps; greedy accuracy on held-back problems before and after each stage, and training curves.

    .venv/bin/python bench/train_tiny.py --out bench/out/train_tiny
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from training.checkpoint import embedded_hf_checkpoint
from training.config import DataConfig, MGPOStageConfig, SamplingConfig, SFTStageConfig, from_dict
from training.probe import greedy_accuracy
from training.records import Record, write_records
from training.tasks import KINDS, arithmetic_records


def accuracy(model: str, records: list[Record], max_new_tokens: int) -> dict[str, float]:
    """Greedy accuracy per problem kind (and overall)."""
    return greedy_accuracy(model, records, max_new_tokens, batch_size=48)


def plot(out: Path, sft_log: list[dict], mgpo_log: list[dict], table: dict[str, dict[str, float]]) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    steps = [e["step"] for e in sft_log if "loss" in e]
    axes[0].plot(steps, [e["loss"] for e in sft_log if "loss" in e], marker=".")
    axes[0].set(title="SFT training loss", xlabel="step", ylabel="loss")
    steps = [e["step"] for e in mgpo_log if "reward" in e]
    axes[1].plot(steps, [e["reward"] for e in mgpo_log if "reward" in e], marker="o", label="mean reward")
    axes[1].plot(steps, [e.get("mgpo/weight_mean", float("nan")) for e in mgpo_log if "reward" in e],
                 marker="x", label="mean MGPO weight")
    axes[1].set(title="MGPO rollouts", xlabel="step", ylim=(0, 1.05))
    axes[1].legend()
    kinds = [k for k in table["base"] if k != "all"] + ["all"]
    width = 0.27
    for i, (name, accs) in enumerate(table.items()):
        axes[2].bar([j + (i - 1) * width for j in range(len(kinds))], [accs[k] for k in kinds], width, label=name)
    axes[2].set_xticks(range(len(kinds)), kinds)
    axes[2].set(title="held-back greedy accuracy", ylim=(0, 1))
    axes[2].legend()
    fig.tight_layout()
    path = out / "train_tiny.png"
    fig.savefig(path, dpi=110)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="bench/out/train_tiny")
    parser.add_argument("--train", type=int, default=180, help="SFT problems (a third per kind)")
    parser.add_argument("--heldout", type=int, default=45, help="held-back problems (a third per kind)")
    parser.add_argument("--sft-epochs", type=float, default=1)
    parser.add_argument("--mgpo-steps", type=int, default=4)
    parser.add_argument("--mgpo-prompts", type=int, default=24)
    parser.add_argument("--max-new-tokens", type=int, default=24)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    base = str(embedded_hf_checkpoint())
    print(f"checkpoint: {base} ({time.time() - t0:.1f} s)")

    heldout = arithmetic_records(args.heldout, seed=1234)
    seen = {r.question for r in heldout}
    train = arithmetic_records(args.train, seed=1, exclude=seen)
    rl = arithmetic_records(args.mgpo_prompts, seed=2, exclude=seen | {r.question for r in train})
    write_records(train, out / "sft.jsonl")
    write_records(rl, out / "rl.jsonl")

    table: dict[str, dict[str, float]] = {}
    t = time.time()
    table["base"] = accuracy(base, heldout, args.max_new_tokens)
    print(f"base accuracy {table['base']} ({time.time() - t:.0f} s)")

    sft_config = from_dict(SFTStageConfig, {
        "model": base, "data": {"paths": [str(out / "sft.jsonl")]}, "output_dir": str(out / "sft"),
        "curriculum": {"enabled": False},
        "train": {"num_train_epochs": args.sft_epochs, "learning_rate": 1e-4, "per_device_train_batch_size": 16,
                  "packing": False, "max_length": 64, "save_steps": 1000, "warmup_steps": 0.1, "seed": 0}})
    from training.sft import run_sft

    t = time.time()
    sft_metrics = run_sft(sft_config, resume=False)
    sft_seconds = time.time() - t
    table["sft"] = accuracy(sft_metrics["model"], heldout, args.max_new_tokens)
    print(f"SFT: {sft_metrics['stage1']['steps']} steps in {sft_seconds:.0f} s; accuracy {table['sft']}")

    mgpo_config = MGPOStageConfig(
        model=sft_metrics["model"], data=DataConfig(paths=[str(out / "rl.jsonl")]), output_dir=str(out / "mgpo"),
        mgpo_lambda=1.0, long2short_lambda=0.2, filter_solved=True,
        filter_sampling=SamplingConfig(max_new_tokens=16, batch_size=64),
        train={"max_steps": args.mgpo_steps, "learning_rate": 2e-6, "per_device_train_batch_size": 8,
               "gradient_accumulation_steps": 2, "num_generations": 4, "max_completion_length": 16,
               "save_steps": 1000, "seed": 0, "warmup_steps": 0})
    from training.mgpo import run_mgpo

    t = time.time()
    mgpo_metrics = run_mgpo(mgpo_config, resume=False)
    mgpo_seconds = time.time() - t
    table["mgpo"] = accuracy(mgpo_metrics["model"], heldout, args.max_new_tokens)
    print(f"MGPO: {mgpo_metrics['steps']} steps in {mgpo_seconds:.0f} s "
          f"({mgpo_metrics['kept_after_filter']}/{len(rl)} prompts kept by the 0<p<1 filter); accuracy {table['mgpo']}")

    sft_log = json.loads(Path(sft_metrics["stage1"]["log_history"]).read_text())
    mgpo_log = json.loads(Path(mgpo_metrics["log_history"]).read_text())
    figure = plot(out, sft_log, mgpo_log, table)
    summary = {"accuracy": table, "heldout": len(heldout), "train": len(train), "rl_prompts": len(rl),
               "sft_seconds": round(sft_seconds), "sft_steps": sft_metrics["stage1"]["steps"],
               "mgpo_seconds": round(mgpo_seconds), "mgpo_steps": mgpo_metrics["steps"],
               "kinds": list(KINDS), "figure": str(figure), "total_seconds": round(time.time() - t0)}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print("\nheld-back greedy accuracy (base -> SFT -> MGPO)")
    for kind in table["base"]:
        print(f"  {kind:5s} {table['base'][kind]:.2f} -> {table['sft'][kind]:.2f} -> {table['mgpo'][kind]:.2f}")
    print(f"figure: {figure}; total {summary['total_seconds']} s")


if __name__ == "__main__":
    main()
