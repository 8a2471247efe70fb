"""The problem generators: seeded, distinct, exact answers, worked solutions that box the answer."""

from __future__ import annotations

import itertools
import re
from fractions import Fraction
from pathlib import Path

import pytest

from training.tasks import GENERATORS, SPECIALIST_KINDS, generate, mixture, problem_records

OPS = {"+": lambda a, b: a + b, "plus": lambda a, b: a + b, "-": lambda a, b: a - b,
       "minus": lambda a, b: a - b, "*": lambda a, b: a * b, "×": lambda a, b: a * b, "times": lambda a, b: a * b}


@pytest.mark.parametrize("kind", list(GENERATORS))
def test_every_kind_is_seeded_distinct_and_boxes_its_answer(kind):
    problems = generate(kind, 60, seed=5)
    assert problems == generate(kind, 60, seed=5)
    assert problems != generate(kind, 60, seed=6)
    assert len({p.question for p in problems}) == 60
    for p in problems:
        assert re.findall(r"\\boxed\{([^{}]*)\}", p.solution)[-1] == p.answer
        assert Fraction(p.answer) >= 0


STEP = re.compile(r"(?m)^[\d+*/-]+: ([\d+*/-]+)=(\d+)(?: r(\d+))? →(\d+)")


@pytest.mark.parametrize("kind", ["add", "sub", "mul"])
def test_column_arithmetic_answers_are_exact(kind):
    for p in generate(kind, 200, seed=1):
        a, op, b = re.search(r"(\d+) (\S+) (\d+)", p.question).groups()
        assert int(p.answer) == OPS[op](int(a), int(b))
        steps = STEP.findall(p.solution)
        assert len(steps) == len(p.solution.splitlines()) - 1 - (p.solution.count("\n→"))
        for terms, value, _, _ in steps:  # every column's own arithmetic is right
            assert eval(terms, {"__builtins__": {}}, {}) == int(value)
        # each partial result is the previous one with more digits on the left; the last is the answer
        partials = [s[3] for s in steps]
        assert all(b.endswith(a) for a, b in itertools.pairwise(partials))
        assert int(partials[-1]) == int(p.answer)


def test_every_traced_equation_in_any_solution_is_right():
    from training.traces import calc, trace

    for a, op, b in [(347, "+", 285), (9006, "-", 5741), (524, "*", 9), (37, "*", 24), (2220, "/", 60),
                     (96, "/", 8), (100, "-", 99), (888, "/", 24), (5, "+", 3)]:
        text, value = calc(a, op, b)
        assert text.splitlines()[-1] == f"{a}{op}{b}={value}" and value == OPS.get(op, lambda x, y: x // y)(a, b)
        for line in text.splitlines():
            expr = line.split(": ")[-1].split(" →")[0]
            if m := re.fullmatch(r"(\d+)/(\d+)=(\d+) r(\d+)", expr):  # long division with a remainder
                n, d, q, r = map(int, m.groups())
                assert n == d * q + r and r < d, line
            elif "=" in expr:  # every side of a chain a=b=c has the same value
                values = {Fraction(eval(side, {"__builtins__": {}}, {})) for side in expr.split("=")}
                assert len(values) == 1, line
    assert trace(3, "+", 4) == "" and trace(7, "*", 8) == ""


def test_fraction_answers_are_exact():
    for p in generate("fraction", 200, seed=2):
        if m := re.search(r"(\d+)/(\d+) \+ (\d+)/(\d+)|(\d+)/(\d+) and (\d+)/(\d+)", p.question):
            a, b, c, d = (int(x) for x in m.groups() if x is not None)
            assert Fraction(p.answer) == Fraction(a, b) + Fraction(c, d)
        else:
            a, b, w = (int(x) for x in re.search(r"(\d+)/(\d+) of (\d+)", p.question).groups())
            assert Fraction(p.answer) == Fraction(a * w, b)


def test_exclude_and_mixture():
    held = generate("add", 50, seed=0)
    again = generate("add", 50, seed=0, exclude={p.question for p in held})
    assert not {p.question for p in held} & {p.question for p in again}
    mixed = mixture(SPECIALIST_KINDS, 20, seed=3)
    assert len(mixed) == 20 and {p.kind for p in mixed} == set(SPECIALIST_KINDS)


def test_records_carry_the_answer_and_the_instruction():
    records = problem_records(["percent", "word2"], 6, seed=4, systems=(None, "Be brief."))
    assert len(records) == 6
    for r in records:
        assert r.reward == {"kind": "math", "answer": r.reward["answer"]}
        assert "\\boxed{" in r.question and r.response.endswith(f"\\boxed{{{r.reward['answer']}}}")
        assert r.messages[0]["role"] in ("system", "user")


def test_the_held_back_file_is_what_the_generator_draws():
    import json

    from training.tasks import heldout_rows

    path = Path(__file__).resolve().parents[2] / "eval" / "data" / "arithmetic_heldout.jsonl"
    assert [json.loads(line) for line in path.read_text().splitlines()] == heldout_rows()
