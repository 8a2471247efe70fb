"""Small generated verifiable problems (arithmetic with exact answers) for the tiny training run
and the smoke tests: at the boundary of what SmolLM2-135M can do."""

from __future__ import annotations

import random

from training.records import Record

INSTRUCTION = "Put the final answer in \\boxed{}."
KINDS = {
    "add1": ("+", 1),
    "add2": ("+", 2),
    "mul1": ("*", 1),
}


def arithmetic_problem(kind: str, rng: random.Random) -> tuple[str, int, str]:
    """``(question, answer, worked answer)`` of one problem of ``kind`` (see :data:`KINDS`)."""
    if kind not in KINDS:
        raise ValueError(f"unknown problem kind {kind!r}: use one of {', '.join(KINDS)}")
    op, digits = KINDS[kind]
    low, high = (0, 9) if digits == 1 else (10, 99)
    a, b = rng.randint(low, high), rng.randint(low, high)
    value = a + b if op == "+" else a * b
    word = "plus" if op == "+" else "times"
    return f"What is {a} {word} {b}? {INSTRUCTION}", value, f"{a} {op} {b} = \\boxed{{{value}}}"


def arithmetic_records(count: int, kinds: tuple[str, ...] = tuple(KINDS), seed: int = 0,
                       exclude: set[str] | None = None) -> list[Record]:
    """``count`` distinct problems cycling through ``kinds``, none of whose questions is in ``exclude``."""
    rng = random.Random(seed)
    seen = set(exclude or ())
    records: list[Record] = []
    attempts = 0
    while len(records) < count:
        attempts += 1
        if attempts > 100 * count:
            raise ValueError(f"cannot draw {count} distinct problems of kinds {kinds}")
        kind = kinds[len(records) % len(kinds)]
        question, value, worked = arithmetic_problem(kind, rng)
        if question in seen:
            continue
        seen.add(question)
        records.append(Record(
            messages=[{"role": "user", "content": question}, {"role": "assistant", "content": worked}],
            reward={"kind": "math", "answer": str(value)}, domain="math", id=f"{kind}-{len(records)}",
            meta={"kind": kind}))
    return records
