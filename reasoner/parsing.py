"""Split a reasoning model's output into thinking and answer, and pull out the final answer.

Handles ``<think>…</think>`` (and ``<thinking>``, ``<reasoning>``,
``<|begin_of_thought|>``), a closing tag without its opening one (chat templates that
open the thinking block in the prompt), the last ``\\boxed{…}`` with nested braces,
option letters ("Answer: C", "the answer is (B)"), and fenced code blocks. Truncated
output is reported, never raised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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
_LONE_LETTER = re.compile(r"^\s*[\(\[]?([A-J])[\)\].:]?\s*$")
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


def option_letter(text: str) -> str | None:
    """The last option letter a text commits to ("Answer: C", "(B)", a lone "D")."""
    boxed = last_boxed(text)
    if boxed:
        m = re.fullmatch(r"\s*(?:\\text\{)?\s*\(?([A-J])\)?\s*\}?\s*", boxed)
        if m:
            return m.group(1).upper()
    for pattern in _OPTION_PATTERNS:
        found = pattern.findall(text)
        if found:
            return found[-1].upper()
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    if lines:
        m = _LONE_LETTER.match(lines[-1])
        if m:
            return m.group(1).upper()
    return None


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
