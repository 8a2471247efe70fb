"""A streamed answer over SSE in OpenAI's chunk format, ending with ``data: [DONE]``.

The agent runs in its own task feeding a queue. Nothing is sent until the first answer token
(or the finished answer): a failure before it — a dead backend, an unavailable thread store, a
deadline, another user's thread — is an ordinary HTTP error (502, 503, 504, 404...), never a
200 stream. The step events that came before are then sent first. A failure after the first
token can only be told inside the stream: an ``{"error": {...}}`` data event (OpenAI's error
shape), then ``[DONE]``; the turn is not saved.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from sse_starlette import EventSourceResponse

from agent.api.errors import ApiError, error_for
from agent.api.models import ChatCompletionRequest
from agent.api.responses import (
    Completion,
    ThinkingSplitter,
    corecover_fields,
    dumps,
    final_delta,
    finish_reason,
)

_END = object()


async def stream_answer(server: Any, agent: Any, body: ChatCompletionRequest, question: str,
                        thread_id: str, owner: str | None, who: str) -> EventSourceResponse:
    """Start the agent, wait for its first token, and return the SSE response (or raise the error)."""
    queue: asyncio.Queue[Any] = asyncio.Queue()

    async def produce() -> None:
        try:
            async with asyncio.timeout(server.settings.request_timeout):
                async for event in agent.astream(question, thread_id=thread_id, route=body.route, owner=owner):
                    queue.put_nowait(event)
        except Exception as exc:
            queue.put_nowait(error_for(exc))
        finally:
            queue.put_nowait(_END)

    task = asyncio.create_task(produce())
    task.add_done_callback(lambda _: server.gate.leave())
    held: list[Any] = []
    try:
        while True:
            item = await queue.get()
            if isinstance(item, ApiError):
                raise item
            held.append(item)
            if item is _END or item.get("type") in ("token", "result"):
                break
    except BaseException:  # an error, or the client left: stop the agent too
        task.cancel()
        raise
    completion = Completion(thread_id)
    include_usage = bool(body.stream_options and body.stream_options.include_usage)

    async def events() -> AsyncIterator[dict[str, str]]:
        splitter, streamed = ThinkingSplitter(), {"content": "", "reasoning_content": ""}
        try:
            yield {"data": completion.chunk({"role": "assistant", "content": ""},
                                            corecover={"thread_id": thread_id})}
            while True:
                item = held.pop(0) if held else await queue.get()
                if item is _END:
                    break
                if isinstance(item, ApiError):
                    yield {"data": dumps(item.body())}
                elif item.get("type") == "token" and item.get("text"):
                    for field, text in splitter.feed(item["text"]):
                        streamed[field] += text
                        yield {"data": completion.chunk({field: text})}
                elif item.get("type") == "step":
                    yield {"data": completion.chunk({}, corecover={
                        "event": "step", "node": item.get("node"), "data": item.get("data")})}
                elif item.get("type") == "result":
                    for field, text in splitter.flush():
                        streamed[field] += text
                        yield {"data": completion.chunk({field: text})}
                    result = item["result"]
                    yield {"data": completion.chunk(final_delta(result, **streamed), finish_reason(result),
                                                    corecover=corecover_fields(result, thread_id, full=True))}
                    if include_usage:
                        yield {"data": completion.usage_chunk(result)}
                    server.memory.remember_answer(who, body, thread_id, result.get("answer") or "",
                                                  streamed["content"])
            yield {"data": "[DONE]"}
        finally:
            if not task.done():
                task.cancel()

    return EventSourceResponse(events(), sep="\n", ping=15, headers={"X-Thread-Id": thread_id})
