"""The OpenAI response objects of one answer: the completion, the stream chunks, and the
``corecover`` object that carries what the agent adds (route, citations, status and the checks
behind it, usage, thread id)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from agent.api.models import MODEL_ID
from reasoner.parsing import THINK_TAGS

ANSWER_FIELDS = ("route", "route_scores", "escalated", "standalone_question", "final_answer", "citations",
                 "status", "checks", "grounded", "verified", "notes", "usage")


def corecover_fields(result: dict[str, Any], thread_id: str, full: bool = False) -> dict[str, Any]:
    """The agent's extras for the ``corecover`` object of a response (``full``: with the answer
    and thinking too, for the last stream chunk, so a page can repaint from the final text)."""
    keys = ("answer", "reasoning") * full + ANSWER_FIELDS
    fields = {key: result.get(key) for key in keys if key in result}
    fields["thread_id"] = result.get("thread_id") or thread_id
    return fields


def token_usage(result: dict[str, Any]) -> dict[str, int]:
    """OpenAI ``usage``: the agent's ``total`` entry, else the sum over its nodes."""
    usage = result.get("usage") or {}
    nodes = [usage["total"]] if isinstance(usage.get("total"), dict) else [
        node for node in usage.values() if isinstance(node, dict)]
    prompt = sum(int(node.get("prompt_tokens") or 0) for node in nodes)
    completion = sum(int(node.get("completion_tokens") or 0) for node in nodes)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def finish_reason(result: dict[str, Any]) -> str:
    return "length" if result.get("truncated") or result.get("status") == "truncated" else "stop"


def final_delta(result: dict[str, Any], content: str, reasoning_content: str) -> dict[str, Any]:
    """The last chunk's delta: what of the final answer and thinking the tokens did not carry."""
    answer, reasoning = result.get("answer") or "", result.get("reasoning") or ""
    delta: dict[str, Any] = {}
    if answer.startswith(content) and answer != content:
        delta["content"] = answer[len(content):]
    if reasoning and not reasoning_content:
        delta["reasoning_content"] = reasoning
    return delta


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)


class Completion:
    """Builds the OpenAI objects (response and stream chunks) of one answer."""

    def __init__(self, thread_id: str) -> None:
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self.thread_id = thread_id

    def response(self, result: dict[str, Any]) -> dict[str, Any]:
        message = {"role": "assistant", "content": result.get("answer") or "",
                   "reasoning_content": result.get("reasoning")}
        return {"id": self.id, "object": "chat.completion", "created": self.created, "model": MODEL_ID,
                "choices": [{"index": 0, "message": message, "finish_reason": finish_reason(result),
                             "logprobs": None}],
                "usage": token_usage(result), "corecover": corecover_fields(result, self.thread_id)}

    def chunk(self, delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        return dumps({"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                      "model": MODEL_ID,
                      "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
                      **extra})

    def usage_chunk(self, result: dict[str, Any]) -> str:
        return dumps({"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                      "model": MODEL_ID, "choices": [], "usage": token_usage(result)})


class ThinkingSplitter:
    """Splits streamed model text into ``reasoning_content`` and ``content`` deltas when the text
    opens with a thinking tag (``<think>``...), holding back only what could be a split tag."""

    def __init__(self) -> None:
        self.mode, self.buffer, self.close_tag = "start", "", ""

    def feed(self, text: str) -> list[tuple[str, str]]:
        self.buffer += text
        out: list[tuple[str, str]] = []
        if self.mode == "start":
            head = self.buffer.lstrip()
            opened = next(((o, c) for o, c in THINK_TAGS if head.startswith(o)), None)
            if opened:
                self.mode, self.close_tag, self.buffer = "thinking", opened[1], head[len(opened[0]):]
            elif not head or any(o.startswith(head) for o, _ in THINK_TAGS):
                return out
            else:
                self.mode = "content"
        if self.mode == "thinking":
            end = self.buffer.find(self.close_tag)
            if end < 0:
                cut = max(0, len(self.buffer) - len(self.close_tag) + 1)
                out.append(("reasoning_content", self.buffer[:cut]))
                self.buffer = self.buffer[cut:]
                return [(k, v) for k, v in out if v]
            out.append(("reasoning_content", self.buffer[:end]))
            self.mode, self.buffer = "content", self.buffer[end + len(self.close_tag):].lstrip()
        out.append(("content", self.buffer))
        self.buffer = ""
        return [(k, v) for k, v in out if v]

    def flush(self) -> list[tuple[str, str]]:
        rest, self.buffer = self.buffer, ""
        return [("reasoning_content" if self.mode == "thinking" else "content", rest)] if rest else []
