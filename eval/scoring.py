"""Scorers: is a completion right? Stable functions that training also uses as rewards.

- math: the final answer the completion states (:func:`math_answer`: the last ``\\boxed{}``, else an
  explicit "the answer is …" / "Final answer: …", else a completion that is nothing but an expression),
  then ``math-verify`` (parse + verify, with a timeout), exact match as a fallback. The last number in
  free text never counts: a sample without a final answer is wrong (as lighteval and VibeThinker score);
- mcq: the option letter a completion commits to (:func:`extract_option`);
- code: the program run against its tests in :mod:`reasoner.sandbox` (bubblewrap);
- ifeval: Google's instruction checks (:mod:`eval.ifeval`), strict and loose;
- qa: normalised exact match and token F1 (SQuAD / NQ-open conventions).

:func:`score` dispatches on ``item.kind`` and returns a :class:`ScoreResult`.
"""

from __future__ import annotations

import collections
import concurrent.futures
import concurrent.futures.process
import math
import re
import string
import threading
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from eval.ifeval import ifeval_check
from eval.mcq import original_letter
from reasoner.parsing import (
    answers_equivalent,
    last_boxed,
    last_code_block,
    option_letter,
    parse_math,
    split_thinking,
)
from reasoner.sandbox import SandboxResult, SandboxUnavailable, run_code

if TYPE_CHECKING:
    from eval.benchmarks import Item

__all__ = ["EXTRACTION", "SCORER", "SandboxResult", "SandboxUnavailable", "ScoreResult", "answer_part",
           "extract_option", "ifeval_check", "math_answer", "nq_exact_match", "pass_at_k", "run_code", "same_answer",
           "score", "token_f1", "verify_math"]

SCORER = "strict-1"  # the extraction rules below; records scored under other rules get re-scored
EXTRACTION = {
    "math": "the last \\boxed{} of the answer part (after any thinking block); else the last explicit statement "
            "'the answer is X' / 'Final answer: X' (X up to the end of its sentence); else the whole answer part when "
            "it is one bare expression and the sample was not truncated. The last number in free text never counts; "
            "a sample without a final answer is wrong. Equality: math-verify, else normalised exact match.",
    "mcq": "the option letter the answer part commits to (\\boxed{C}, 'Answer: (B)', a lone letter on the last "
           "line); none is wrong",
    "code": "the last fenced code block of the answer part (else all of it), run against the tests in the "
            "bubblewrap sandbox; passed = exit status 0",
    "qa": "the first line of the answer part; normalised exact match (correct) and token F1 (score)",
    "ifeval": "the answer part, checked by IFEval's strict (correct) and loose rules",
}


@dataclass
class ScoreResult:
    """``correct`` decides pass@1; ``score`` is a graded value in [0, 1] (F1, instruction share)."""

    correct: bool
    score: float
    extracted: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- math ---------------------------------------------------------------------------------
# "the answer is", "Final Answer:", "**Answer:**" — the statement's own words, case aside
_STATEMENT = re.compile(r"(?i)\banswer\b\**\s*(?:is\b|:)\s*:?\**[ \t]*")
_LATEX_COMMAND = re.compile(r"\\text\{[^{}]*\}|\\[A-Za-z]+")
_TRAILING_WORDS = re.compile(r"(?<=[\d}$)\]])(?:\s+[A-Za-z]+)+$")  # "18 dollars" -> "18"


def _sentence(span: str) -> str:
    """``span`` up to the end of its first sentence (". ", ", ", "; " outside brackets and ``$…$``)."""
    depth, in_math = 0, False
    for i, ch in enumerate(span):
        if ch == "$":
            in_math = not in_math
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif (ch in ".,;" and not depth and not in_math and (i + 1 == len(span) or span[i + 1].isspace())) or ch == "\n":
            return span[:i]
    return span


def _statement(text: str) -> str | None:
    """What the last "the answer is …" / "Final answer: …" states (the next line when that one is empty)."""
    matches = list(_STATEMENT.finditer(text))
    if not matches:
        return None
    rest = text[matches[-1].end():]
    line, _, after = rest.partition("\n")
    if not line.strip():
        line = next((ln for ln in after.splitlines() if ln.strip()), "")
    answer = _TRAILING_WORDS.sub("", _sentence(line).strip().strip("*").strip())
    return answer or None


def _bare(text: str) -> str | None:
    """The whole text when it is one bare expression ("204", "\\frac{1}{2}", "$[1, 2)$"), else None."""
    text = text.strip()
    if not text or "\n" in text or len(text) > 100 or ". " in text:
        return None
    return None if re.search(r"[A-Za-z]{2,}", _LATEX_COMMAND.sub(" ", text)) else text


