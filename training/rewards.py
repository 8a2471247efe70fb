"""Verifiable rewards per domain, scored by eval's own scorer so training optimises what eval measures:
math by a stated final answer (eval's strict extraction: boxed or "the answer is", never a stray number)
and math-verify, code in the bubblewrap sandbox (HumanEval-style ``check(entry_point)`` wrapping), STEM by
option matching, instruction following by eval's IFEval checks.

:func:`score` checks one answer against a reward spec (see :mod:`training.records`);
:func:`correctness_reward` is the TRL reward function for every kind (it reads the ``reward``
column that :func:`training.records.rl_dataset` writes; IFEval scores the fraction followed).
A ``code`` spec may carry HumanEval's ``prompt`` (the function header) and ``entry_point``.
"""

from __future__ import annotations

import json
from typing import Any

EVAL_KINDS = {"math": "math", "option": "mcq", "code": "code", "ifeval": "ifeval"}


def completion_text(completion: Any) -> str:
    """The text of a TRL completion (a string, or a list of chat messages)."""
    if isinstance(completion, str):
        return completion
    return "".join(m.get("content", "") for m in completion if m.get("role") == "assistant")


def prompt_text(prompt: Any) -> str | None:
    """The last user turn of a TRL prompt (a string, or a list of chat messages)."""
    if prompt is None or isinstance(prompt, str):
        return prompt
    return next((m.get("content", "") for m in reversed(prompt) if m.get("role") == "user"), None)


def eval_item(spec: dict[str, Any], prompt: str | None = None) -> Any:
    """The eval :class:`~eval.benchmarks.Item` a reward spec describes (``None`` for ``rubric``)."""
    from eval.benchmarks import Item

    kind = spec["kind"]
    if kind not in EVAL_KINDS:
        return None
    if kind == "code":
        gold: Any = {"test": spec["tests"], "prompt": spec.get("prompt", ""), "entry_point": spec.get("entry_point")}
    elif kind == "ifeval":
        gold = {"instruction_id_list": spec["instruction_ids"], "kwargs": spec["kwargs"]}
    elif kind == "option":
        gold = str(spec["answer"]).strip().upper()
    else:
        gold = str(spec["answer"])
    return Item(id="", prompt=prompt or "", gold=gold, kind=EVAL_KINDS[kind])


def score(text: str, spec: dict[str, Any] | str, prompt: str | None = None) -> float | None:
    """1.0 when ``text`` satisfies the reward spec, else 0.0 (IFEval: the fraction followed), exactly as
    :func:`eval.scoring.score` scores it. ``prompt`` is the question (IFEval checks that repeat it need it).

    ``None`` for kinds no rule can check (``rubric``: a judge scores those).
    """
    from eval.scoring import score as eval_score

    spec = json.loads(spec) if isinstance(spec, str) else spec
    item = eval_item(spec, prompt)
    if item is None:
        return None
    return eval_score(item, text, code_timeout=spec.get("timeout", 10)).score


def is_correct(text: str, spec: dict[str, Any] | str, prompt: str | None = None) -> bool:
    """Whether the answer is fully correct (every IFEval instruction followed)."""
    value = score(text, spec, prompt)
    return value is not None and value >= 1.0


def correctness_reward(completions: list, reward: list[str], prompts: list | None = None,
                       **_: Any) -> list[float | None]:
    """TRL reward function: the verifier's score of each completion (``None`` for rubric prompts)."""
    questions = [prompt_text(p) for p in prompts] if prompts is not None else [None] * len(completions)
    return [score(completion_text(c), spec, q) for c, spec, q in zip(completions, reward, questions, strict=True)]
