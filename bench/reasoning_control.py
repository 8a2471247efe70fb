"""Reasoning control on prompts where the embedded SmolLM2 loops: no control vs budget + loop guard.

For each fixed prompt (long-ish word problems on which SmolLM2-135M, greedy, falls into a
repetition loop until max_tokens), one run without control and one under
``reasoner.control`` (loop guard, thinking budget, budget forcing), in the same process.
Prints tokens and seconds per prompt, the totals saved, and the share of answers that end
with a parsable final answer (``\\boxed{}``) and with any number at all.

    .venv/bin/python bench/reasoning_control.py [--max-tokens 512] [--budget 192] [--all]
"""

from __future__ import annotations

import argparse
import re
import statistics
import time

from rich.console import Console
from rich.table import Table

from reasoner import load_backend
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-tokens", type=int, default=512)
    parser.add_argument("--budget", type=int, default=192, help="thinking budget in tokens")
    parser.add_argument("--all", action="store_true", help="also run the non-looping control prompts")
    parser.add_argument("--backend", default="llamacpp:embedded")
    args = parser.parse_args()
    backend = load_backend(args.backend)
    control = Control(think_budget=args.budget)
    prompts = LOOPING + (CONTROLS if args.all else [])
    table = Table(title=f"{backend.model}, greedy, max_tokens={args.max_tokens}, budget={args.budget}")
    for col in ("prompt", "tokens off", "tokens on", "s off", "s on", "boxed off", "boxed on", "fired"):
        table.add_column(col, justify="right")
    rows = []
    for i, question in enumerate(prompts):
        messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}]
        started = time.perf_counter()
        off = backend.generate(messages, temperature=0.0, max_tokens=args.max_tokens, timeout=1800)[0]
        off_s = time.perf_counter() - started
        started = time.perf_counter()
        on = controlled_generate(backend, messages, control=control, temperature=0.0, max_tokens=args.max_tokens,
                                 timeout=1800)
        on_s = time.perf_counter() - started
        report = on.extra["control"]
        fired = ",".join(k for k in ("loop_guard", "resampled", "budget_forced") if report[k]) or "-"
        rows.append((off, off_s, on, on_s))
        label = ("loop " if i < len(LOOPING) else "ok ") + question[:28]
        table.add_row(label, str(off.completion_tokens), str(on.completion_tokens), f"{off_s:.1f}", f"{on_s:.1f}",
                      str(off.final_answer), str(on.final_answer), f"{fired} ({report['forced'] or 'no force'})")
    Console().print(table)
    tokens_off = sum(r[0].completion_tokens for r in rows)
    tokens_on = sum(r[2].completion_tokens for r in rows)
    secs_off, secs_on = sum(r[1] for r in rows), sum(r[3] for r in rows)
    print(f"completion tokens: {tokens_off} -> {tokens_on} ({1 - tokens_on / tokens_off:.0%} saved); "
          f"seconds: {secs_off:.0f} -> {secs_on:.0f} ({1 - secs_on / secs_off:.0%} saved)")
    print(f"median seconds per prompt: {statistics.median(r[1] for r in rows):.1f} -> "
          f"{statistics.median(r[3] for r in rows):.1f}")
    boxed_off = statistics.mean(r[0].final_answer is not None for r in rows)
    boxed_on = statistics.mean(r[2].final_answer is not None for r in rows)
    number_off = statistics.mean(bool(_NUMBER.search(r[0].answer)) and not r[0].truncated for r in rows)
    number_on = statistics.mean(bool(_NUMBER.search(r[2].answer)) and (r[2].final_answer is not None
                                                                       or not r[2].truncated) for r in rows)
    print(f"answers with a parsable final answer (\\boxed): {boxed_off:.0%} -> {boxed_on:.0%}; "
          f"finished answers with a number: {number_off:.0%} -> {number_on:.0%}")


if __name__ == "__main__":
    main()