def math_answer(text: str, truncated: bool = False) -> tuple[str | None, str | None]:
    """``(final answer, rule)`` a math completion states; ``(None, None)`` when it states none.

    Rules, in order: ``boxed`` (the last ``\\boxed{}``), ``statement`` (the last "the answer is X" /
    "Final answer: X"), ``bare`` (the whole text is one expression; not for ``truncated`` output, which
    may have been cut anywhere). The bare last number of free text is never an answer.
    """
    boxed = last_boxed(text)
    if boxed:
        return boxed, "boxed"
    stated = _statement(text)
    if stated:
        return stated, "statement"
    bare = None if truncated else _bare(text)
    return (bare, "bare") if bare else (None, None)


def _normalize_answer_text(text: str) -> str:
    text = text.strip().strip("$").strip()
    text = re.sub(r"\\(?:text|mathrm|textbf)\{([^{}]*)\}", r"\1", text)
    text = re.sub(r"\\[,;!: ]|\s+|\\left|\\right", "", text)
    return text.rstrip(".").lower()


def _math_verify(answer: str, gold: str, timeout: int | None) -> bool:
    from math_verify import verify

    parsed_gold = parse_math(gold, timeout)
    parsed_answer = parse_math(answer, timeout)
    return bool(parsed_gold and parsed_answer and verify(parsed_gold, parsed_answer, timeout_seconds=timeout))


_POOL: concurrent.futures.ProcessPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _verify_in_worker(answer: str, gold: str, timeout: float) -> bool:
    """math-verify's timeouts use SIGALRM (main thread only): off the main thread, use a worker
    process with a wall-clock limit, replaced when it hangs."""
    global _POOL
    import multiprocessing

    with _POOL_LOCK:
        if _POOL is None:
            _POOL = concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        pool = _POOL
    future = pool.submit(_math_verify, answer, gold, max(1, int(timeout)))
    try:
        return future.result(timeout=timeout + 30)  # first call also pays the worker's start-up
    except (concurrent.futures.TimeoutError, concurrent.futures.process.BrokenProcessPool):
        with _POOL_LOCK:
            if _POOL is pool:
                _POOL = None
        for proc in list(getattr(pool, "_processes", {}).values()):
            proc.kill()
        pool.shutdown(wait=False, cancel_futures=True)
        return False


def math_equal(answer: str, gold: str, timeout: float = 5) -> bool:
    """Is an extracted final answer mathematically equal to ``gold``? math-verify (``\\frac{1}{2}`` = 0.5,
    204 = 204.0, intervals, sets), else exact match of the normalised texts."""
    try:
        if threading.current_thread() is threading.main_thread():
            ok = _math_verify(answer, gold, max(1, math.ceil(timeout)))
        else:
            ok = _verify_in_worker(answer, gold, timeout)
    except Exception:  # math-verify raises on odd input; fall back to exact match
        ok = False
    return ok or (bool(answer.strip()) and _normalize_answer_text(answer) == _normalize_answer_text(gold))


def verify_math(pred: str, gold: str, timeout: float = 5, truncated: bool = False) -> bool:
    """Does ``pred`` (a completion's answer part, or a bare answer) state a final answer equal to ``gold``?

    Only a stated final answer counts (:func:`math_answer`): ``verify_math('Step 1. think. Step 2.', '2')``
    is False.
    """
    answer, _ = math_answer(str(pred), truncated)
    return answer is not None and math_equal(answer, str(gold), timeout)


# -- multiple choice ----------------------------------------------------------------------
def extract_option(text: str) -> str | None:
    """The option letter a completion commits to (``\\boxed{C}``, "Answer: (B)", a lone "D")."""
    return option_letter(answer_part(text))


