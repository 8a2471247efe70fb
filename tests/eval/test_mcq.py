"""Option shuffling is deterministic per seed and the gold letter follows the permutation."""

from __future__ import annotations

from collections import Counter

from eval.benchmarks import load_benchmark
from eval.mcq import original_letter, parse_options, shuffle_item
from eval.runner import sample_item
from eval.scoring import score


def test_shuffle_is_deterministic_and_moves_the_gold(fixtures):
    item = load_benchmark("gpqa_diamond", fixtures / "verl_mcq.jsonl")[0]
    a, b = shuffle_item(item, sample=3, seed=7), shuffle_item(item, sample=3, seed=7)
    assert a.prompt == b.prompt and a.metadata["permutation"] == b.metadata["permutation"]
    order = a.metadata["permutation"]
    assert sorted(order) == list("ABCD")
    _, options, _ = parse_options(a.prompt)
    assert options[ord(a.gold) - ord("A")] == "Mercury"  # the correct option, wherever it went
    assert order[ord(a.gold) - ord("A")] == "A"
    assert original_letter(a.gold, order) == "A"
    others = {shuffle_item(item, sample=s, seed=7).metadata["permutation"] for s in range(12)}
    assert len(others) > 3  # samples see different orders
    by_seed = {seed: [shuffle_item(item, s, seed).metadata["permutation"] for s in range(12)] for seed in (7, 8)}
    assert by_seed[7] != by_seed[8]


def test_gold_letters_spread_over_positions(fixtures):
    item = load_benchmark("gpqa_diamond", fixtures / "verl_mcq.jsonl")[1]
    golds = Counter(shuffle_item(item, s, seed=0).gold for s in range(200))
    assert set(golds) == set("ABCD") and min(golds.values()) > 25


def test_score_uses_the_shuffled_gold_and_records_the_shipped_letter(fixtures):
    bench = load_benchmark("gpqa_diamond", fixtures / "verl_mcq.jsonl")
    variant = sample_item(bench[0], 1, seed=0)
    right = score(variant, f"The answer is \\boxed{{{variant.gold}}}")
    assert right.correct and right.details["shipped_letter"] == "A"
    wrong_letter = next(letter for letter in "ABCD" if letter != variant.gold)
    wrong = score(variant, f"\\boxed{{{wrong_letter}}}")
    assert not wrong.correct and wrong.details["shipped_letter"] != "A"


def test_shipped_order_keeps_the_prompt(fixtures):
    item = load_benchmark("gpqa_diamond_shipped", fixtures / "verl_mcq.jsonl")[0]
    assert sample_item(item, 5, seed=0) is item
    assert score(item, "Answer: A").correct
