"""The routes: ``/v1`` (OpenAI's models and chat completions), ``/api`` (the chat page's thread
list, thread history and info), the API docs, ``/healthz`` and the page itself.

Every ``/v1`` and ``/api`` route, ``/docs`` and ``/openapi.json`` need the key when the server has
one; with users, a thread route answers only the caller's threads (another user's thread is a
404, the same as an unknown one). ``/healthz`` and the page stay open.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from agent.api.auth import current_user
from agent.api.errors import ApiError, error_for, thread_not_found
from agent.api.models import MODEL_ID, THREAD_ID_PATTERN, ChatCompletionRequest, error_responses
from agent.api.responses import Completion
from agent.api.streaming import stream_answer
from agent.api.threads import resolve_thread, speaker
from reasoner.base import BackendError

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"

v1 = APIRouter(prefix="/v1", responses=error_responses(400, 401))
page_api = APIRouter(prefix="/api", responses=error_responses(400, 401))
public = APIRouter()


def server_state(request: Request) -> Any:
    return request.app.state.server


def model_card() -> dict[str, Any]:
    return {"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "corecover"}


def unknown_model(model: str) -> ApiError:
    return ApiError(404, f"the model {model!r} does not exist; this server serves {MODEL_ID!r}",
                    param="model", code="model_not_found")


@v1.get("/models")
async def list_models(user: str | None = Depends(current_user)) -> dict[str, Any]:
    """The agent is the one model."""
    return {"object": "list", "data": [model_card()]}


@v1.get("/models/{model}", responses=error_responses(404))
async def get_model(model: str, user: str | None = Depends(current_user)) -> dict[str, Any]:
    if model != MODEL_ID:
        raise unknown_model(model)
    return model_card()


@v1.post("/chat/completions",
         responses={200: {"content": {"text/event-stream": {}}},
                    **error_responses(404, 413, 429, 502, 503, 504)})
async def chat_completions(body: ChatCompletionRequest,
                           x_thread_id: str | None = Header(None, max_length=128),
                           user: str | None = Depends(current_user),
                           server: Any = Depends(server_state)) -> Any:
    """Answer the newest user message with the agent (streamed when ``stream`` is true)."""
    if body.model != MODEL_ID:
        raise unknown_model(body.model)
    question = body.question()
    who = speaker(user, body)
    thread_id = resolve_thread(body, x_thread_id, server.memory, who)
    agent = server.agent()
    try:
        await agent.check_question(question)     # before any thread is touched
    except Exception as exc:
        raise error_for(exc) from exc
    server.gate.enter()
    if body.stream:
        return await stream_answer(server, agent, body, question, thread_id, user, who)
    try:
        async with asyncio.timeout(server.settings.request_timeout):
            result = await agent.ainvoke(question, thread_id=thread_id, route=body.route, owner=user)
    except Exception as exc:
        raise error_for(exc) from exc
    finally:
        server.gate.leave()
    server.memory.remember_answer(who, body, thread_id, result.get("answer") or "")
    return JSONResponse(Completion(thread_id).response(result), headers={"X-Thread-Id": thread_id})


@page_api.get("/threads", responses=error_responses(503))
async def list_threads(user: str | None = Depends(current_user),
                       server: Any = Depends(server_state)) -> dict[str, Any]:
    """The caller's conversation threads, newest first: ``[{thread_id, title, updated}]``."""
    try:
        return {"data": await server.agent().threads(owner=user)}
    except Exception as exc:
        raise error_for(exc) from exc


@page_api.get("/threads/{thread_id}", responses=error_responses(404, 503))
async def thread_history(thread_id: str, user: str | None = Depends(current_user),
                         server: Any = Depends(server_state)) -> dict[str, Any]:
    """The messages of one of the caller's threads: ``[{role, content}]``."""
    if not re.match(THREAD_ID_PATTERN, thread_id):
        raise thread_not_found(thread_id)
    try:
        messages = await server.agent().history(thread_id, owner=user)
    except Exception as exc:
        raise error_for(exc) from exc
    if not messages:
        raise thread_not_found(thread_id)
    return {"thread_id": thread_id, "messages": messages}


@page_api.get("/info")
async def info(user: str | None = Depends(current_user), server: Any = Depends(server_state)) -> dict[str, Any]:
    """What the page needs to know: the model id, who is asking, whether math rendering is
    installed, and how long a question may be."""
    from agent.assets import katex_ready

    limits: dict[str, Any] = {}
    with contextlib.suppress(BackendError, ApiError):  # the reasoner is down or loading: the page works
        limits = (await server.agent().limit()).public()
    return {"model": MODEL_ID, "katex": katex_ready(), "user": user, "users": server.keys.multi_user,
            **limits}


@public.get("/openapi.json", include_in_schema=False)
async def openapi(request: Request, user: str | None = Depends(current_user)) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@public.get("/docs", include_in_schema=False)
async def docs(user: str | None = Depends(current_user)) -> HTMLResponse:
    return get_swagger_ui_html(openapi_url="/openapi.json", title="corecover API")


@public.get("/healthz")
async def healthz(server: Any = Depends(server_state)) -> dict[str, Any]:
    """Liveness: ``ok`` once the agent is loaded."""
    return {"status": "ok" if server.runner is not None else "starting", "model": MODEL_ID,
            "in_flight": server.gate.in_flight, "max_concurrency": server.gate.limit}


@public.get("/", include_in_schema=False)
async def page() -> FileResponse:
    return FileResponse(STATIC_DIR / "ui.html", headers={"Cache-Control": "no-cache"})
