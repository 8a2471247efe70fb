"""Which thread a chat request belongs to.

1. an explicit id: the ``X-Thread-Id`` header, else a ``thread_id`` field in the body;
2. a continued conversation: OpenAI clients resend the whole history, so after each answer the
   server remembers ``hash(user, messages so far + the answer) -> thread``; a request whose
   earlier messages hash to a remembered key continues that thread (system messages are left
   out; the memory is per process, the last 10,000 turns; with several replicas behind a load
   balancer send ``X-Thread-Id``, which every replica honours);
3. otherwise a new thread.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections import OrderedDict

from agent.api.errors import ApiError
from agent.api.models import THREAD_ID_PATTERN, ChatCompletionRequest

REMEMBERED_TURNS = 10_000


def conversation_key(user: str | None, turns: list[tuple[str, str]]) -> str:
    """A stable key of a conversation so far (user and assistant turns only)."""
    payload = json.dumps([user or "", [(role, text.strip()) for role, text in turns
                                       if role in ("user", "assistant")]], ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def speaker(owner: str | None, request: ChatCompletionRequest) -> str:
    """Whose conversation it is: the authenticated user and the request's own ``user`` field."""
    return json.dumps([owner, request.user])


class ConversationMemory:
    """Remembers which thread a resent conversation belongs to (bounded, in process)."""

    def __init__(self, size: int = REMEMBERED_TURNS) -> None:
        self.size = size
        self.threads: OrderedDict[str, str] = OrderedDict()

    def find(self, key: str) -> str | None:
        thread = self.threads.get(key)
        if thread is not None:
            self.threads.move_to_end(key)
        return thread

    def remember(self, key: str, thread_id: str) -> None:
        self.threads[key] = thread_id
        self.threads.move_to_end(key)
        while len(self.threads) > self.size:
            self.threads.popitem(last=False)

    def remember_answer(self, who: str, request: ChatCompletionRequest, thread_id: str, *answers: str) -> None:
        """Remember the conversation with each form of the answer a client may resend."""
        turns = request.turns()
        for answer in {a for a in answers if a}:
            self.remember(conversation_key(who, [*turns, ("assistant", answer)]), thread_id)


def resolve_thread(request: ChatCompletionRequest, header: str | None, memory: ConversationMemory,
                   who: str) -> str:
    """The thread a request belongs to (see the module docstring for the order)."""
    if header is not None:
        if not re.match(THREAD_ID_PATTERN, header):
            raise ApiError(400, "X-Thread-Id must be 1-128 characters of A-Z a-z 0-9 . _ : -",
                           param="X-Thread-Id")
        return header
    if request.thread_id:
        return request.thread_id
    earlier = request.turns()[:-1]
    if any(role == "assistant" for role, _ in earlier):
        found = memory.find(conversation_key(who, earlier))
        if found:
            return found
    return f"t-{uuid.uuid4().hex[:20]}"
