"""Split a reasoning model's output into thinking and answer, and pull out the final answer.

Handles ``<think>…</think>`` (and ``<thinking>``, ``<reasoning>``,
``<|begin_of_thought|>``), a closing tag without its opening one (chat templates that
open the thinking block in the prompt), the last ``\\boxed{…}`` with nested braces,
option letters ("Answer: C", "the answer is (B)"), and fenced code blocks. Truncated
output is reported, never raised.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from typing import Any

THINK_TAGS = (
    ("<think>", "</think>"),
    ("<thinking>", "</thinking>"),
    ("<reasoning>", "</reasoning>"),
    ("<|begin_of_thought|>", "<|end_of_thought|>"),
)
TRUNCATED_REASONS = {"length", "timeout", "budget"}

# The words are case-insensitive, the letter is not: "the answer is a prime" names no option.
_OPTION_PATTERNS = [
    re.compile(r"(?i:(?:final\s+)?answer\s*(?:is|:)?\s*(?:option\s*)?)[\(\[]?\s*([A-J])\s*[\)\]]?(?![A-Za-z])"),
    re.compile(r"(?i:(?:correct\s+)?(?:option|choice)\s*(?:is|:)?\s*)[\(\[]?([A-J])[\)\]]?(?![A-Za-z])"),
]
_LONE_LETTER = re.compile(r"^\s*(?:\\text\{)?\s*[\(\[]?\s*([A-J])\s*[\)\]]?\s*\}?\s*[.:]?\s*$")
_LONE_LETTER_ANY_CASE = re.compile(_LONE_LETTER.pattern.replace("A-J", "A-Ja-j"))
# A minus sign only where it cannot be a hyphen or a subtraction ("5-3" ends in 3, not -3).
_NUMBER = re.compile(r"(?:(?<![\w)\]])-)?\d[\d,]*(?:\.\d+)?(?:/\d+)?")
_CODE_BLOCK = re.compile(r"```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)```", re.S)


@dataclass(frozen=True)
class ParsedOutput:
    reasoning: str | None
    answer: str
    final_answer: str | None
    truncated: bool


def split_thinking(text: str) -> tuple[str | None, str, bool]:
    """Return ``(reasoning, answer, thinking_closed)``.

    ``thinking_closed`` is False when a thinking block was opened and never closed: the
    whole text is then reasoning and the answer is empty.
    """
    for open_tag, close_tag in THINK_TAGS:
        close = text.rfind(close_tag)
        start = text.find(open_tag)
        if close >= 0:
            begin = start + len(open_tag) if 0 <= start < close else 0
            return text[begin:close].strip(), text[close + len(close_tag):].strip(), True
        if start >= 0:
            return text[start + len(open_tag):].strip(), "", False
    return None, text.strip(), True


def last_boxed(text: str) -> str | None:
    """Content of the last complete ``\\boxed{…}`` (or ``\\fbox{…}``), nested braces kept."""
    best = None
    for match in re.finditer(r"\\(?:boxed|fbox)\s*\{", text):
        depth, i = 1, match.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if depth == 0:
            best = text[match.end():i - 1].strip()
    if best is None:  # "\boxed 5" without braces
        loose = re.findall(r"\\boxed\s+([^\s$]+)", text)
        best = loose[-1] if loose else None
    return best


def option_letter(text: str, lowercase: bool = False) -> str | None:
    """The last option letter a text commits to ("Answer: C", "(B)", ``\\text{D}``, a lone "D"), upper-cased.

    ``lowercase=True`` also accepts a lone lower-case letter ("(b)"), e.g. for an already
    extracted answer; in running text only capitals count ("the answer is a prime" names none).
    """
    boxed = last_boxed(text)
    if boxed:
        m = re.fullmatch(r"\s*(?:\\text\{)?\s*\(?([A-J])\)?\s*\}?\s*", boxed, re.I if lowercase else 0)
        if m:
            return m.group(1).upper()
    for pattern in _OPTION_PATTERNS:
        found = pattern.findall(text)
        if found:
            return found[-1].upper()
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    if lines:
        m = (_LONE_LETTER_ANY_CASE if lowercase else _LONE_LETTER).match(lines[-1])
        if m:
            return m.group(1).upper()
    return None


def last_number(text: str) -> str | None:
    """The last number in a text, thousands separators dropped ("1,000" → "1000", "-2.5", "3/4")."""
    found = _NUMBER.findall(text)
    return found[-1].replace(",", "") if found else None


# -- answer equivalence -------------------------------------------------------------------
class _NoTimeoutWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "Timeout is disabled" not in record.getMessage()


for _name in ("math_verify.parser", "math_verify.grader"):
    logging.getLogger(_name).addFilter(_NoTimeoutWarning())


def signal_timeout(seconds: int = 5) -> int | None:
    """math-verify's timeouts use SIGALRM, which only works on the main thread: None elsewhere."""
    return seconds if threading.current_thread() is threading.main_thread() else None


def parse_math(answer: str, timeout: int | None = None) -> list[Any]:
    """math-verify's parse of a bare answer (``1/2``, ``\\frac{1}{2}``), wrapped in ``$…$`` when it has no
    delimiters, and of the raw text when that finds nothing."""
    from math_verify import parse

    text = answer if "$" in answer or "\\boxed" in answer else f"${answer}$"
    return parse(text, parsing_timeout=timeout) or parse(answer, parsing_timeout=timeout)


def answers_equivalent(a: str, b: str, _cache: dict[str, list[Any]] | None = None) -> bool:
    """True when two extracted final answers are equivalent: option letters by letter (``B`` = ``(b)``),
    then normalised text, then math-verify (``1/2`` = ``0.5`` = ``\\frac{1}{2}``).

    ``_cache`` keeps parsed answers between calls (clustering compares each answer many times).
    """
    letter_a, letter_b = option_letter(a, lowercase=True), option_letter(b, lowercase=True)
    if letter_a or letter_b:
        return letter_a == letter_b
    if " ".join(a.lower().split()) == " ".join(b.lower().split()):
        return True
    from math_verify import verify

    timeout = signal_timeout()
    cache = _cache if _cache is not None else {}
    for text in (a, b):
        if text not in cache:
            try:
                cache[text] = parse_math(text[:200], timeout)
            except Exception:  # math-verify raises on odd input: such an answer matches only itself
                cache[text] = []
    parsed_a, parsed_b = cache[a], cache[b]
    if not parsed_a or not parsed_b:
        return False
    try:
        return bool(verify(parsed_a, parsed_b, timeout_seconds=timeout)
                    or verify(parsed_b, parsed_a, timeout_seconds=timeout))
    except Exception:
        return False


def last_code_block(text: str) -> str | None:
    """Body of the last complete fenced code block."""
    blocks = _CODE_BLOCK.findall(text)
    return blocks[-1][1].strip("\n") if blocks else None


def final_answer(text: str) -> str | None:
    """The final answer a text commits to: boxed, then option letter, then code block."""
    return last_boxed(text) or option_letter(text) or last_code_block(text)


def parse_output(text: str, finish_reason: str = "stop", reasoning: str | None = None) -> ParsedOutput:
    """Parse one raw completion. ``reasoning`` is a thinking part a server returned apart."""
    thought, answer, closed = split_thinking(text)
    if reasoning:
        thought = reasoning if thought is None else f"{reasoning}\n{thought}"
    truncated = finish_reason in TRUNCATED_REASONS or not closed
    found = final_answer(answer) if answer else None
    return ParsedOutput(reasoning=thought, answer=answer, final_answer=found, truncated=truncated)
