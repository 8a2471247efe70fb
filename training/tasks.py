"""Generated verifiable problems with exact answers and worked solutions, drawn by code from a seed.

    >>> from training.tasks import generate
    >>> p = generate("add", 1, seed=0)[0]
    >>> p.question, p.answer          # doctest: +SKIP
    ('What is 347 + 285?', '632')

Kinds: multi-digit ``add``/``sub``/``mul`` (column method, one digit at a time), ``fraction``,
``percent``, ``unit`` conversions, GSM8K-style word problems of 1–3 steps (``word1``, ``word2``,
``word3``; see :mod:`training.word_problems`), and the tiny run's ``add1``/``add2``/``mul1``.
Every worked solution ends with ``\\boxed{answer}``, so a model trained on them states its answer.
:func:`generate` is the simple API other code may reuse; :func:`problem_records` turns problems into
training records (:mod:`training.records`).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from training import traces
from training.records import Record
from training.traces import calc

INSTRUCTION = "Put the final answer in \\boxed{}."
# instructions a training question may carry (one starting with a newline is joined without a space)
INSTRUCTIONS = ("", INSTRUCTION, "Solve it step by step and put the final answer in \\boxed{}.",
                "Give the final answer in \\boxed{}.")


@dataclass(frozen=True)
class Problem:
    """A question, its exact answer (a string math-verify reads) and a worked solution."""

    question: str
    answer: str
    solution: str
    kind: str


def boxed(answer: object) -> str:
    return f"\\boxed{{{answer}}}"


def _number(rng: random.Random, low_digits: int, high_digits: int) -> int:
    digits = rng.randint(low_digits, high_digits)
    return rng.randint(10 ** (digits - 1), 10 ** digits - 1)


ASK = ("What is {a} {op} {b}?", "Calculate {a} {op} {b}.", "Compute {a} {op} {b}.", "Find {a} {op} {b}.")


def add(rng: random.Random) -> Problem:
    a, b = _number(rng, 2, 4), _number(rng, 2, 3)
    q = rng.choice(ASK).format(a=a, op=rng.choice(("+", "plus")), b=b)
    return Problem(q, str(a + b), f"{traces.add(a, b)}\n{boxed(a + b)}", "add")


def sub(rng: random.Random) -> Problem:
    a = _number(rng, 2, 4)
    b = rng.randint(1, a - 1)
    q = rng.choice(ASK).format(a=a, op=rng.choice(("-", "minus")), b=b)
    return Problem(q, str(a - b), f"{traces.sub(a, b)}\n{boxed(a - b)}", "sub")


def mul(rng: random.Random) -> Problem:
    a, b = _number(rng, 2, 3), rng.randint(2, 9)
    if rng.random() < 0.5:
        a, b = b, a
        q = rng.choice(ASK).format(a=a, op=rng.choice(("*", "times", "×")), b=b)
        a, b = b, a
    else:
        q = rng.choice(ASK).format(a=a, op=rng.choice(("*", "times", "×")), b=b)
    return Problem(q, str(a * b), f"{traces.mul1(a, b)}\n{boxed(a * b)}", "mul")


# -- fractions, percentages, units -----------------------------------------------------------
def _frac(num: int, den: int) -> str:
    return str(num) if den == 1 else f"{num}/{den}"


def fraction(rng: random.Random) -> Problem:
    form = rng.randrange(3)
    if form == 0:  # a fraction of a whole number
        den = rng.randint(2, 9)
        num = rng.randint(1, den - 1)
        part = rng.randint(2, 12)
        whole = den * part
        q = rng.choice(("What is {n}/{d} of {w}?", "Find {n}/{d} of {w}.", "How much is {n}/{d} of {w}?"))
        q = q.format(n=num, d=den, w=whole)
        steps = calc(whole, "/", den)[0] + (f"\n{calc(part, '*', num)[0]}" if num > 1 else "")
        return Problem(q, str(part * num), f"{steps}\n{boxed(part * num)}", "fraction")
    den = rng.randint(2, 9) if form == 1 else rng.choice((2, 3, 4, 5, 6))
    den2 = den if form == 1 else rng.choice([d for d in (2, 3, 4, 5, 6) if d != den])
    a, b = rng.randint(1, den - 1), rng.randint(1, den2 - 1)
    q = rng.choice(("What is {a}/{d} + {b}/{e}?", "Add {a}/{d} and {b}/{e}.", "Compute {a}/{d} + {b}/{e}."))
    q = q.format(a=a, d=den, b=b, e=den2)
    common = den * den2 // math.gcd(den, den2)
    x, y = a * common // den, b * common // den2
    steps = "" if form == 1 else f"common denominator {common}: {a}/{den}={x}/{common}, {b}/{den2}={y}/{common}\n"
    total = x + y
    steps += traces.trace(x, "+", y) + "\n" if traces.trace(x, "+", y) else ""
    steps += f"{x}/{common}+{y}/{common}={total}/{common}"
    g = math.gcd(total, common)
    if g > 1:
        steps += f"\n{total}/{common}={_frac(total // g, common // g)} (both /{g})"
    answer = _frac(total // g, common // g)
    return Problem(q, answer, f"{steps}\n{boxed(answer)}", "fraction")


def percent(rng: random.Random) -> Problem:
    form = rng.randrange(3)
    if form < 2:
        pct = rng.choice((10, 20, 30, 40, 50, 60, 70, 80, 90, 25, 75))
        whole = 20 * rng.randint(1, 25) if pct in (25, 75) else 10 * rng.randint(1, 40)
    else:
        pct = rng.choice((10, 20, 25, 30, 40, 50))
        whole = 20 * rng.randint(1, 25)
    if pct in (25, 75):
        quarter = whole // 4
        steps = f"25% is 1/4\n{calc(whole, '/', 4)[0]}"
        part = quarter * pct // 25
        if pct == 75:
            steps += f"\n75% is 3/4\n{calc(quarter, '*', 3)[0]}"
    else:
        tenth = whole // 10
        part = tenth * pct // 10
        steps = f"10% of {whole}: {calc(whole, '/', 10)[0]}"
        if pct != 10:
            steps += f"\n{pct}% is {pct // 10}*10%\n{calc(tenth, '*', pct // 10)[0]}"
    if form < 2:
        q = rng.choice(("What is {p}% of {w}?", "Find {p}% of {w}.", "How much is {p} percent of {w}?"))
        return Problem(q.format(p=pct, w=whole), str(part), f"{steps}\n{boxed(part)}", "percent")
    item = rng.choice(("jacket", "bike", "lamp", "game", "chair", "backpack"))
    q = f"A {item} costs ${whole}. It is on sale for {pct}% off. What is the sale price in dollars?"
    steps += f"\nsale price:\n{calc(whole, '-', part)[0]}"
    return Problem(q, str(whole - part), f"{steps}\n{boxed(whole - part)}", "percent")


UNITS = [  # (one big unit, big units, small units, small units per big unit)
    ("kilometer", "kilometers", "meters", 1000), ("meter", "meters", "centimeters", 100),
    ("kilogram", "kilograms", "grams", 1000), ("liter", "liters", "milliliters", 1000),
    ("hour", "hours", "minutes", 60), ("minute", "minutes", "seconds", 60), ("day", "days", "hours", 24),
    ("week", "weeks", "days", 7), ("foot", "feet", "inches", 12), ("yard", "yards", "feet", 3),
    ("dollar", "dollars", "cents", 100), ("dozen", "dozen", "eggs", 12),
]


def unit(rng: random.Random) -> Problem:
    one, big, small, factor = rng.choice(UNITS)
    count = rng.randint(2, 40)
    rule = f"1 {one} = {factor} {small}"
    if rng.random() < 0.5:
        q = rng.choice(("How many {s} are in {c} {b}?", "Convert {c} {b} to {s}.")).format(s=small, c=count, b=big)
        steps = f"{rule}\n{calc(count, '*', factor)[0]}"
        return Problem(q, str(count * factor), f"{steps}\n{boxed(count * factor)}", "unit")
    q = rng.choice(("How many {b} is {n} {s}?", "Convert {n} {s} to {b}.")).format(b=big, n=count * factor, s=small)
    steps = f"{rule}\n{calc(count * factor, '/', factor)[0]}"
    return Problem(q, str(count), f"{steps}\n{boxed(count)}", "unit")


# -- the tiny run's kinds (answers only, no steps) ---------------------------------------------
def _tiny(op: str, digits: int) -> Callable[[random.Random], Problem]:
    def make(rng: random.Random) -> Problem:
        low, high = (0, 9) if digits == 1 else (10, 99)
        a, b = rng.randint(low, high), rng.randint(low, high)
        value = a + b if op == "+" else a * b
        word = "plus" if op == "+" else "times"
        return Problem(f"What is {a} {word} {b}?", str(value), f"{a} {op} {b} = \\boxed{{{value}}}",
                       f"{'add' if op == '+' else 'mul'}{digits}")
    return make


def _word(steps: int) -> Callable[[random.Random], Problem]:
    def make(rng: random.Random) -> Problem:
        from training.word_problems import word_problem

        return word_problem(rng, steps)
    return make


GENERATORS: dict[str, Callable[[random.Random], Problem]] = {
    "add": add, "sub": sub, "mul": mul, "fraction": fraction, "percent": percent, "unit": unit,
    "word1": _word(1), "word2": _word(2), "word3": _word(3),
    "add1": _tiny("+", 1), "add2": _tiny("+", 2), "mul1": _tiny("*", 1),
}
SPECIALIST_KINDS = ("add", "sub", "mul", "fraction", "percent", "unit", "word1", "word2", "word3")
KINDS = {"add1": ("+", 1), "add2": ("+", 2), "mul1": ("*", 1)}  # the tiny run's kinds


def generate(kind: str, n: int, seed: int = 0, exclude: Iterable[str] = ()) -> list[Problem]:
    """``n`` distinct problems of ``kind`` drawn from ``seed``; none whose question is in ``exclude``."""
    if kind not in GENERATORS:
        raise ValueError(f"unknown problem kind {kind!r}: use one of {', '.join(GENERATORS)}")
    rng = random.Random(f"{kind}-{seed}")
    seen, out = set(exclude), []
    for _ in range(100 * n + 100):
        if len(out) == n:
            break
        problem = GENERATORS[kind](rng)
        if problem.question not in seen:
            seen.add(problem.question)
            out.append(problem)
    else:
        raise ValueError(f"cannot draw {n} distinct problems of kind {kind!r}")
    return out


def mixture(kinds: Sequence[str], n: int, seed: int = 0, exclude: Iterable[str] = ()) -> list[Problem]:
    """``n`` problems cycling through ``kinds`` (as even a split as ``n`` allows)."""
    per_kind = [n // len(kinds) + (i < n % len(kinds)) for i in range(len(kinds))]
    by_kind = [generate(k, c, seed, exclude) for k, c in zip(kinds, per_kind, strict=True)]
    return [p for row in zip(*(b + [None] * (max(per_kind) - len(b)) for b in by_kind), strict=True)
            for p in row if p is not None]


def to_record(problem: Problem, index: int = 0, instruction: str = INSTRUCTION,
              system: str | None = None) -> Record:
    """A training record: the question (plus ``instruction``) answered by the worked solution."""
    question = f"{problem.question}{'' if instruction.startswith(chr(10)) else ' '}{instruction}".rstrip()
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": question}, {"role": "assistant", "content": problem.solution}]
    return Record(messages=messages, reward={"kind": "math", "answer": problem.answer}, domain="math",
                  id=f"{problem.kind}-{index}", meta={"kind": problem.kind, "question": problem.question})


def problem_records(kinds: Sequence[str], n: int, seed: int = 0, exclude: Iterable[str] = (),
                    instructions: Sequence[str] = (INSTRUCTION,),
                    systems: Sequence[str | None] = (None,)) -> list[Record]:
    """``n`` records over ``kinds``; each draws its instruction and system prompt from the lists."""
    rng = random.Random(f"records-{seed}")
    return [to_record(p, i, rng.choice(instructions), rng.choice(systems))
            for i, p in enumerate(mixture(kinds, n, seed, exclude))]


def arithmetic_problem(kind: str, rng: random.Random) -> tuple[str, int, str]:
    """``(question with instruction, answer, worked answer)`` of one problem of a tiny-run kind."""
    if kind not in KINDS:
        raise ValueError(f"unknown problem kind {kind!r}: use one of {', '.join(KINDS)}")
    p = GENERATORS[kind](rng)
    return f"{p.question} {INSTRUCTION}", int(p.answer), p.solution


def arithmetic_records(count: int, kinds: tuple[str, ...] = tuple(KINDS), seed: int = 0,
                       exclude: set[str] | None = None) -> list[Record]:
    """``count`` distinct tiny-run problems cycling through ``kinds``, none of whose questions is in ``exclude``."""
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


HELDOUT_SEED = 1_000_003  # the held-back evaluation set's seed (eval/data/arithmetic_heldout.jsonl)


def heldout_rows(per_kind: int = 40) -> list[dict[str, str]]:
    """eval's held-back set: ``per_kind`` problems of every specialist kind, kinds interleaved."""
    return [{"id": f"arith-{i}", "prompt": p.question, "gold": p.answer, "kind": p.kind}
            for i, p in enumerate(mixture(SPECIALIST_KINDS, per_kind * len(SPECIALIST_KINDS), HELDOUT_SEED))]


if __name__ == "__main__":  # python -m training.tasks > eval/data/arithmetic_heldout.jsonl
    import json

    for row in heldout_rows():
        print(json.dumps(row))
