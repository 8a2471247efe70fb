"""Thinking budget and loop guard on the real embedded model (small max_tokens, greedy)."""

from __future__ import annotations

import asyncio

import pytest

from reasoner.control import (
    FORCE_SUFFIX,
    LOOP_NOTICE,
    Control,
    LoopGuard,
    Thinking,
    close_boxed,
    controlled_generate,
    repetition,
    units,
    wrap,
)
from reasoner.parsing import final_answer

SYSTEM = "You are a careful problem solver. Think step by step, then give the final answer as \\boxed{ANSWER}."
WORD_PROBLEM = ("Betty is saving money for a new wallet which costs $100. Betty has only half of the money she "
                "needs. Her parents decided to give her $15 for that purpose, and her grandparents twice as much "
                "as her parents. How much more money does Betty need to buy the wallet?")
PROSE = ("corecover is a hybrid reasoning-plus-knowledge agent. It sends verifiable reasoning to a small model "
         "served locally and open-domain knowledge to retrieval over a corpus. Mixed questions go to retrieval "
         "first, then to the reasoner with the retrieved facts in its prompt. To compute 17 * 23 we write "
         "17 * 20 = 340 and 17 * 3 = 51, so 340 + 51 = 391. Then 391 - 12 = 379 and 379 / 1 = 379. The "
         "finalize node assembles one answer object: text, final answer, route, citations, verification "
         "status, tokens and latency per node. Small reasoners answer the first question again when fed a "
         "long chat history; the condense node is the fix. Each package owns its own sub-commands.")


def messages(question: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}]


def feed_all(guard: LoopGuard, text: str, step: int = 3) -> bool:
    return any(guard.feed(text[i:i + step]) for i in range(0, len(text), step))


def test_loop_guard_fires_on_repetition_and_not_on_prose() -> None:
    loop = "First, 100 / 2 = 50. " + "We can do this by multiplying $400 by 2, which gives us $800. " * 12
    guard = LoopGuard()
    assert feed_all(guard, loop)
    kept = guard.text[:guard.loop_start()]
    assert kept.startswith("First, 100 / 2 = 50.") and kept.count("multiplying") == 1
    assert feed_all(LoopGuard(), "The answer is 0." + "3" * 300)  # digits loop without spaces
    assert not feed_all(LoopGuard(), PROSE)
    assert repetition(units(PROSE), 6) < 0.2


def test_thinking_tracker_tags_and_markers() -> None:
    tagged = Thinking()
    for piece in ["<think>", " Let me add the numbers ", "carefully. \\boxed{9} hmm", "</think>", "9"]:
        tagged.feed(piece)
    assert tagged.tags and tagged.done and tagged.tokens == 4  # \boxed inside thinking does not end it
    plain = Thinking()
    for piece in ["We add 4 and 5 ", "to get 9. ", "The answer is ", "9."]:
        plain.feed(piece)
    assert not plain.tags and plain.done and plain.tokens == 3 and not plain.open_block
    assert close_boxed("\\frac{1}{2}} and more") == "\\frac{1}{2}}"
    assert close_boxed("42\nmore") == "42}"


# A prompt whose assistant turn is already mid-sentence in its reasoning: no build writes an
# answer marker within a few tokens of it, so a small thinking budget always runs out.
MID_REASONING = [*messages(WORD_PROBLEM),
                 {"role": "assistant", "content": "Betty has half of $100, which is $50. Her parents give her "
                                                  "$15, and her grandparents give her twice as much, which is"}]
# A prompt whose assistant turn is already a loop: the continuation loops on every build.
LOOPING = [{"role": "system", "content": "You are a helpful assistant."},
           {"role": "user", "content": "Write the sequence 1, 2, 1, 2, 1, 2, ... and continue it for a long time."},
           {"role": "assistant", "content": "1, 2, " * 40}]


def assert_forced_answer(completion) -> None:
    """A forced answer: ``Final answer: \\boxed{...}`` closed, at the end of the text, parsed."""
    assert completion.answer.startswith(FORCE_SUFFIX) and completion.answer.endswith("}")
    assert completion.text.endswith(completion.answer)
    assert completion.final_answer == final_answer(completion.answer)


