"""Sampling and selection (vote, CLR) on the real embedded model; K ≤ 4, small max_tokens."""

from __future__ import annotations

import asyncio

import pytest

from reasoner.base import Completion
from reasoner.tts import (
    Candidate,
    answer_with_tts,
    aselect,
    cluster_answers,
    decide,
    is_confident,
    parse_claims,
    parse_verdict,
    reliability,
    select,
)


def candidate(answer: str, rel: float | None = None) -> Candidate:
    c = Candidate(answer, Completion.from_text(f"so the result is \\boxed{{{answer}}}"))
    c.reliability = rel
    return c


def test_clustering_merges_equivalent_answers() -> None:
    clusters = cluster_answers(["1/2", "0.5", "B", "(b)", "\\frac{1}{2}", "3", None, "12", "12.0", "[B]."])
    by_answer = {c.answer: c.members for c in clusters}
    assert by_answer == {"1/2": [0, 1, 4], "B": [2, 3, 9], "3": [5], "12": [7, 8]}
    assert [c.answer for c in clusters][:2] == ["1/2", "B"]  # most votes first, ties by first seen


def test_claim_and_verdict_parsing() -> None:
    reply = "Claims:\n1. The wallet costs $100.\n2) Betty has $50.\n- Parents give $15.\n1. The wallet costs $100."
    assert parse_claims(reply, 5) == ["The wallet costs $100.", "Betty has $50.", "Parents give $15."]
    assert parse_claims("I cannot list anything here.") == []
    assert [parse_verdict(t) for t in ("Yes.", "This claim is not correct.", "False", "maybe so")] == [
        True, False, False, None]


def test_clr_score_on_fixed_verdicts_matches_the_formula() -> None:
    assert reliability([True, True, True, True, False], 5) == pytest.approx(0.8 ** 5)
    assert reliability([True] * 5, 5) == 1.0 and reliability([], 5) == 0.0
    # two votes for 7 with weak claims lose to one well-supported 8
    cands = [candidate("7", 0.8 ** 5), candidate("7", 0.6 ** 5), candidate("8", 1.0)]
    notes: list[str] = []
    clusters, winner, share, rel = decide("clr", cands, notes)
    assert winner == "8" and share == pytest.approx(1 / 3) and not notes
    sums = {c.answer: c.reliability for c in clusters}
    assert sums["7"] == pytest.approx(0.8 ** 5 + 0.6 ** 5) and sums["8"] == pytest.approx(1.0)
    assert rel == pytest.approx(1.0 / (1.0 + 0.8 ** 5 + 0.6 ** 5))
    assert decide("vote", cands, [])[1] == "7"


def test_unscored_candidates_degrade_to_vote_with_a_note() -> None:
    notes: list[str] = []
    _, winner, share, rel = decide("clr", [candidate("7"), candidate("7"), candidate("8")], notes)
    assert winner == "7" and share == pytest.approx(2 / 3) and rel is None
    assert any("majority vote used" in n for n in notes)
    notes = []
    _, winner, _, _ = decide("clr", [candidate("7"), candidate("8", 0.5)], notes)
    assert winner in ("7", "8") and any("1 of 2 candidates" in n for n in notes)


def test_vote_on_the_embedded_model(embedded_backend) -> None:
    result = select(embedded_backend, "What is 2 + 3?", "vote", 3, max_tokens=24, seed=1)
    assert result.k == 3 and len(result.candidates) == 3
    assert sum(c.votes for c in result.clusters) == sum(c.answer is not None for c in result.candidates)
    if result.winner is not None:
        assert result.share == max(c.votes for c in result.clusters) / 3
    assert result.usage["sampling"]["calls"] == 3 and result.usage["sampling"]["completion_tokens"] > 0
    assert is_confident(result, 0.0) == (result.winner is not None)
    assert result.to_dict()["clusters"] and result.completion is not None


def test_full_clr_run_on_two_items_records_usage(embedded_backend) -> None:
    async def both() -> list:
        return [await aselect(embedded_backend, q, "clr", 2, max_tokens=24, claim_tokens=40, seed=3)
                for q in ("What is 3 + 4?", "What is 6 times 2?")]

    for result in asyncio.run(both()):
        assert result.method == "clr" and result.k == 2
        for phase in ("sampling", "claims", "verification"):
            assert phase in result.usage
        assert result.usage["claims"]["completion_tokens"] > 0
        checked = sum(len(c.claims) for c in result.candidates if c.answer is not None)
        assert result.usage["verification"]["calls"] == checked
        assert result.winner is None or result.winner in {c.answer for c in result.clusters}
        data = result.to_dict(candidates=True)
        assert data["usage"]["claims"]["prompt_tokens"] > 0 and len(data["candidates"]) == 2


def test_unparseable_claims_from_the_model_degrade_to_vote(embedded_backend) -> None:
    # one token per claims reply cannot hold a numbered list: no candidate can be scored
    result = select(embedded_backend, "What is 4 + 4?", "clr", 2, max_tokens=24, claim_tokens=1, seed=5)
    if any(c.answer is not None for c in result.candidates):
        assert result.usage["claims"]["calls"] >= 1 and result.usage["verification"]["calls"] == 0
    assert all(c.reliability is None for c in result.candidates)
    if result.winner is not None:
        assert result.reliability is None and any("majority vote used" in n for n in result.notes)
    assert result.tokens > 0


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="vote"):
        asyncio.run(aselect(None, "x", "best", 2))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="k must"):
        asyncio.run(aselect(None, "x", "vote", 0))  # type: ignore[arg-type]


def test_answer_for_the_graph_sums_every_phase(embedded_backend) -> None:
    completion, field = asyncio.run(answer_with_tts(embedded_backend, "What is 5 + 2?", "vote", 2,
                                                    max_tokens=16, seed=7, threshold=0.5))
    assert field["method"] == "vote" and field["k"] == 2 and field["threshold"] == 0.5
    assert field["confident"] == (field["winner"] is not None and field["share"] >= 0.5)
    if completion is not None:
        assert completion.completion_tokens == field["usage"]["sampling"]["completion_tokens"]
        assert completion.final_answer == (field["winner"] or completion.final_answer)
        assert completion.extra["tts"] is field
