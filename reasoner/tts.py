"""Test-time scaling: sample K answers, cluster equivalent ones, select by vote or by CLR.

- ``vote`` (self-consistency): the cluster with the most members wins.
- ``clr`` (Claim-Level Reliability, VibeThinker-3B report): for each candidate the model
  lists M decision-relevant claims, then checks each claim (yes/no verdict ``v``); the
  candidate's reliability is ``r_k = (mean_m v_k,m) ** M`` and the cluster with the largest
  sum of ``r_k`` wins (ties: more votes).

Equivalent answers are merged by :func:`reasoner.parsing.answers_equivalent`: ``math_verify`` (``1/2`` = ``0.5`` = ``\\frac{1}{2}``), option
letters by their normalised letter (``B`` = ``(b)``). Claims or verdicts that cannot be parsed
never crash a run: such a candidate takes the mean reliability of the others, and when no
candidate can be scored the selection falls back to the vote, with a note.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from reasoner.base import ChatBackend, Completion, Messages, Timer, as_messages
from reasoner.parsing import answers_equivalent, last_number, option_letter
from reasoner.presets import preset_for

Method = Literal["vote", "clr"]
METHODS = ("none", "vote", "clr")
CLAIMS = 5
# Calibrated on the boundary set (bench/tts.py --n 12, SmolLM2-135M, K=8: the best balanced accuracy
# of "confident <=> right", 0.75 for vote, 0.60 for clr; only 12 problems, so a rough default):
# below these the answer is low-confidence (escalated when a larger model is configured).
DEFAULT_THRESHOLDS = {"vote": 0.375, "clr": 0.875}

CLAIMS_PROMPT = ("Problem: {question}\n\nSolution:\n{solution}\n\nList the {m} claims of this solution that "
                 "its final answer depends on most: facts used and calculation steps. Write a numbered list "
                 "(1. … {m}.), one short sentence each, nothing else.")
VERDICT_PROMPT = ("Problem: {question}\n\nClaim: {claim}\n\nIs this claim correct? Answer with one word: "
                  "yes or no.")
_LIST_ITEM = re.compile(r"^\s*(?:\d{1,2}\s*[.):]|[-*•])\s+(.+?)\s*$", re.M)
_VERDICT = re.compile(r"\b(not\s+(?:correct|true|right)|yes|no|true|false|correct|incorrect|wrong|right)\b", re.I)
_POSITIVE = {"yes", "true", "correct", "right"}


# -- answers and clusters -------------------------------------------------------------------
def candidate_answer(completion: Completion) -> str | None:
    """The answer a candidate commits to: its parsed final answer, else the last number it wrote."""
    if completion.final_answer:
        return completion.final_answer.strip()
    return last_number(completion.answer or completion.text)


@dataclass
class Cluster:
    """Equivalent answers: ``members`` are candidate indices; ``reliability`` the summed r_k (CLR)."""

    answer: str
    members: list[int]
    reliability: float | None = None

    @property
    def votes(self) -> int:
        return len(self.members)

    def to_dict(self) -> dict[str, Any]:
        return {"answer": self.answer, "members": self.members, "votes": self.votes,
                "reliability": None if self.reliability is None else round(self.reliability, 4)}


def cluster_answers(answers: Sequence[str | None]) -> list[Cluster]:
    """Group equivalent answers (``None``: no answer, left out); the largest cluster first."""
    clusters: list[Cluster] = []
    cache: dict[str, list[Any]] = {}
    for index, answer in enumerate(answers):
        if answer is None:
            continue
        for cluster in clusters:
            if answers_equivalent(cluster.answer, answer, cache):
                cluster.members.append(index)
                break
        else:
            clusters.append(Cluster(option_letter(answer, lowercase=True) or answer, [index]))
    return sorted(clusters, key=lambda c: (-c.votes, c.members[0]))


# -- CLR pieces -----------------------------------------------------------------------------
def parse_claims(text: str, m: int = CLAIMS) -> list[str]:
    """The first ``m`` distinct items of a numbered or bulleted list (empty when there is none)."""
    claims: list[str] = []
    for item in _LIST_ITEM.findall(text):
        if len(item) > 3 and item not in claims:
            claims.append(item)
    return claims[:m]


def parse_verdict(text: str) -> bool | None:
    """The first verdict of a reply: yes/true/correct, or no/false/incorrect/"not correct" (else None)."""
    match = _VERDICT.search(text)
    return None if match is None else match.group(1).lower() in _POSITIVE


def reliability(verdicts: Sequence[bool], m: int = CLAIMS) -> float:
    """``r = (mean verdict) ** m``: one doubtful claim out of five costs a third of the score."""
    return (sum(verdicts) / len(verdicts)) ** m if verdicts else 0.0


@dataclass
class Candidate:
    """One sampled answer and, under CLR, its claims, verdicts and reliability."""

    answer: str | None
    completion: Completion
    claims: list[str] = field(default_factory=list)
    verdicts: list[bool | None] = field(default_factory=list)
    reliability: float | None = None
    tokens: dict[str, int] = field(default_factory=dict)  # prompt + completion tokens per CLR phase

    def to_dict(self) -> dict[str, Any]:
        return {"answer": self.answer, "claims": self.claims, "verdicts": self.verdicts,
                "reliability": None if self.reliability is None else round(self.reliability, 4),
                "completion_tokens": self.completion.completion_tokens}


@dataclass
class TTSResult:
    """What test-time scaling chose and what it cost (``usage`` per phase: sampling, claims, verification).

    ``share`` is the winner's share of the k votes; ``reliability`` (CLR only) the winner's
    share of the summed reliability of all clusters (each cluster also keeps its raw sum).
    """

    method: str
    k: int
    clusters: list[Cluster]
    winner: str | None
    share: float
    reliability: float | None
    usage: dict[str, dict[str, float]]
    notes: list[str]
    candidates: list[Candidate]

    @property
    def completion(self) -> Completion | None:
        """The first candidate of the winning cluster (its reasoning and answer text)."""
        for cluster in self.clusters:
            if cluster.answer == self.winner:
                return self.candidates[cluster.members[0]].completion
        return self.candidates[0].completion if self.candidates else None

    @property
    def tokens(self) -> int:
        """All tokens spent, prompt and completion, every phase."""
        return int(sum(u["prompt_tokens"] + u["completion_tokens"] for u in self.usage.values()))

    def to_dict(self, candidates: bool = False) -> dict[str, Any]:
        """The ``tts`` field of the agent's answer object."""
        out = {"method": self.method, "k": self.k, "winner": self.winner, "share": round(self.share, 4),
               "reliability": None if self.reliability is None else round(self.reliability, 4),
               "clusters": [c.to_dict() for c in self.clusters], "usage": self.usage, "notes": self.notes}
        if candidates:
            out["candidates"] = [c.to_dict() for c in self.candidates]
        return out


