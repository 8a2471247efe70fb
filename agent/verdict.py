"""The status a reasoner answer earns (reason and mixed routes), and the checks behind it.

- reason route: :func:`reasoner.verify.verify` runs the exact checks (arithmetic recomputed, an
  equation substituted back) and recomputes every written step. ``verified`` only after an exact
  check passed; when it computed the value itself (the model's differs, or is missing), that exact
  value replaces the model's answer (and the answer says so), still ``verified``. Otherwise ``unverified`` (``low_confidence`` when
  the samples disagree); a final answer that copies a wrongly written last step takes the
  recomputed value, and the wrong steps are listed.
- mixed route: every number taken from the facts must be in a cited passage
  (:mod:`agent.facts`: fixed from the passage or flagged); the last written calculation is then
  recomputed exactly with the passage's numbers. The status stays ``unverified``, with these
  checks: the set-up (which numbers, which operation) is the model's, and nothing exact confirms it
  ("How old was Dracula in 2000?" set up as 2000 + 1897 recomputes exactly and is still wrong).

The model's own words ("The answer is correct.") are never evidence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from agent.attribution import check
from agent.facts import FactsCheck, check_facts
from reasoner.calculator import CalcError, evaluate, exact_text, find_chains, parse_number
from reasoner.verify import check_steps, verify


@dataclass
class Judged:
    status: str
    final_answer: str | None
    answer: str
    checks: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def last_calculation(text: str) -> tuple[str, str, str | None] | None:
    """``(set-up, exact value, written result)`` of the last written calculation, else None."""
    for chain in reversed(find_chains(text)):
        try:
            value = exact_text(evaluate(chain.segments[0]))
        except (CalcError, ArithmeticError, ValueError, OverflowError):
            continue
        written = chain.segments[-1].strip() if len(chain.segments) > 1 else None
        return chain.segments[0].strip(), value, written
    return None


def _same(a: str | None, b: str | None) -> bool:
    x, y = parse_number(a) if a else None, parse_number(b) if b else None
    return x is not None and x == y


def judge(question: str, text: str, answer: str, final: str | None, *, truncated: bool = False,
          tts: dict[str, Any] | None = None, facts: Sequence[dict[str, Any]] | None = None) -> Judged:
    """The status of a reasoner answer; ``facts`` are the cited passages on the mixed route."""
    if facts is not None:
        return _judge_mixed(question, text, answer, final, facts)
    judged = Judged("unverified", final, answer)
    verdict = verify(question, text, final, tts=tts)
    judged.checks = [c.as_dict() for c in verdict.checks]
    formal = any(c.name in ("arithmetic", "equation") for c in verdict.checks)
    if verdict.status == "verified":
        judged.status = "verified"
    elif formal and verdict.corrected:  # the exact check computed the answer itself: it is the answer
        said = f"the model answered {final}" if final else "the model gave no final answer"
        judged.status, judged.final_answer = "verified", verdict.corrected
        judged.answer = f"Exact computation: {verdict.corrected} ({said}).\n\n{answer}"
        judged.checks.append(check("corrected", True, f"the exact value {verdict.corrected} is given ({said})"))
        judged.notes.append(f"{said}; the exact value {verdict.corrected} is given instead")
    else:
        _fix_last_step(judged, text, final)
        if tts is not None and not tts.get("confident"):
            judged.status = "low_confidence"
    if truncated and judged.final_answer is None:
        judged.status = "truncated"
    return judged


def _fix_last_step(judged: Judged, text: str, final: str | None) -> None:
    """A final answer that copies a wrongly written last calculation takes its exact value."""
    wrong = [c for c in judged.checks if c["name"] == "step" and c["outcome"] == "failed"]
    if not wrong:
        return
    judged.notes.append(f"{len(wrong)} written calculation(s) are wrong: " + "; ".join(c["detail"] for c in wrong[:3]))
    last = last_calculation(text)
    if last and final is not None and last[2] is not None and _same(final, last[2]) and not _same(final, last[1]):
        judged.final_answer = last[1]
        judged.notes.append(f"the final answer copies the wrong step {last[0]} = {last[2]}; recomputed: {last[1]}")


def _judge_mixed(question: str, text: str, answer: str, final: str | None,
                 passages: Sequence[dict[str, Any]]) -> Judged:
    found: FactsCheck = check_facts(question, text, passages, final)
    judged = Judged("unverified", final, answer, checks=list(found.checks))
    used = set(found.matched) | set(found.fixed.values())
    last = last_calculation(found.text)
    if last is None:
        judged.checks.append(check("computation", False, "no written calculation to recompute"))
    else:
        setup, value, _ = last
        plain = setup.replace(",", "")
        uses_facts = any(re.search(rf"(?<![\d.]){re.escape(v)}(?!\d)", plain) for v in used)
        judged.checks.append(check("computation", uses_facts, f"{setup} = {value} exactly"
                                   + ("" if uses_facts else " (it uses no number from the passages)")))
        if uses_facts and not _same(final, value):
            judged.notes.append(f"the answer is recomputed from the passages' numbers: {setup} = {value} "
                                f"(the model answered {final})")
            judged.final_answer = value
    for value, fix in found.fixed.items():
        judged.notes.append(f"{value} is not what the cited passage says; {fix} is used instead")
    if found.flagged:
        judged.notes.append("numbers not found in any cited passage: " + ", ".join(found.flagged))
    judged.checks += [c.as_dict() for c in check_steps(text)]
    return judged
