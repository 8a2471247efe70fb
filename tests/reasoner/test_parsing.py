"""Parsing a reasoning model's raw output: thinking, answer, final answer, truncation."""

from __future__ import annotations

import pytest

from reasoner.base import Completion
from reasoner.parsing import (
    answers_equivalent,
    final_answer,
    last_boxed,
    last_code_block,
    last_number,
    option_letter,
    parse_output,
)


@pytest.mark.parametrize(("text", "expected"), [
    (r"so $x = \boxed{\frac{1}{2}}$", r"\frac{1}{2}"),
    (r"first \boxed{3}, then corrected: \boxed{\sqrt{2^{3}}}", r"\sqrt{2^{3}}"),
    (r"\boxed{\{1, 2\}} is the set", r"\{1, 2\}"),
    (r"\fbox{42}", "42"),
    (r"\boxed 7 is it", "7"),
    (r"an unclosed \boxed{\frac{1}{2}", None),
    ("no box here", None),
])
def test_last_boxed_keeps_nested_braces(text: str, expected: str | None) -> None:
    assert last_boxed(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("Answer: C", "C"),
    ("I think the answer is (B).", "B"),
    ("Final answer: [D]", "D"),
    ("The correct option is E", "E"),
    ("Let me weigh them.\nA looks wrong, B too.\n(C)", "C"),
    (r"Therefore \boxed{A}", "A"),
    (r"\boxed{\text{(B)}}", "B"),
    ("The answer is a prime number.", None),
    ("The answer is Because of symmetry", None),
    ("The answer is 17.", None),
])
def test_option_letter(text: str, expected: str | None) -> None:
    assert option_letter(text) == expected


def test_option_letter_accepts_lower_case_only_when_asked() -> None:
    assert option_letter("(b)") is None and option_letter("(b)", lowercase=True) == "B"
    assert option_letter(r"\text{c}.", lowercase=True) == "C" and option_letter("[D].") == "D"
    assert option_letter("The answer is a prime number.", lowercase=True) is None


@pytest.mark.parametrize(("text", "expected"), [
    ("so 5-3 = 2, then 7-4", "4"),
    ("the change is -3", "-3"),
    ("x = (-2.5)", "-2.5"),
    ("a well-known 1,250 apples", "1250"),
    ("(3)-1", "1"),
    ("half: 3/4.", "3/4"),
    ("no digits", None),
])
def test_last_number_keeps_signs_but_not_hyphens(text: str, expected: str | None) -> None:
    assert last_number(text) == expected


@pytest.mark.parametrize(("a", "b", "same"), [
    ("1/2", "0.5", True),
    (r"\frac{1}{2}", "0.5", True),
    ("12", "12.0", True),
    ("B", "(b)", True),
    ("[B].", r"\text{B}", True),
    ("B", "C", False),
    ("B", "2", False),
    ("3", "4", False),
    ("Paris", " paris ", True),
])
def test_answers_equivalent(a: str, b: str, same: bool) -> None:
    assert answers_equivalent(a, b) is same and answers_equivalent(b, a) is same


def test_last_code_block_takes_the_last_complete_one() -> None:
    text = "Try:\n```python\nprint(1)\n```\nBetter:\n```py\ndef f(x):\n    return x + 1\n```\n```python\nunclosed"
    assert last_code_block(text) == "def f(x):\n    return x + 1"
    assert final_answer("Here:\n```\nx = 1\n```") == "x = 1"


def test_final_answer_prefers_boxed_over_letter_and_code() -> None:
    assert final_answer("Answer: B\n" + r"\boxed{12}" + "\n```\ncode\n```") == "12"


def test_think_block_is_split_from_the_answer() -> None:
    parsed = parse_output("<think>2+2 is 4</think>\nThe answer is \\boxed{4}.")
    assert parsed.reasoning == "2+2 is 4"
    assert parsed.answer == "The answer is \\boxed{4}."
    assert parsed.final_answer == "4"
    assert not parsed.truncated


def test_closing_tag_without_opening_tag() -> None:
    """Chat templates that open <think> in the prompt leave only the closing tag in the output."""
    parsed = parse_output("the sum is 9, check: 4+5=9.</think>So \\boxed{9}")
    assert parsed.reasoning == "the sum is 9, check: 4+5=9."
    assert parsed.final_answer == "9"


@pytest.mark.parametrize("tags", [("<thinking>", "</thinking>"), ("<|begin_of_thought|>", "<|end_of_thought|>")])
def test_other_thinking_tags(tags: tuple[str, str]) -> None:
    parsed = parse_output(f"{tags[0]}hmm{tags[1]}Answer: A")
    assert (parsed.reasoning, parsed.final_answer) == ("hmm", "A")


def test_unclosed_think_is_truncated_with_no_answer() -> None:
    parsed = parse_output("<think>Let me try x = \\boxed{3} first, then", finish_reason="length")
    assert parsed.truncated
    assert parsed.answer == ""
    assert parsed.final_answer is None, "a boxed guess inside unfinished thinking is no final answer"
    assert parsed.reasoning.startswith("Let me try")


def test_unclosed_think_is_truncated_even_when_the_server_says_stop() -> None:
    assert parse_output("<think>still thinking", finish_reason="stop").truncated


@pytest.mark.parametrize("reason", ["length", "timeout"])
def test_finish_reason_marks_truncation(reason: str) -> None:
    parsed = parse_output("The answer is \\boxed{5} and moreover", finish_reason=reason)
    assert parsed.truncated and parsed.final_answer == "5"


def test_reasoning_returned_apart_by_the_server() -> None:
    completion = Completion.from_text("So \\boxed{4}.", reasoning="two and two")
    assert (completion.reasoning, completion.answer, completion.final_answer) == ("two and two", "So \\boxed{4}.", "4")
    assert Completion.from_text("plain answer").reasoning is None
