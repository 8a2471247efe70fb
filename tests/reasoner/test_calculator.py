"""Exact arithmetic, written calculations, and the calculator in the loop (scripted and real model)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from fractions import Fraction
from typing import Any

import pytest

from reasoner.base import ChatBackend, Completion, Sampling, StreamChunk, as_messages, resolve_sampling
from reasoner.calculator import (
    CalcError,
    check_chain,
    close_enough,
    evaluate,
    exact_text,
    find_chains,
    format_number,
    operands,
    parse_number,
    pending,
    word_number,
)
from reasoner.calculator_stream import calculator_stream
from reasoner.control import Control, controlled_generate, controlled_stream, wrap


# -- exact evaluation ---------------------------------------------------------------------
@pytest.mark.parametrize(("text", "value"), [
    ("17 * 23", 391), ("3/4 + 1/8", Fraction(7, 8)), ("0.1 + 0.2", Fraction(3, 10)), ("15% of 240", 36),
    ("$1,200 × 15%", 180), ("2^10", 1024), ("3 x 4", 12), ("-5 + 3", -2), ("(16 - 3) * 2", 26),
    ("\\frac{3}{4} \\times 8", 6), ("12 ÷ 4 − 1", 2)])
def test_evaluate_is_exact(text: str, value: Any) -> None:
    assert evaluate(text) == value


@pytest.mark.parametrize(("text", "kind"), [
    ("1/0", "zero_division"), ("5 / (3 - 3)", "zero_division"), ("0^-1", "zero_division"),
    ("2**100000", "too_large"), ("9" * 60 + " * 2", "too_large"), ("(" * 300 + "1" + ")" * 300, "too_large"),
    ("2**60**60", "too_large"), ("1 + " * 200 + "1", "too_large"),
    ("__import__('os').system('true')", "syntax"), ("(1).__class__", "syntax"), ("1e5", "syntax"),
    ("[1, 2]", "syntax"), ("x + 1", "syntax"), ("lambda: 1", "syntax"), ("1_000", "syntax"), ("2 ** 0.5", "syntax")])
def test_evaluate_refuses_bad_input_with_a_reason(text: str, kind: str) -> None:
    with pytest.raises(CalcError) as err:
        evaluate(text)
    assert err.value.kind == kind


@pytest.mark.parametrize(("text", "value"), [
    ("1,879", 1879), ("1879.", 1879), ("$1,879", 1879), ("\\$1,879", 1879), ("1879 dollars", 1879),
    ("eighteen seventy-nine", 1879), ("one thousand eight hundred seventy-nine", 1879),
    ("three hundred ninety-one", 391), ("\\frac{3}{4}", Fraction(3, 4)), ("-2.5", Fraction(-5, 2)),
    ("25%", Fraction(1, 4)), ("1{,}879", 1879), ("391.0", 391), ("\\boxed{42}", 42)])
def test_parse_number_reads_usual_formats(text: str, value: Any) -> None:
    assert parse_number(text) == value


@pytest.mark.parametrize("text", ["", "abc", "1.5 million", "x = 4", "17 * 23", "one two", "9" * 500,
                                  "Leonardo da Vinci", "3 apples and 4 pears"])
def test_parse_number_refuses_what_is_not_one_number(text: str) -> None:
    assert parse_number(text) is None


def test_number_words_and_formatting() -> None:
    assert word_number("twenty twenty") == 2020 and word_number("forty-two") == 42
    assert word_number("hello world") is None and word_number("") is None
    assert format_number(Fraction(7, 8)) == "0.875" and format_number(Fraction(-5, 2)) == "-2.5"
    assert format_number(Fraction(2, 3)) == "0.666667" and format_number(Fraction(1, 10**9)) == "0.000000001"
    assert exact_text(Fraction(1, 3)) == "1/3" and exact_text(Fraction(391)) == "391"
    assert close_enough(Fraction(2, 3), "0.67") and close_enough(Fraction(10, 3), "3.33")
    assert not close_enough(Fraction(7, 2), "4") and close_enough(Fraction(1, 4), "25%")


# -- written calculations -----------------------------------------------------------------
def outcomes(text: str) -> list[tuple[str, str]]:
    return [(chain.text, check_chain(chain).outcome) for chain in find_chains(text)]


def test_steps_are_recomputed() -> None:
    text = ("Janet sells 16 - 3 - 4 = 9 duck eggs a day. She makes 9 * 2 = $18 every day.\n"
            "17 * 23 = 340. 5 * 4 = 20 * 2 = 40 and 16 - 3 = 12 - 4 = 8. 20% of 50 = 10, "
            "(5/20) * 100 = 25%, 1,000 + 2,500 = 3,500.")
    assert outcomes(text) == [("16 - 3 - 4 = 9", "passed"), ("9 * 2 = $18", "passed"),
                              ("17 * 23 = 340", "failed"), ("5 * 4 = 20 * 2 = 40", "passed"),
                              ("16 - 3 = 12 - 4 = 8", "failed"), ("20% of 50 = 10", "passed"),
                              ("(5/20) * 100 = 25%", "passed"), ("1,000 + 2,500 = 3,500", "passed")]
    assert "391" in check_chain(find_chains("17 * 23 = 340")[0]).detail


def test_steps_are_not_invented() -> None:
    """Variables, unfinished operations, comparisons and bare numbers are not calculations."""
    for text in ["so 2x - 3 - 4 = -1", "2x + 3 * 4 = 20", "3 + 4 = 7x", "3 + 4 = 7 + y", "$2 = $18",
                 "1 + 1 == 2", "2 <= 3", "x = 5", "In 1879 = the year", "no numbers at all"]:
        assert outcomes(text) == [], text
    assert outcomes("He had (3 + 4 = 7) apples") == [("3 + 4 = 7", "passed")]
    assert outcomes("Round: 10/3 = 3.33, 2/3 = 0.67, 7/2 = 4") == [
        ("10/3 = 3.33", "passed"), ("2/3 = 0.67", "passed"), ("7/2 = 4", "failed")]


def test_bad_steps_fail_or_skip_without_crashing() -> None:
    assert outcomes("5 / 0 = 0") == [("5 / 0 = 0", "failed")]
    huge = "9" * 60 + " + 1 = 2"
    assert outcomes(huge) == [(huge, "skipped")]
    assert len(find_chains("1 + 1 = 2. " * 2000)) == 2000  # long texts stay linear


def test_pending_expression_is_where_the_calculator_injects() -> None:
    assert pending("So 17 * 23 =") == ("17 * 23", 391)
    assert pending("<<16-3-4=") == ("16-3-4", 9)
    assert pending("then = 9 * 2 = ") == ("9 * 2", 18)
    assert pending("The 15% of 240 =")[1] == 36
    for text in ["2x - 3 - 4 =", "x + 3 * 4 =", "cost 12 =", "1/0 =", "1 + 1 ==", "17 * 23 = 391", "",
                 "9" * 500 + " * 2 ="]:
        assert pending(text) is None, text


# -- the calculator in the loop, scripted -------------------------------------------------
class ScriptedBackend:
    """A real ChatBackend that writes a fixed text, with the model's own (possibly wrong) results.

    Continued from an assistant prefix holding ``n`` equals signs, it goes on after the ``n``-th
    ``=`` of its script and skips the number it had written there, as a model that accepts the
    injected value would. Deltas are words, and every ``=`` is a delta of its own.
    """

    name, model = "scripted", "scripted"
    continues_final_message = True

    def __init__(self, script: str) -> None:
        self.script = script
        self.defaults = Sampling(temperature=0.0, max_tokens=256)
        self.requests: list[list[dict[str, str]]] = []
        self.streamed = 0  # deltas sent, over every request

    def _remainder(self, prefix: str) -> str:
        count = prefix.count("=")
        if not count:
            return self.script
        marks = [m.end() for m in re.finditer("=", self.script)]
        if count > len(marks):
            return ""
        rest = self.script[marks[count - 1]:]
        return re.sub(r"^\s*-?[\d,.]*\d", "", rest)

    def stream(self, messages: Any, sampling: Sampling | None = None, **overrides: Any) -> Iterator[StreamChunk]:
        params = resolve_sampling(self.defaults, sampling, overrides)
        msgs = as_messages(messages)
        self.requests.append(msgs)
        prefix = msgs[-1]["content"] if msgs[-1]["role"] == "assistant" else ""
        words = re.findall(r"\s*=|\s*[^\s=]+|\s+$", self._remainder(prefix))
        pieces = words[:params.max_tokens]
        for piece in pieces:
            self.streamed += 1
            yield StreamChunk(piece)
        finish = "length" if len(words) > len(pieces) else "stop"
        yield StreamChunk("", Completion.from_text("".join(pieces), finish_reason=finish, prompt_tokens=5,
                                                   completion_tokens=len(pieces), backend=self.name, model=self.model))

    def generate(self, messages: Any, sampling: Sampling | None = None, **overrides: Any) -> list[Completion]:
        *_, last = self.stream(messages, sampling, **overrides)
        return [last.completion]

    async def agenerate(self, messages: Any, sampling: Sampling | None = None, **overrides: Any) -> list[Completion]:
        return self.generate(messages, sampling, **overrides)

    async def astream(self, messages: Any, sampling: Sampling | None = None,
                      **overrides: Any) -> AsyncIterator[StreamChunk]:
        for chunk in self.stream(messages, sampling, **overrides):
            yield chunk


SCRIPT = ("We need 17 * 23 = 340. Then 340 + 1 = 341 and 2x - 3 - 4 = 5 is not arithmetic. "
          "So the answer is \\boxed{341}.")


def test_scripted_backend_is_a_chat_backend() -> None:
    assert isinstance(ScriptedBackend(SCRIPT), ChatBackend)


def test_inject_replaces_every_computed_value() -> None:
    backend = ScriptedBackend(SCRIPT)
    chunks = list(calculator_stream(backend, "What is 17 * 23 + 1?"))
    completion = chunks[-1].completion
    streamed = "".join(c.delta for c in chunks)
    assert streamed == completion.text
    assert "17 * 23 = 391." in completion.text and "340 + 1 = 341 " in completion.text
    assert "2x - 3 - 4 = 5" in completion.text  # not arithmetic: left as the model wrote it
    assert completion.extra["calculator"]["injections"] == [{"expression": "17 * 23", "value": "391"},
                                                            {"expression": "340 + 1", "value": "341"}]
    assert len(backend.requests) == 3  # continued twice, each time from the text so far
    assert backend.requests[1][-1] == {"role": "assistant", "content": "We need 17 * 23 = 391"}
    assert completion.completion_tokens == backend.streamed  # every sampled token, none of the injected ones


def test_inject_respects_the_caps() -> None:
    completion = list(calculator_stream(ScriptedBackend(SCRIPT), "q", max_injections=1))[-1].completion
    assert [i["value"] for i in completion.extra["calculator"]["injections"]] == ["391"]
    short = list(calculator_stream(ScriptedBackend(SCRIPT), "q", max_tokens=5))[-1].completion
    assert short.completion_tokens <= 5 and short.finish_reason == "length"


def test_flag_and_inject_through_the_wrapper() -> None:
    flagged = controlled_generate(ScriptedBackend(SCRIPT), "q", control=Control(calculator="flag"))
    report = flagged.extra["calculator"]
    assert report["mode"] == "flag" and report["injections"] == []
    assert [s["outcome"] for s in report["steps"]] == ["failed", "passed"]  # 17*23=340 wrong, 340+1=341 right
    injected = wrap(ScriptedBackend(SCRIPT), calculator="inject").generate("q")[0]
    assert [s["outcome"] for s in injected.extra["calculator"]["steps"]] == ["passed", "passed"]
    assert injected.final_answer == "341"  # the model's own final words are not rewritten
    streamed = list(controlled_stream(ScriptedBackend(SCRIPT), "q", control=Control(calculator="inject")))
    assert "".join(c.delta for c in streamed) == streamed[-1].completion.text
    with pytest.raises(ValueError, match="calculator"):
        Control(calculator="on")


def test_inject_falls_back_to_flag_without_prefix_continuation() -> None:
    backend = ScriptedBackend(SCRIPT)
    backend.continues_final_message = False
    completion = controlled_generate(backend, "q", control=Control(calculator="inject"))
    assert completion.extra["calculator"]["mode"] == "flag" and "note" in completion.extra["calculator"]
    assert "17 * 23 = 340" in completion.text


# -- the calculator in the loop, real model -----------------------------------------------
def test_prefilled_calculation_gets_the_exact_value(embedded_backend) -> None:
    """Prefill "17 * 23 =" on the embedded model: the value that follows is the exact one."""
    prefill = [{"role": "user", "content": "What is 17 * 23?"}, {"role": "assistant", "content": "17 * 23 ="}]
    chunks = list(calculator_stream(embedded_backend, prefill, temperature=0.0, max_tokens=16))
    assert chunks[0].delta == " 391"
    completion = chunks[-1].completion
    assert completion.text.startswith(" 391")
    assert completion.extra["calculator"]["injections"][0] == {"expression": "17 * 23", "value": "391"}
    for chain in find_chains("17 * 23 =" + completion.text):
        assert check_chain(chain).outcome != "failed" or "17 * 23" not in chain.text


def test_inject_on_the_real_model_keeps_every_written_step_exact(embedded_backend) -> None:
    question = "A box holds 12 pens. How many pens are in 37 boxes? Write the calculation."
    completion = wrap(embedded_backend, calculator="inject").generate(question, temperature=0.0, max_tokens=96)[0]
    report = completion.extra["calculator"]
    assert report["mode"] == "inject"
    for injection in report["injections"]:
        assert evaluate(injection["expression"]) == parse_number(injection["value"])
    assert completion.completion_tokens <= 96 + 8


def test_the_models_own_digits_after_an_injection_are_dropped() -> None:
    """A model that goes on writing its own number (``183`` + ``.33``) does not change the value."""
    for script, shown in [("3294 / 18 = 183.33 is the result.", "3294 / 18 = 183 is the result."),
                          ("66 * 981 = 647460. Done", "66 * 981 = 64746. Done"),
                          ("1 / 4 = 0.25 exactly", "1 / 4 = 0.25 exactly"),
                          ("7 * 8 = 56", "7 * 8 = 56")]:
        backend = ScriptedBackend(script)
        backend._remainder = lambda prefix, s=script: s if "=" not in prefix else s[s.index("=") + 1:].lstrip()[
            len(prefix.rsplit("=", 1)[1].strip()):]  # the model goes on after what the prefix holds
        chunks = list(calculator_stream(backend, "q"))
        assert chunks[-1].completion.text == shown, script
        assert "".join(c.delta for c in chunks) == shown


def test_operands_are_the_inputs_of_calculations() -> None:
    values = [v for _, v in operands("She has 16 - 3 - 4 = 9 eggs. 9 * $2 = $18, 5 * 4 = 20 * 2 = 40. In 1879.")]
    assert values == [16, 3, 4, 9, 2, 5, 4, 2]  # 20 continues the chain: a result, not an input
    assert operands("no calculation, just 1,879 and 1879.") == []
    assert operands("15% of 1,200 = 180")[1] == ("1,200", 1200)
