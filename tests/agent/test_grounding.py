"""Grounding and follow-up rules (pure functions, no model)."""

from __future__ import annotations

from agent.grounding import (
    extract_answer,
    ground_answer,
    needs_context,
    split_sentences,
    substitute_follow_up,
)

PASSAGES = [
    {"n": 1, "title": "Mona Lisa", "text": "The Mona Lisa is a portrait painting by the Italian artist "
                                           "Leonardo da Vinci. It hangs in the Louvre in Paris."},
    {"n": 2, "title": "Raphael", "text": "Raphael was an Italian painter and architect of the High Renaissance."},
]


def test_supported_sentences_are_kept_with_valid_citations():
    checked = ground_answer("The Mona Lisa was painted by Leonardo da Vinci [7].", PASSAGES)
    assert checked.text == "The Mona Lisa was painted by Leonardo da Vinci [1]."
    assert checked.used == [1] and not checked.dropped


def test_unsupported_sentences_are_dropped():
    checked = ground_answer("Leonardo da Vinci painted it in Paris [1]. It was sold to a Martian in 1999 [1].",
                            PASSAGES)
    assert "Martian" not in checked.text and len(checked.dropped) == 1


def test_a_true_sentence_from_an_off_topic_passage_does_not_answer():
    checked = ground_answer("The answer is Raphael [2].", PASSAGES, question="Who painted the Mona Lisa?")
    assert checked.text == "" and checked.dropped


def test_extractive_answer_cites_the_best_sentence():
    checked = extract_answer("Who painted the Mona Lisa?", PASSAGES, max_sentences=1)
    assert checked.text.startswith("The Mona Lisa is a portrait painting") and checked.text.endswith("[1].")
    assert checked.method == "extractive"


def test_sentences_split_after_closing_quotes():
    assert len(split_sentences('He said "it is done." Then he left. (Really.) Yes.')) == 4


def test_follow_up_rules():
    assert substitute_follow_up("What is 17 * 23?", "and what about 19?") == "What is 17 * 19?"
    assert substitute_follow_up("Who founded Microsoft?", "What about Apple?") == "Who founded Apple?"
    assert substitute_follow_up("What is 2 + 2?", "Tell me a joke") is None
    assert needs_context("when was he born?") and not needs_context("Who wrote Hamlet and when?")
