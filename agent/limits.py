"""How long a question may be: derived from the reasoner's context window, not a fixed size.

One limit holds on every route, because the route is chosen only after a request is accepted:
the question's prompt, plus the largest block the graph may add to it (the mixed route's
``retrieve_k`` facts, the knowledge route's ``answer_passages``, or a follow-up's condensed
history), plus room for the answer, must fit the reasoner's context. A longer question is
refused before any thread is touched (``ContextLengthExceeded``, HTTP 400
``context_length_exceeded``); passages are never trimmed to make room, since room is kept for them.

Tokens are counted exactly with the backend's tokenizer when it has one (llama.cpp); else, when
the context is known (``CORECOVER_REASONER_CONTEXT``), estimated as one token per 3 bytes of
UTF-8; else only ``FALLBACK_CHARS`` characters are allowed and the model server judges the rest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from agent import prompts

FALLBACK_CHARS = 32_000     # when the reasoner's context is unknown
BYTES_PER_TOKEN = 3         # a cautious estimate (English averages ~4 characters a token)
ANSWER_ROOM = 1024          # at most this many tokens are kept for the answer
TITLE_CHARS, FACT_CHARS, PASSAGE_CHARS, TURN_CHARS, TURNS = 120, 700, 500, 300, 8  # as prompts quotes them


class ContextLengthExceeded(ValueError):
    """The question does not fit the reasoner's context (a 400, the way OpenAI answers)."""


@dataclass(frozen=True)
class QuestionLimit:
    """The limit in effect: ``context`` and ``max_question_tokens`` are None when unknown."""

    context: int | None
    max_question_tokens: int | None
    reserved: int = 0          # tokens kept for passages or history
    answer_room: int = 0
    counter: Any = None        # question -> tokens of its reason prompt, without the fixed part
    exact: bool = False

    def check(self, question: str) -> None:
        """Raise ``ContextLengthExceeded`` when ``question`` is too long, with the limits in the message."""
        if self.max_question_tokens is None:
            if len(question) > FALLBACK_CHARS:
                raise ContextLengthExceeded(
                    f"the question is {len(question)} characters; at most {FALLBACK_CHARS} are accepted "
                    "while the reasoner's context is unknown (set CORECOVER_REASONER_CONTEXT)")
            return
        tokens = self.counter(question)
        if tokens > self.max_question_tokens:
            how = "" if self.exact else " (estimated)"
            raise ContextLengthExceeded(
                f"the reasoner's maximum context length is {self.context} tokens; this question is "
                f"{tokens} tokens{how} and at most {self.max_question_tokens} fit beside the prompt, "
                f"{self.reserved} tokens kept for retrieved passages and {self.answer_room} for the answer: "
                "shorten the question")

    def public(self) -> dict[str, Any]:
        return {"context_tokens": self.context, "max_question_tokens": self.max_question_tokens,
                "max_question_chars": FALLBACK_CHARS if self.max_question_tokens is None else None}


def reserved_tokens(retrieve_k: int, answer_passages: int) -> int:
    """Tokens kept for the largest block the graph adds to a question's prompt (estimated)."""
    facts = retrieve_k * (TITLE_CHARS + FACT_CHARS + 8) + len(prompts.FACTS_INTRO)
    passages = answer_passages * (TITLE_CHARS + PASSAGE_CHARS + 8) + len(prompts.KNOWLEDGE_SYSTEM)
    history = TURNS * (TURN_CHARS + 12) + sum(len(m["content"]) for m in prompts.CONDENSE_EXAMPLES)
    return math.ceil(max(facts, passages, history) / BYTES_PER_TOKEN) + 64


def question_limit(backend: Any, settings: Any) -> QuestionLimit:
    """The limit for ``backend`` (a ``ChatBackend``) under ``settings``."""
    context = settings.reasoner_context or getattr(backend, "n_ctx", None)
    if not context:
        return QuestionLimit(None, None)
    reserved = reserved_tokens(settings.retrieve_k, settings.answer_passages)
    max_tokens = settings.reasoner_max_tokens or getattr(getattr(backend, "defaults", None), "max_tokens", 0)
    answer_room = min(max_tokens or ANSWER_ROOM, ANSWER_ROOM)
    count_prompt = getattr(backend, "prompt_tokens", None)
    if count_prompt is not None:
        fixed = len(count_prompt(prompts.reason_messages("")))

        def counter(question: str) -> int:
            return len(count_prompt(prompts.reason_messages(question))) - fixed
    else:
        fixed = math.ceil(len(prompts.REASON_SYSTEM.encode()) / BYTES_PER_TOKEN) + 16

        def counter(question: str) -> int:
            return math.ceil(len(question.encode()) / BYTES_PER_TOKEN)
    allowed = max(0, context - fixed - reserved - answer_room)
    return QuestionLimit(context, allowed, reserved, answer_room, counter, exact=count_prompt is not None)