def _usage(completions: Sequence[Completion], seconds: float) -> dict[str, float]:
    return {"calls": len(completions), "prompt_tokens": sum(c.prompt_tokens for c in completions),
            "completion_tokens": sum(c.completion_tokens for c in completions), "seconds": round(seconds, 3)}


def question_of(messages: Messages | str) -> str:
    """The last user message: what claims are checked against."""
    users = [m["content"] for m in as_messages(messages) if m["role"] == "user"]
    return users[-1] if users else ""


# -- selection ------------------------------------------------------------------------------
def decide(method: str, candidates: Sequence[Candidate], notes: list[str]) -> tuple[
        list[Cluster], str | None, float, float | None]:
    """Cluster the candidates and pick a winner: ``(clusters, winner, share, reliability)``."""
    clusters = cluster_answers([c.answer for c in candidates])
    k = len(candidates)
    if not clusters:
        notes.append("no candidate gave a parsable answer")
        return clusters, None, 0.0, None
    if method == "clr":
        scored = [c.reliability for c in candidates if c.reliability is not None]
        if not scored:
            notes.append("CLR could not score any candidate (claims or verdicts unparseable): majority vote used")
            method = "vote"
        else:
            fill = sum(scored) / len(scored)
            missing = sum(c.reliability is None for c in candidates)
            if missing:
                notes.append(f"{missing} of {k} candidates had unparseable claims or verdicts: "
                             f"they count with the mean reliability {fill:.3f}")
            for cluster in clusters:
                cluster.reliability = sum(fill if candidates[i].reliability is None else candidates[i].reliability
                                          for i in cluster.members)
            best = max(clusters, key=lambda c: (c.reliability, c.votes, -c.members[0]))
            total = sum(c.reliability for c in clusters) or 1.0
            return clusters, best.answer, best.votes / k, best.reliability / total
    best = clusters[0]
    return clusters, best.answer, best.votes / k, None


async def _gather(calls: Sequence[Any], concurrency: int) -> list[Any]:
    gate = asyncio.Semaphore(concurrency)

    async def run(call: Any) -> Any:
        async with gate:
            return await call

    return await asyncio.gather(*(run(c) for c in calls))


async def score_claims(backend: ChatBackend, question: str, candidates: Sequence[Candidate], m: int = CLAIMS,
                       concurrency: int = 8, claim_tokens: int = 128) -> tuple[dict[str, float], dict[str, float]]:
    """Fill in each candidate's claims, verdicts and reliability; returns the usage of both phases."""
    timer = Timer()
    asked = [backend.agenerate(CLAIMS_PROMPT.format(question=question, solution=c.completion.text.strip()[-3000:],
                                                    m=m), temperature=0.0, max_tokens=claim_tokens, n=1)
             for c in candidates]
    extracted = [r[0] for r in await _gather(asked, concurrency)]
    extraction = _usage(extracted, timer.elapsed)
    for candidate, reply in zip(candidates, extracted, strict=True):
        candidate.claims = parse_claims(reply.answer or reply.text, m)
        candidate.tokens["claims"] = reply.prompt_tokens + reply.completion_tokens
        candidate.tokens["verification"] = 0
    timer = Timer()
    pairs = [(c, claim) for c in candidates for claim in c.claims]
    checks = [backend.agenerate(VERDICT_PROMPT.format(question=question, claim=claim), temperature=0.0,
                                max_tokens=8, n=1) for _, claim in pairs]
    replies = [r[0] for r in await _gather(checks, concurrency)]
    for (candidate, _), reply in zip(pairs, replies, strict=True):
        candidate.verdicts.append(parse_verdict(reply.text))
        candidate.tokens["verification"] += reply.prompt_tokens + reply.completion_tokens
    for candidate in candidates:
        known = [v for v in candidate.verdicts if v is not None]
        candidate.reliability = reliability(known, m) if known else None
    return extraction, _usage(replies, timer.elapsed)


