"""Training throughput of SmolLM2-135M on this CPU: tokens/s of forward + backward + AdamW step, for
full fine-tuning vs LoRA (peft), torch threads 2 vs 1, and a few sequence lengths. The figures the
specialist recipe is budgeted from.

    flock /tmp/corecover-cpu.lock .venv/bin/python bench/train_throughput.py

Each configuration: one warm-up step, then the median of ``--steps`` timed steps; batches of real chat
prompts + worked solutions from training.tasks, padded to the batch's longest (length-grouped).
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


def batches(tokenizer, size: int, length: int, count: int):
    """``count`` batches of ``size`` sequences cut/padded to exactly ``length`` tokens."""
    import torch

    from training.tasks import SPECIALIST_KINDS, problem_records

    records = problem_records(SPECIALIST_KINDS, size * count, seed=7)
    ids = [tokenizer.apply_chat_template(r.messages, tokenize=True) for r in records]
    ids = [list(x["input_ids"] if isinstance(x, dict) else x) for x in ids]
    out = []
    for b in range(count):
        rows = [(seq * (length // max(1, len(seq)) + 1))[:length] for seq in ids[b * size:(b + 1) * size]]
        out.append(torch.tensor(rows))
    return out


def measure(model, data, steps: int, lr: float) -> float:
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    optim = torch.optim.AdamW(params, lr=lr)
    model.train()
    times = []
    for i, batch in enumerate(data[: steps + 1]):
        start = time.perf_counter()
        loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        optim.step()
        optim.zero_grad(set_to_none=True)
        if i:  # the first step warms up
            times.append(time.perf_counter() - start)
    return data[0].numel() / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--out", default="bench/out/train_throughput.json")
    args = parser.parse_args()
    import torch
    from transformers import AutoModelForCausalLM

    from training.checkpoint import load_model, resolve_model

    _, tokenizer = load_model(args.model)
    path = resolve_model(args.model)
    grid = [  # (method, threads, batch, length)
        ("full", 2, 16, 64), ("full", 1, 16, 64), ("full", 2, 8, 128), ("full", 2, 32, 32),
        ("full-frozen-embeddings", 2, 16, 64), ("lora-r16", 2, 16, 64), ("lora-r16", 1, 16, 64),
    ]
    rows = []
    for method, threads, size, length in grid:
        torch.set_num_threads(threads)
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
        if method.startswith("lora"):
            from peft import LoraConfig, get_peft_model

            model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear",
                                                     task_type="CAUSAL_LM"))
        elif method == "full-frozen-embeddings":
            model.get_input_embeddings().weight.requires_grad_(False)
        data = batches(tokenizer, size, length, args.steps + 1)
        rate = measure(model, data, args.steps, 1e-4)
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        row = {"method": method, "threads": threads, "batch": size, "length": length,
               "tokens_per_s": round(rate, 1), "seconds_per_step": round(size * length / rate, 2),
               "trainable_params": trainable}
        rows.append(row)
        print(json.dumps(row), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(rows, indent=1))
    print("\n| method | threads | batch × length | tokens/s | s/step | trainable params |\n|---|---:|---|---:|---:|---:|")
    for r in rows:
        print(f"| {r['method']} | {r['threads']} | {r['batch']} × {r['length']} | {r['tokens_per_s']} | "
              f"{r['seconds_per_step']} | {r['trainable_params'] / 1e6:.1f} M |")


if __name__ == "__main__":
    main()
