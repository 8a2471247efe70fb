"""Facts on the mixed route: every number or date the reasoning takes from the retrieved facts must
be in a cited passage, in the role the question asks for.

A number in the reasoning is *taken from the facts* when it is not in the question and not
derived (it does not follow "=", and no two other numbers of the text make it by + - * /). Such a
number must occur in a cited passage (normalised: "1,879", "1879." and "eighteen seventy-nine" are
1879). A person's dates in a summary read "(birth – death)": a birth year taken from the death
slot, or the reverse, is a mismatch too. A mismatch is fixed from the passage when exactly one
passage number is the clear replacement (the other end of the same date range, or a year one digit
off: 1979 → 1879), else flagged. Fixed text is then recomputed by the reasoner's step checks.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from agent.attribution import check
from agent.spans import LIFE_RANGE, life_role, tokens

_NUM = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?")
MAX_NUMBERS = 40  # a reasoning text with more numbers than this is not checked pairwise


def _value(text: str) -> str:
    return tokens(text)[0].norm if tokens(text) else text


@dataclass
class FactsCheck:
    """What the facts check found: checks, the text with fixes applied, the fixes, the flagged numbers."""

    checks: list[dict[str, Any]] = field(default_factory=list)
    text: str = ""
    fixed: dict[str, str] = field(default_factory=dict)
    flagged: list[str] = field(default_factory=list)
    matched: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.matched or self.fixed) and not self.flagged


def _derived(values: list[float], target: float) -> bool:
    """``target`` is a + b, a - b, a * b or a / b of two other numbers of the text."""
    for a, b in itertools.permutations(values, 2):
        if target in (a + b, a - b, a * b) or (b and abs(a / b - target) < 1e-9):
            return True
    return False


def fact_numbers(text: str, question: str, final_answer: str | None = None) -> list[str]:
    """The numbers ``text`` takes from outside the question: not the final answer, not after "=",
    not made by + - * / of two numbers written before it."""
    skip = {_value(m.group()) for m in _NUM.finditer(question + " " + (final_answer or ""))}
    found = [_value(m.group()) for m in _NUM.finditer(text)][:MAX_NUMBERS]
    starts = [m.start() for m in _NUM.finditer(text)][:MAX_NUMBERS]
    taken: list[str] = []
    for i, value in enumerate(found):
        if value in skip or value in taken or "=" in text[max(0, starts[i] - 3):starts[i]]:
            continue
        try:
            number = float(value)
            earlier = [float(v) for v in found[:i] if v != value]
        except ValueError:
            continue
        if not _derived(earlier, number):
            taken.append(value)
    return taken


def check_facts(question: str, text: str, passages: Sequence[dict[str, Any]],
                final_answer: str | None = None) -> FactsCheck:
    """Check the numbers ``text`` takes from ``passages``; fix clear slips from the passage."""
    result = FactsCheck(text=text)
    if not passages:
        result.checks.append(check("facts_in_passage", False, "no retrieved fact to check the numbers against"))
        return result
    passage_values = {p["n"]: {t.norm for t in tokens(p["title"] + " " + p["text"]) if t.numeric} for p in passages}
    everywhere = set().union(*passage_values.values())
    ranges = [(p["n"], a, b) for p in passages for a, b in LIFE_RANGE.findall(p["text"])]
    role = life_role(question)
    for value in fact_numbers(text, question, final_answer):
        fix, why = None, ""
        if value in everywhere:
            wrong_slot = [(n, a, b) for n, a, b in ranges if role is not None and value == (a, b)[1 - role]]
            if not wrong_slot:
                result.matched.append(value)
                continue
            n, a, b = wrong_slot[0]
            fix, why = (a, b)[role], f"[{n}] gives {a}–{b}: {value} is the {'death' if role == 0 else 'birth'} year"
        else:
            near = sorted({v for v in everywhere if len(v) == len(value) and v.isdigit() and value.isdigit()
                           and sum(x != y for x, y in zip(v, value, strict=True)) == 1})
            if len(near) == 1:
                fix, why = near[0], f"{value} is in no cited passage; {near[0]} is, one digit off"
        if fix is None:
            result.flagged.append(value)
            result.checks.append(check("facts_in_passage", False, f"{value} is in no cited passage and no passage "
                                                                  "number is a clear replacement"))
            continue
        result.fixed[value] = fix
        result.text = re.sub(rf"(?<![\d,.]){re.escape(value)}(?![\d])", fix, result.text)
        result.checks.append(check("facts_in_passage", False, f"{why}; fixed to {fix} from the passage"))
    if result.matched:
        result.checks.append(check("facts_in_passage", True, "found in the cited passages: "
                                                              f"{', '.join(result.matched)}"))
    if not (result.matched or result.fixed or result.flagged):
        result.checks.append(check("facts_in_passage", False, "the reasoning takes no number from the passages"))
    return result
