"""The mixed route's facts check (pure, no model): numbers taken from the facts must be in a cited
passage, in the role asked; clear slips are fixed from the passage, the rest flagged."""

from __future__ import annotations

import pytest

from agent.facts import check_facts, fact_numbers

QUESTION = "How many years passed between the birth of Isaac Newton and the birth of Albert Einstein?"


def test_numbers_taken_from_facts_are_not_results_or_the_question():
    text = "Newton was born in 1642 and Einstein in 1879. 1879 - 1642 = 237, so the gap is 237 years."
    assert fact_numbers(text, QUESTION, "237") == ["1642", "1879"]
    assert fact_numbers("What is 17 * 23? 17 * 23 = 391.", "What is 17 * 23?", "391") == []


@pytest.mark.parametrize("form", ["1879", "1,879", "1879.", "eighteen seventy-nine"])
def test_right_facts_in_any_format_match(form, facts):
    checked = check_facts(QUESTION, f"Newton was born in 1642 and Einstein in {form}. The gap is 237.",
                          facts, "237")
    assert checked.ok and not checked.fixed and not checked.flagged


def test_a_copying_slip_is_fixed_from_the_passage(facts):
    checked = check_facts(QUESTION, "Einstein was born in 1979 and Newton in 1642, so 1979 - 1642 = 337.",
                          facts, "337")
    assert checked.fixed == {"1979": "1879"} and "1879 - 1642" in checked.text and "1979" not in checked.text
    assert any(c["outcome"] == "failed" and "1979" in c["detail"] for c in checked.checks)


def test_a_death_year_used_for_a_birth_is_fixed(facts):
    checked = check_facts(QUESTION, "Newton was born in 1727 and Einstein in 1879.", facts, "152")
    assert checked.fixed == {"1727": "1642"}


def test_an_invented_number_is_flagged_never_passed(facts):
    checked = check_facts(QUESTION, "Newton was born in 1500 and Einstein in 1879.", facts, "379")
    assert checked.flagged == ["1500"] and not checked.ok
    assert not check_facts(QUESTION, "The answer is 336.", facts, "336").ok  # no fact used at all
    assert not check_facts(QUESTION, "Newton 1642, Einstein 1879.", [], "237").ok


def test_huge_and_odd_input_does_not_hang_or_crash(facts):
    text = " + ".join(str(i) for i in range(500)) + " = " + "9" * 5000
    assert not check_facts(QUESTION, text, facts, None).ok
    assert not check_facts(QUESTION, "", facts, None).ok
