"""A generated task set at the embedded reasoner's boundary: exact integer answers, graded difficulty.

SmolLM2-135M (greedy) answers 1-digit "a + b" 57 % of the time, 2-digit 7 %, 1-digit
"a times b" 30 %: the levels below sit between those, so test-time scaling has room to help.
Deterministic for a seed; rows fit ``eval.benchmarks.Custom`` (``id, prompt, gold, level``).

    python bench/boundary_tasks.py --n 30 > boundary.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Callable

NAMES = ("Sam", "Mia", "Ben", "Ana", "Leo", "Ivy", "Tom", "Eva")
THINGS = ("apples", "pencils", "stickers", "marbles", "books", "coins")


def add_1digit(rng: random.Random) -> tuple[str, int]:
    a, b = rng.randint(2, 9), rng.randint(2, 9)
    return f"What is {a} + {b}?", a + b


def word_add(rng: random.Random) -> tuple[str, int]:
    a, b = rng.randint(2, 9), rng.randint(2, 9)
    name, thing = rng.choice(NAMES), rng.choice(THINGS)
    return f"{name} has {a} {thing} and gets {b} more. How many {thing} does {name} have now?", a + b


def times_1digit(rng: random.Random) -> tuple[str, int]:
    a, b = rng.randint(2, 9), rng.randint(2, 9)
    return f"What is {a} times {b}?", a * b


def add_2digit_1digit(rng: random.Random) -> tuple[str, int]:
    a, b = rng.randint(11, 49), rng.randint(2, 9)
    return f"What is {a} + {b}?", a + b


LEVELS: dict[str, Callable[[random.Random], tuple[str, int]]] = {
    "add-1digit": add_1digit,
    "word-add": word_add,
    "times-1digit": times_1digit,
    "add-2digit-1digit": add_2digit_1digit,
}


def boundary_tasks(n: int = 30, seed: int = 0) -> list[dict[str, object]]:
    """``n`` distinct problems, levels in turn (easiest first), as ``{id, prompt, gold, level}`` rows."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    rng = random.Random(seed)
    rows: list[dict[str, object]] = []
    seen: set[str] = set()
    levels = list(LEVELS.items())
    while len(rows) < n:
        level, make = levels[len(rows) % len(levels)]
        prompt, answer = make(rng)
        if prompt in seen:
            continue
        seen.add(prompt)
        rows.append({"id": f"boundary-{len(rows):03d}", "prompt": prompt, "gold": str(answer), "level": level})
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for row in boundary_tasks(args.n, args.seed):
        print(json.dumps(row))
