"""Reasoning control on prompts where the embedded SmolLM2 loops: no control vs loop guard vs budget.

For each fixed prompt (long-ish word problems on which SmolLM2-135M, greedy, falls into a
repetition loop until max_tokens) and two it answers normally (``--all``), runs under
``reasoner.control`` in the same process.
Three conditions side by side: no control, loop guard only, loop guard + thinking budget.
Prints tokens, seconds and the parsed answer per prompt, the totals saved, and the share of
answers that end with a parsable final answer (``\\boxed{}``) and with any number at all.
Seconds on a shared CPU are noisy; tokens are exact.

    .venv/bin/python bench/reasoning_control.py [--max-tokens 512] [--budget 192] [--all]
"""

from __future__ import annotations

import argparse
import re
import statistics
import time

from rich.console import Console
from rich.table import Table

from reasoner import Completion, load_backend
from reasoner.control import Control, controlled_generate

SYSTEM = "You are a helpful assistant."
# Greedy SmolLM2-135M-Instruct Q4_1 with SYSTEM loops on these until max_tokens (found by
# running 12 word problems at max_tokens=512: the loop guard fired on each of these).
LOOPING = [
    "Betty is saving money for a new wallet which costs $100. Betty has only half of the money she needs. "
    "Her parents decided to give her $15 for that purpose, and her grandparents twice as much as her "
    "parents. How much more money does Betty need to buy the wallet?",
    "A train leaves at 9:15 and travels 210 km at 70 km per hour, then waits 20 minutes and travels 90 km "
    "at 60 km per hour. At what time does it arrive?",
]
# Prompts it answers without looping: control must leave them (nearly) alone.
CONTROLS = [
    "A school has 4 classes with 28 students each. One day 9 students are absent and 3 new students join. "
    "How many students are in school that day?",
    "Maria buys 3 notebooks at $4 each and 5 pens at $1.50 each. She pays with a $50 bill. How much change "
    "does she get?",
]
_NUMBER = re.compile(r"\d")


def run(backend, messages: list[dict[str, str]], control: Control | None, max_tokens: int) -> tuple:
    started = time.perf_counter()
    if control is None:
        completion = backend.generate(messages, temperature=0.0, max_tokens=max_tokens, timeout=1800)[0]
    else:
        completion = controlled_generate(backend, messages, control=control, temperature=0.0,
                                         max_tokens=max_tokens, timeout=1800)
    return completion, time.perf_counter() - started


def finished_with_number(c: Completion) -> bool:
    return bool(_NUMBER.search(c.answer)) and (c.final_answer is not None or not c.truncated)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-tokens", type=int, default=512)
    parser.add_argument("--budget", type=int, default=192, help="thinking budget in tokens")
    parser.add_argument("--all", action="store_true", help="also run the non-looping control prompts")
    parser.add_argument("--backend", default="llamacpp:embedded")
    args = parser.parse_args()
    backend = load_backend(args.backend)
    conditions = {"off": None, "guard": Control(), "guard+budget": Control(think_budget=args.budget)}
    prompts = LOOPING + (CONTROLS if args.all else [])
    table = Table(title=f"{backend.model}, greedy, max_tokens={args.max_tokens}, budget={args.budget}")
    table.add_column("prompt")
    for name in conditions:
        table.add_column(f"{name}\ntokens / s / answer", justify="right")
    results: dict[str, list[tuple[Completion, float]]] = {name: [] for name in conditions}
    for i, question in enumerate(prompts):
        messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}]
        cells = []
        for name, control in conditions.items():
            completion, seconds = run(backend, messages, control, args.max_tokens)
            results[name].append((completion, seconds))
            report = completion.extra.get("control", {})
            fired = "".join(tag for key, tag in (("loop_guard", " L"), ("resampled", "R"), ("budget_forced", " B"))
                            if report.get(key))
            cells.append(f"{completion.completion_tokens} / {seconds:.0f} / {completion.final_answer}{fired}")
        table.add_row(("loop: " if i < len(LOOPING) else "ok: ") + question[:24], *cells)
    Console().print(table)
    print("L = loop guard fired, R = resampled, B = budget forced; answer = parsed \\boxed{} (None: none)")
    base_tokens = sum(c.completion_tokens for c, _ in results["off"])
    base_secs = sum(s for _, s in results["off"])
    for name, rows in results.items():
        tokens, secs = sum(c.completion_tokens for c, _ in rows), sum(s for _, s in rows)
        boxed = statistics.mean(c.final_answer is not None for c, _ in rows)
        number = statistics.mean(finished_with_number(c) for c, _ in rows)
        print(f"{name:>13}: {tokens:5d} tokens ({1 - tokens / base_tokens:+.0%} saved), {secs:6.0f} s "
              f"({1 - secs / base_secs:+.0%} saved), median {statistics.median(s for _, s in rows):.0f} s/prompt; "
              f"parsable \\boxed answer {boxed:.0%}, finished answer with a number {number:.0%}")


if __name__ == "__main__":
    main()
