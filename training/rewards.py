"""Verifiable rewards per domain, with eval's scorers: math by math-verify, code in eval's sandbox,
STEM by option matching, instruction following by eval's IFEval checks.

:func:`score` checks one answer against a reward spec (see :mod:`training.records`);
:func:`correctness_reward` is the TRL reward function for every kind (it reads the ``reward``
column that :func:`training.records.rl_dataset` writes; IFEval scores the fraction followed).
"""

from __future__ import annotations

import json
from typing import Any

from reasoner.parsing import last_code_block


def completion_text(completion: Any) -> str:
    """The text of a TRL completion (a string, or a list of chat messages)."""
    if isinstance(completion, str):
        return completion
    return "".join(m.get("content", "") for m in completion if m.get("role") == "assistant")


def check_math(text: str, gold: str) -> bool:
    from eval.scoring import answer_part, verify_math

    answer = answer_part(text)
    return bool(answer.strip()) and verify_math(answer, str(gold))


def check_option(text: str, gold: str) -> bool:
    from eval.scoring import extract_option

    return extract_option(text) == str(gold).strip().upper()


def check_code(text: str, tests: str, timeout: float = 10) -> bool:
    from eval.scoring import answer_part, run_code

    code = last_code_block(answer_part(text))
    return bool(code) and run_code(code, tests, timeout=timeout).passed


def ifeval_fraction(text: str, spec: dict[str, Any], loose: bool = False) -> float:
    """Fraction of a record's IFEval instructions the answer follows."""
    from eval.scoring import answer_part, ifeval_check

    flags = ifeval_check(answer_part(text), spec["instruction_ids"], spec["kwargs"], loose=loose)
    return sum(flags) / len(flags) if flags else 0.0


def score(text: str, spec: dict[str, Any] | str) -> float | None:
    """1.0 when ``text`` satisfies the reward spec, else 0.0 (IFEval: the fraction followed).

    ``None`` for kinds no rule can check (``rubric``: a judge scores those).
    """
    spec = json.loads(spec) if isinstance(spec, str) else spec
    kind = spec["kind"]
    if kind == "math":
        return float(check_math(text, spec["answer"]))
    if kind == "option":
        return float(check_option(text, spec["answer"]))
    if kind == "code":
        return float(check_code(text, spec["tests"], spec.get("timeout", 10)))
    if kind == "ifeval":
        return ifeval_fraction(text, spec)
    return None


def is_correct(text: str, spec: dict[str, Any] | str) -> bool:
    """Whether the answer is fully correct (every IFEval instruction followed)."""
    value = score(text, spec)
    return value is not None and value >= 1.0


def correctness_reward(completions: list, reward: list[str], **_: Any) -> list[float | None]:
    """TRL reward function: the verifier's score of each completion (``None`` for rubric prompts)."""
    return [score(completion_text(c), spec) for c, spec in zip(completions, reward, strict=True)]