def test_budget_forcing_gives_an_answer_within_budget(embedded_backend) -> None:
    budget, answer_tokens = 8, 16
    completion = controlled_generate(embedded_backend, MID_REASONING,
                                     control=Control(think_budget=budget, answer_tokens=answer_tokens),
                                     temperature=0.0, max_tokens=256)
    report = completion.extra["control"]
    assert report["budget_forced"] and report["forced"] == "prefix"
    assert report["reasoning_tokens"] <= budget
    assert completion.completion_tokens <= budget + answer_tokens
    assert_forced_answer(completion)
    assert completion.finish_reason == "budget" and completion.reasoning and completion.truncated


def test_budget_left_alone_when_the_model_answers_in_time(embedded_backend) -> None:
    controlled = wrap(embedded_backend, think_budget=200)
    completion = controlled.generate(messages("What is 2 + 3?"), temperature=0.0, max_tokens=64)[0]
    report = completion.extra["control"]
    assert not report["budget_forced"] and completion.finish_reason != "budget"  # 64 tokens < the budget
    assert report["reasoning_tokens"] <= 64 and report["attempts"] == 1 + report["resampled"]
    if report["forced"]:  # only when max_tokens (or a loop) cut the answer off before a final answer
        assert completion.truncated and completion.final_answer is not None


def test_loop_guard_stops_a_looping_stream(embedded_backend) -> None:
    plain = embedded_backend.generate(LOOPING, temperature=0.0, max_tokens=160)[0]
    assert repetition(units(plain.text), 6) > 0.5, plain.text  # the continuation of a loop loops
    completion = controlled_generate(embedded_backend, LOOPING, control=Control(on_loop="answer"),
                                     temperature=0.0, max_tokens=160)
    report = completion.extra["control"]
    assert report["loop_guard"] and not report["resampled"] and report["attempts"] == 1
    assert completion.completion_tokens < plain.completion_tokens
    assert completion.text.count("1, 2, 1, 2, 1, 2") < plain.text.count("1, 2, 1, 2, 1, 2")
    assert completion.truncated and completion.finish_reason == "loop"


def test_loop_guard_resamples_once_then_answers(embedded_backend) -> None:
    completion = controlled_generate(embedded_backend, LOOPING, control=Control(on_loop="resample"),
                                     temperature=0.0, max_tokens=160, seed=3)
    report = completion.extra["control"]
    assert report["loop_guard"] and report["attempts"] in (1, 2)
    if report["resampled"]:
        assert report["wasted_tokens"] > 0 and LOOP_NOTICE not in completion.text


def test_async_stream_of_a_wrapped_backend(embedded_backend) -> None:
    controlled = wrap(embedded_backend, think_budget=8, answer_tokens=8)

    async def collect() -> tuple[str, object]:
        deltas, last = [], None
        async for chunk in controlled.astream(MID_REASONING, temperature=0.0, max_tokens=64):
            deltas.append(chunk.delta)
            last = chunk.completion or last
        return "".join(deltas), last

    text, completion = asyncio.run(collect())
    assert completion.extra["control"]["budget_forced"]
    assert text.endswith(completion.answer)
    assert_forced_answer(completion)


def test_async_samples_come_back_complete_and_in_order(embedded_backend) -> None:
    """``agenerate`` runs the samples in threads at once; llama.cpp takes them in turn (greedy: all equal)."""
    controlled = wrap(embedded_backend, think_budget=8, answer_tokens=8)
    options = {"temperature": 0.0, "max_tokens": 24}
    together = asyncio.run(controlled.agenerate(messages("What is 7 * 6?"), n=3, **options))
    [alone] = controlled.generate(messages("What is 7 * 6?"), n=1, **options)
    assert [c.text for c in together] == [alone.text] * 3
    assert [c.extra["control"] for c in together] == [alone.extra["control"]] * 3


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="think_budget"):
        Control(think_budget=0)
    with pytest.raises(ValueError, match="on_loop"):
        Control(on_loop="panic")
