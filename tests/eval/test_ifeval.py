"""IFEval's real checks, offline: crafted passing and failing responses, strict and loose."""

from __future__ import annotations

from eval.benchmarks import load_benchmark
from eval.ifeval import ensure_punkt, ifeval_check
from eval.scoring import score


def test_punkt_works_without_a_download():
    ensure_punkt()
    import nltk

    assert nltk.sent_tokenize("Dr. Smith went home. He was tired.") == ["Dr. Smith went home.", "He was tired."]
    assert nltk.word_tokenize("Hello, world!") == ["Hello", ",", "world", "!"]


def test_no_comma_and_word_count():
    ids = ["punctuation:no_comma", "length_constraints:number_words"]
    kwargs = [{}, {"relation": "at least", "num_words": 10}]
    good = "Rain falls on the quiet town and the streets shine under the lamps tonight."
    assert ifeval_check(good, ids, kwargs) == [True, True]
    assert ifeval_check("Rain, rain, go away.", ids, kwargs) == [False, False]


def test_sentence_count_uses_punkt():
    ids, kwargs = ["length_constraints:number_sentences"], [{"relation": "less than", "num_sentences": 3}]
    assert ifeval_check("Dr. Who met Mr. Smith. They talked.", ids, kwargs) == [True]
    assert ifeval_check("One. Two. Three. Four.", ids, kwargs) == [False]


def test_title_check():
    ids, kwargs = ["detectable_format:title"], [{}]
    assert ifeval_check("Sure:\n<<Autumn Rain>>\nThe leaves fall.", ids, kwargs) == [True]
    assert ifeval_check("Autumn Rain\nThe leaves fall.", ids, kwargs) == [False]


def test_loose_accepts_what_strict_rejects():
    # loose also tries the response without its first/last line and without * markup
    ids, kwargs = ["startend:end_checker"], [{"end_phrase": "Is there anything else I can help with?"}]
    response = "Here you go.\nIs there anything else I can help with?\n---"
    assert ifeval_check(response, ids, kwargs) == [False]
    assert ifeval_check(response, ids, kwargs, loose=True) == [True]


def test_lowercase_and_json_checks():
    assert ifeval_check("all lower case here", ["change_case:english_lowercase"], [{}]) == [True]
    assert ifeval_check("Not Lower", ["change_case:english_lowercase"], [{}]) == [False]
    assert ifeval_check('```json\n{"a": 1}\n```', ["detectable_format:json_format"], [{}]) == [True]
    assert ifeval_check("{a: 1", ["detectable_format:json_format"], [{}]) == [False]


def test_score_reports_prompt_and_instruction_level(fixtures):
    item = load_benchmark("ifeval", fixtures / "ifeval.jsonl")[1]
    long_lower = "the cat sleeps on the warm mat all day and purrs softly while the sun moves slowly across the quiet room"
    good = score(item, long_lower)
    assert good.correct and good.details["strict"] == [True, True]
    half = score(item, long_lower.upper())
    assert not half.correct and half.score == 0.5


def test_every_real_ifeval_prompt_can_be_checked(shared_data):
    bench = load_benchmark("ifeval", data=shared_data)
    for item in bench:
        result = score(item, "A short answer. It has two sentences.")
        assert len(result.details["strict"]) == len(item.gold["instruction_id_list"])