async def aselect(backend: ChatBackend, messages: Messages | str, method: Method = "vote", k: int = 4, *,
                  m: int = CLAIMS, temperature: float | None = None, max_tokens: int | None = None,
                  seed: int | None = None, concurrency: int = 8, claim_tokens: int = 128,
                  samples: Sequence[Completion] | None = None) -> TTSResult:
    """Sample ``k`` candidates (one ``n=k`` call) and select an answer by ``vote`` or ``clr``.

    ``temperature`` defaults to the model preset's eval temperature (greedy samples would all
    agree). ``samples`` reuses candidates sampled before (then nothing is sampled);
    ``claim_tokens`` caps each claim-extraction reply (CLR).
    """
    if method not in ("vote", "clr"):
        raise ValueError(f"unknown test-time scaling method {method!r}: use 'vote' or 'clr'")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    usage: dict[str, dict[str, float]] = {}
    timer = Timer()
    if samples is None:
        temperature = preset_for(backend.model).eval.temperature if temperature is None else temperature
        samples = await backend.agenerate(messages, temperature=temperature, max_tokens=max_tokens, n=k,
                                          seed=seed)
        usage["sampling"] = _usage(samples, timer.elapsed)
    candidates = [Candidate(candidate_answer(c), c) for c in samples]
    notes: list[str] = []
    if method == "clr" and any(c.answer is not None for c in candidates):
        answered = [c for c in candidates if c.answer is not None]
        usage["claims"], usage["verification"] = await score_claims(
            backend, question_of(messages), answered, m, concurrency, claim_tokens)
    clusters, winner, share, rel = await asyncio.to_thread(decide, method, candidates, notes)  # O(k²) math-verify
    return TTSResult(method=method, k=len(candidates), clusters=clusters, winner=winner, share=share,
                     reliability=rel, usage=usage, notes=notes, candidates=candidates)


def select(backend: ChatBackend, messages: Messages | str, method: Method = "vote", k: int = 4,
           **options: Any) -> TTSResult:
    """Blocking :func:`aselect` (call :func:`aselect` from inside a running event loop)."""
    return asyncio.run(aselect(backend, messages, method, k, **options))


def is_confident(result: TTSResult, threshold: float | None = None) -> bool:
    """True when the winner's vote share (vote) or reliability share (clr) reaches ``threshold``.

    ``threshold=None`` uses :data:`DEFAULT_THRESHOLDS` of the method.
    """
    if result.winner is None:
        return False
    score = result.reliability if result.method == "clr" and result.reliability is not None else result.share
    key = "clr" if result.method == "clr" and result.reliability is not None else "vote"
    return score >= (DEFAULT_THRESHOLDS[key] if threshold is None else threshold)


def as_dict(result: TTSResult) -> dict[str, Any]:
    """``to_dict`` plus the confidence flag: the ``tts`` field of ``corecover ask --json``."""
    return {**result.to_dict(), "confident": is_confident(result)}


async def answer_with_tts(backend: ChatBackend, messages: Messages | str, method: str, k: int, *,
                          threshold: float | None = None, **options: Any) -> tuple[Completion | None, dict[str, Any]]:
    """For the agent's reason node: ``(completion, tts field)``.

    The completion is a copy of the winning cluster's first candidate with ``final_answer`` set
    to the winner and the token counts of every phase (sampling, claims, verification) summed,
    so the node can use it like a single answer. The field is :meth:`TTSResult.to_dict` plus
    ``confident`` (:func:`is_confident`) and the ``threshold`` used.
    """
    result = await aselect(backend, messages, method, k, **options)  # type: ignore[arg-type]
    key = "clr" if method == "clr" and result.reliability is not None else "vote"
    used = DEFAULT_THRESHOLDS[key] if threshold is None else threshold
    field_ = {**result.to_dict(), "confident": is_confident(result, used), "threshold": used}
    best = result.completion
    if best is None:
        return None, field_
    completion = replace(best, final_answer=result.winner or best.final_answer,
                         prompt_tokens=int(sum(u["prompt_tokens"] for u in result.usage.values())),
                         completion_tokens=int(sum(u["completion_tokens"] for u in result.usage.values())),
                         latency_s=sum(u["seconds"] for u in result.usage.values()),
                         extra={**best.extra, "tts": field_})
    return completion, field_
