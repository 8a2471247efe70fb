"""The graph's state: one typed dict per conversation thread (persisted by the checkpointer)."""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal, TypedDict

Route = Literal["reason", "knowledge", "mixed"]


class Turn(TypedDict):
    role: str
    content: str


class AgentState(TypedDict, total=False):
    """Fields of one turn are overwritten by the next turn; ``history`` accumulates."""

    # input of a turn
    question: str
    forced_route: Route | None
    options: dict[str, Any]          # show_thinking, think_budget, tts, k, max_tokens
    # the conversation so far (user and assistant turns)
    history: Annotated[list[Turn], operator.add]
    # filled by the nodes
    standalone_question: str
    route: Route
    route_scores: dict[str, float]
    passages: list[dict[str, Any]]   # retrieved hits, numbered from 1
    relevant: list[int]              # numbers of the passages the grader kept
    answer: str
    final_answer: str | None
    reasoning: str | None
    citations: list[dict[str, Any]]
    grounded: bool
    escalated: bool
    status: str                      # verified, grounded, unverified, low_confidence, not_grounded, escalated, truncated
    checks: list[dict[str, Any]]     # what was tested for the status: name, outcome (pass/fail/skip), detail
    notes: list[str]
    tts: dict[str, Any] | None
    usage: dict[str, dict[str, Any]]  # node -> tokens, seconds, backend
    result: dict[str, Any]           # the answer object (see finalize)
