"""The status a reasoner answer earns (pure, no model): verified only after an exact check, the
model's own words never count, the mixed route grounded only on the passages' numbers."""

from __future__ import annotations

import pytest

from agent.verdict import judge, last_calculation

MIXED = "How many years passed between the birth of Isaac Newton and the birth of Albert Einstein?"


def test_right_arithmetic_is_verified_and_wrong_is_corrected_exactly():
    right = judge("What is 17 * 23?", "17 * 23 = 391", "17 * 23 = 391", "391")
    assert right.status == "verified" and right.final_answer == "391"
    wrong = judge("What is 17 * 23?", "17 * 23 = 340. The answer is correct.", "17 * 23 = 340.", "340")
    assert wrong.status == "verified" and wrong.final_answer == "391"  # the exact value, not the model's
    assert "340" in wrong.answer and "391" in wrong.answer
    assert any(c["name"] == "arithmetic" and c["outcome"] == "failed" for c in wrong.checks)
    silent = judge("What is 17 * 23?", "I am not sure.", "I am not sure.", None)
    assert silent.status == "verified" and silent.final_answer == "391"


@pytest.mark.parametrize("question,text,final", [
    ("Tom has 3 apples and buys 4 more. How many apples?", "3 + 4 = 7. The answer is correct.", "7"),
    ("What is the capital of France?", "Paris. I verified this.", None),        # no arithmetic at all
    ("What is 10 / 0?", "10 / 0 = 5", "5"),                                     # division by zero
    ("Compute 2 ** 99999999", "2 ** 99999999 = 4", "4"),                        # a huge power: capped
])
def test_nothing_but_an_exact_check_verifies(question, text, final):
    judged = judge(question, text, text, final)
    assert judged.status == "unverified"


def test_huge_numbers_do_not_hang_and_verify_only_the_exact_value():
    big = "9" * 400
    judged = judge(f"What is {big} * {big}?", "It is 81.", "It is 81.", "81")
    assert judged.status != "verified" or judged.final_answer == str(int(big) ** 2)


def test_a_wrong_last_step_copied_into_the_answer_is_recomputed_but_not_verified():
    judged = judge("Tom has 5 bags of 4 apples. How many apples?", "5 * 4 = 21. \\boxed{21}", "5 * 4 = 21", "21")
    assert judged.status == "unverified" and judged.final_answer == "20"
    assert any(c["name"] == "step" and c["outcome"] == "failed" for c in judged.checks)


def test_low_agreement_is_low_confidence():
    tts = {"method": "vote", "k": 4, "share": 0.5, "winner": "7", "confident": False, "threshold": 0.6}
    assert judge("Tom has 3 apples and 4 more. How many?", "7", "7", "7", tts=tts).status == "low_confidence"


def test_mixed_answers_are_checked_against_the_passages_but_never_more_than_unverified(facts):
    good = judge(MIXED, "Newton was born in 1642 and Einstein in 1879. 1879 - 1642 = 237.", "...", "237",
                 facts=facts)
    assert good.status == "unverified" and good.final_answer == "237"
    assert {c["name"]: c["outcome"] for c in good.checks}["computation"] == "passed"
    slip = judge(MIXED, "Einstein was born in 1979, Newton in 1642. 1979 - 1642 = 337.", "...", "337", facts=facts)
    assert slip.final_answer == "237" and any("1879" in n for n in slip.notes)
    invented = judge(MIXED, "Newton was born in 1500, Einstein in 1879. 1879 - 1500 = 379.", "...", "379",
                     facts=facts)
    assert invented.final_answer == "379" and any(c["outcome"] == "failed" for c in invented.checks)
    wrong_setup = judge("How old was Dracula in 2000, counting from its publication year?",
                        "It was published in 1897. 2000 + 1897 = 3897.", "...", "3897",
                        facts=[{"n": 1, "title": "Dracula", "text": "Dracula is an 1897 novel by Bram Stoker."}])
    assert wrong_setup.status == "unverified"  # right facts, exact arithmetic, wrong operation
    for judged in (good, slip, invented, wrong_setup, judge(MIXED, "The answer is 237.", "...", "237", facts=[])):
        assert judged.status == "unverified"


def test_last_calculation():
    assert last_calculation("2 + 2 = 4, then 4 * 10 = 41") == ("4 * 10", "40", "41")
    assert last_calculation("no numbers here") is None