# -- open-domain QA -----------------------------------------------------------------------
def normalize_qa(text: str) -> str:
    """SQuAD normalisation: lower case, no punctuation, no articles, single spaces."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def nq_exact_match(pred: str, answers: list[str] | str) -> bool:
    """Normalised exact match against any acceptable answer."""
    answers = [answers] if isinstance(answers, str) else answers
    norm = normalize_qa(pred)
    return any(norm == normalize_qa(a) for a in answers)


def token_f1(pred: str, answers: list[str] | str) -> float:
    """Best token-level F1 between the prediction and any acceptable answer."""
    answers = [answers] if isinstance(answers, str) else answers
    pred_tokens = normalize_qa(pred).split()
    best = 0.0
    for answer in answers:
        gold_tokens = normalize_qa(answer).split()
        common = sum((collections.Counter(pred_tokens) & collections.Counter(gold_tokens)).values())
        if common:
            precision, recall = common / len(pred_tokens), common / len(gold_tokens)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


# -- sampling metrics ---------------------------------------------------------------------
def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from ``n`` samples of which ``c`` are correct (Chen et al., 2021)."""
    if not 0 <= c <= n or k < 1:
        raise ValueError(f"need 0 <= c <= n and k >= 1, got n={n} c={c} k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


# -- dispatch -----------------------------------------------------------------------------
def answer_part(text: str) -> str:
    """The text after any thinking block (the whole text when there is none)."""
    _, answer, closed = split_thinking(text)
    return answer if closed else ""


def code_program(code: str, gold: dict[str, Any]) -> tuple[str, str]:
    """HumanEval-style ``(program, tests)``: the prompt's header with the completion, then ``check``."""
    prompt = gold.get("prompt", "")
    if code.startswith((" ", "\t")) and f"def {gold.get('entry_point')}" not in code:
        program = prompt + code  # a body that continues the prompt's function
    else:
        program = f"{prompt}\n    pass\n\n{code}" if prompt else code  # a whole function replaces it
    tests = gold["test"]
    if gold.get("entry_point"):
        tests += f"\n\ncheck({gold['entry_point']})\n"
    return program, tests


def score(item: Item, completion_text: str, *, code_timeout: float = 10, memory_mb: int = 512,
          truncated: bool = False, unsafe_sandbox: bool = False) -> ScoreResult:
    """Score one completion of ``item`` by its kind (math, mcq, code, ifeval, qa); :data:`EXTRACTION` says how.

    ``truncated``: the output was cut at its token limit (a bare expression then is no answer).
    ``unsafe_sandbox``: run code even where bubblewrap is missing (Python-level guards only).
    ``correct`` implies ``extracted`` for math and mcq, so pass@1 and cons@1 agree at n=1.
    """
    text = answer_part(completion_text)
    kind = item.kind
    if kind == "math":
        answer, rule = math_answer(text, truncated)
        ok = answer is not None and math_equal(answer, str(item.gold))
        return ScoreResult(ok, float(ok), answer, {"rule": rule})
    if kind == "mcq":
        letter = option_letter(text)
        order = item.metadata.get("permutation")
        ok = letter is not None and letter == str(item.gold).upper()
        return ScoreResult(ok, float(ok), letter,
                           {"letter": letter, "shipped_letter": original_letter(letter, order), "permutation": order})
    if kind == "code":
        code = last_code_block(text) or text
        gold = item.gold if isinstance(item.gold, dict) else {"test": str(item.gold)}
        program, tests = code_program(code, gold)
        result = run_code(program, tests, timeout=code_timeout, memory_mb=memory_mb, unsafe=unsafe_sandbox)
        return ScoreResult(result.passed, float(result.passed), None,
                           {"status": result.status, "stderr": result.stderr[-2000:], "seconds": result.seconds,
                            "isolation": result.isolation})
    if kind == "ifeval":
        ids, kwargs = item.gold["instruction_id_list"], item.gold["kwargs"]
        strict = ifeval_check(text, ids, kwargs, prompt=item.prompt)
        loose = ifeval_check(text, ids, kwargs, loose=True, prompt=item.prompt)
        return ScoreResult(all(strict), sum(strict) / len(strict), None,
                           {"strict": strict, "loose": loose, "instruction_ids": ids})
    if kind == "qa":
        answers = item.gold if isinstance(item.gold, list) else [str(item.gold)]
        prediction = text.strip().splitlines()[0] if text.strip() else ""
        em, f1 = nq_exact_match(prediction, answers), token_f1(prediction, answers)
        return ScoreResult(em, f1, prediction, {"exact_match": em, "f1": f1})
    raise ValueError(f"no scorer for kind {kind!r}: use math, mcq, code, ifeval or qa")


def same_answer(kind: str, a: str | None, b: str | None) -> bool:
    """Are two extracted answers equivalent (for consensus voting)?

    math and mcq: :func:`reasoner.parsing.answers_equivalent` (the rule test-time scaling clusters by);
    qa: normalised exact match; others: the same text, case aside.
    """
    if a is None or b is None:
        return False
    if kind in ("math", "mcq"):
        return answers_equivalent(a, b)
    if kind == "qa":
        return normalize_qa(a) == normalize_qa(b)
    return a.strip().upper() == b.strip().upper()
