"""avg@n, pass@k, cons@k (clusters of equivalent answers), cost, MCQ letter distributions."""

from __future__ import annotations

import pytest

from eval.metrics import consensus_correct, cost_usd, default_ks, summarize


def rec(item, sample, extracted, correct, kind="math", **extra):
    return {"item_id": item, "sample": sample, "kind": kind, "extracted": extracted, "correct": correct,
            "score": float(correct), "prompt_tokens": 10, "completion_tokens": 5, "seconds": 1.0,
            "cost_usd": 0.0, "route": "reason", "model": "m", "details": extra.pop("details", {}), **extra}


def test_consensus_clusters_equivalent_math_answers():
    records = [rec("a", 0, "0.5", True), rec("a", 1, "\\frac{1}{2}", True), rec("a", 2, "3", False),
               rec("a", 3, "3", False), rec("a", 4, "1/2", True)]
    assert consensus_correct(records, "math")          # 0.5 = 1/2 = \frac12: 3 votes against 2
    assert not consensus_correct(records[2:4], "math")
    assert not consensus_correct([rec("a", 0, None, False)], "math")


def test_consensus_votes_on_the_shipped_option_for_shuffled_mcq():
    records = [rec("q", s, letter, ok, kind="mcq", details={"shipped_letter": "A", "letter": letter})
               for s, (letter, ok) in enumerate([("B", True), ("D", True), ("C", False)])]
    records.append(rec("q", 3, "C", False, kind="mcq", details={"shipped_letter": "B", "letter": "C"}))
    assert consensus_correct(records, "mcq")  # two votes for the original A, shown as B and D


def test_summary_metrics():
    records = [rec("a", 0, "1", True), rec("a", 1, "2", False), rec("b", 0, "3", False), rec("b", 1, "3", False)]
    out = summarize(records, [1, 2])
    s = out["summary"]
    assert s["items"] == 2 and s["samples"] == 4
    assert s["accuracy"] == pytest.approx(0.25)
    assert s["pass@k"] == {"1": pytest.approx(0.25), "2": pytest.approx(0.5)}
    assert s["cons@k"]["1"] == pytest.approx(0.5)
    assert s["completion_tokens"] == 20


def test_mcq_summary_shows_letter_distributions():
    records = [rec("q", s, "A", s == 0, kind="mcq", gold="ABCD"[s], details={"letter": "A", "shipped_letter": "ABCD"[s]})
               for s in range(4)]
    s = summarize(records, [1])["summary"]
    assert s["answer_letters"] == {"A": 4}
    assert s["gold_letters"] == {"A": 1, "B": 1, "C": 1, "D": 1}


def test_cost_and_ks():
    prices = {"gpt-x": {"input": 2.0, "output": 8.0}}
    assert cost_usd("gpt-x-2025", 1_000_000, 500_000, prices) == pytest.approx(6.0)
    assert cost_usd("local", 1000, 1000, prices) == 0.0
    assert default_ks(8) == [1, 2, 4, 8] and default_ks(6) == [1, 2, 4, 6] and default_ks(1) == [1]


def test_truncated_and_unanswered_samples_are_counted():
    records = [rec("a", 0, None, False, truncated=True), rec("a", 1, "7", True, truncated=True),
               rec("b", 0, None, False), rec("b", 1, "3", False, extra={"truncated": True})]
    out = summarize(records, [1, 2])
    s = out["summary"]
    assert (s["truncated"], s["unanswered"], s["truncated_unanswered"]) == (3, 2, 1)
    assert [i["truncated"] for i in out["items"]] == [2, 1]
