"""The agent behind an OpenAI-compatible HTTP API, plus the chat page.

Routes: ``POST /v1/chat/completions`` (streaming over SSE in OpenAI chunk format, ending
with ``data: [DONE]``), ``GET /v1/models``, ``GET /healthz``, the chat page at ``/``, and
``GET /api/threads`` / ``GET /api/threads/{id}`` for the page's history list.

Model: the agent is the one model, ``corecover``; any other model name is a 404.
What the agent adds to an answer (route, escalation, citations, verification, per-node
usage, thread id) rides in a top-level ``corecover`` object of the response and of the
first and last stream chunks; the thinking text is ``message.reasoning_content``.
OpenAI clients ignore both. Sampling parameters of the request (``temperature``,
``max_tokens``...) are accepted and ignored: the agent samples each backend with its
configured settings.

Threads. The agent keeps each conversation in its checkpointer and only ever gets the
newest user message as the question; earlier turns come from the thread. The thread is
chosen in this order:

1. an explicit id: the ``X-Thread-Id`` header, else a ``thread_id`` field in the body;
2. a continued conversation: OpenAI clients resend the whole history, so after each answer
   the server remembers ``hash(user, messages so far + the answer) -> thread``; a request
   whose earlier messages hash to a remembered key continues that thread (system
   messages are left out of the hash; the memory is per process, last 10,000 turns);
3. otherwise a new thread.

The id in effect comes back in the ``X-Thread-Id`` response header and in ``corecover``.

Limits: an optional API key (``Authorization: Bearer``, on ``/v1`` and ``/api``),
``max_body_bytes`` (413), ``request_timeout`` (504), ``max_concurrency`` completions at
once (more get a 429 at once, with ``Retry-After``). A dead backend is a 502.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import secrets
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from sse_starlette import EventSourceResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from agent.config import Settings, get_settings
from reasoner.base import BackendError
from reasoner.parsing import THINK_TAGS

log = logging.getLogger("corecover.server")

MODEL_ID = "corecover"
STATIC_DIR = Path(__file__).resolve().parent / "static"
THREAD_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
MAX_QUESTION_CHARS = 8000
REMEMBERED_TURNS = 10_000


# ---------------------------------------------------------------- errors


class ApiError(Exception):
    """An error answered as OpenAI does: ``{"error": {message, type, param, code}}``."""

    def __init__(self, status: int, message: str, type_: str = "invalid_request_error",
                 code: str | None = None, param: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.param = status, message, type_, code, param
        self.headers = headers

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param,
                          "code": self.code}}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def error_for(exc: BaseException) -> ApiError:
    """The HTTP error for an exception raised while the agent answers."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, TimeoutError):
        return ApiError(504, "the agent did not answer within request_timeout "
                        "(raise CORECOVER_REQUEST_TIMEOUT or ask a shorter question)",
                        "timeout_error", "request_timeout")
    if isinstance(exc, BackendError):
        return ApiError(502, f"model backend failed: {exc}", "api_error", "backend_error")
    if isinstance(exc, RuntimeError):
        return ApiError(503, f"agent unavailable: {exc}", "api_error", "agent_unavailable")
    if isinstance(exc, ValueError):
        return ApiError(400, str(exc), code="invalid_value")
    log.exception("unexpected error while answering", exc_info=exc)
    return ApiError(500, f"internal error: {type(exc).__name__}", "api_error", "internal_error")


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    """OpenAI's error shape."""

    error: ErrorDetail


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorResponse} for status in statuses}


# ---------------------------------------------------------------- request schema


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    name: str | None = None

    def text(self) -> str:
        """The message's text (text parts joined; images and other parts left out)."""
        if isinstance(self.content, list):
            return "\n".join(part.text for part in self.content if part.type == "text" and part.text)
        return self.content or ""


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """OpenAI's chat request; ``thread_id`` and ``route`` are corecover extensions."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [
        {"model": MODEL_ID, "messages": [{"role": "user", "content": "What is 17 * 23?"}]},
        {"model": MODEL_ID, "stream": True, "messages": [{"role": "user", "content": "Who painted the Mona Lisa?"}]},
    ]})
    model: str
    messages: list[ChatMessage] = Field(min_length=1, max_length=2000)
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = Field(None, max_length=256)
    thread_id: str | None = Field(None, pattern=THREAD_ID_PATTERN,
                                  description="corecover: conversation thread to continue")
    route: Literal["reason", "knowledge", "mixed"] | None = Field(
        None, description="corecover: force a route instead of the router's choice")
    n: int | None = Field(None, ge=1, le=1, description="only 1: the agent gives one answer")
    max_tokens: int | None = Field(None, ge=1, description="accepted, ignored")
    max_completion_tokens: int | None = Field(None, ge=1, description="accepted, ignored")
    temperature: float | None = Field(None, ge=0, le=2, description="accepted, ignored")
    top_p: float | None = Field(None, ge=0, le=1, description="accepted, ignored")

    def question(self) -> str:
        """The newest user message: the question the agent answers."""
        last = self.messages[-1]
        text = last.text().strip()
        if last.role != "user" or not text:
            raise ApiError(400, "the last message must be a user message with text (the question)",
                           param="messages")
        if len(text) > MAX_QUESTION_CHARS:
            raise ApiError(400, f"the question is {len(text)} characters; at most {MAX_QUESTION_CHARS}",
                           param="messages", code="question_too_long")
        return text


# ---------------------------------------------------------------- threads


def conversation_key(user: str | None, turns: list[tuple[str, str]]) -> str:
    """A stable key of a conversation so far (user and assistant turns only)."""
    payload = json.dumps([user or "", [(role, text.strip()) for role, text in turns
                                       if role in ("user", "assistant")]], ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


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


def resolve_thread(request: ChatCompletionRequest, header: str | None,
                   memory: ConversationMemory) -> str:
    """The thread a request belongs to (see the module docstring for the order)."""
    if header is not None:
        if not re.match(THREAD_ID_PATTERN, header):
            raise ApiError(400, "X-Thread-Id must be 1-128 characters of A-Z a-z 0-9 . _ : -",
                           param="X-Thread-Id")
        return header
    if request.thread_id:
        return request.thread_id
    earlier = [(m.role, m.text()) for m in request.messages[:-1]]
    if any(role == "assistant" for role, _ in earlier):
        found = memory.find(conversation_key(request.user, earlier))
        if found:
            return found
    return f"t-{uuid.uuid4().hex[:20]}"


# ---------------------------------------------------------------- concurrency


class Gate:
    """At most ``limit`` completions at once; the rest are refused, not queued."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_flight = 0

    def enter(self) -> None:
        if self.in_flight >= self.limit:
            raise ApiError(429, f"the server is answering {self.limit} requests already; retry shortly",
                           "rate_limit_error", "too_many_requests", headers={"Retry-After": "1"})
        self.in_flight += 1

    def leave(self) -> None:
        self.in_flight -= 1


# ---------------------------------------------------------------- body limit


class BodyLimitMiddleware:
    """Answer 413 to any request body larger than ``limit`` bytes: at once when the declared
    ``Content-Length`` is too large, else after reading at most ``limit`` bytes of a chunked body."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = ApiError(413, f"request body larger than {self.limit} bytes "
                             "(CORECOVER_MAX_BODY_BYTES)", code="request_too_large")
        headers = dict(scope.get("headers") or {})
        declared = headers.get(b"content-length")
        if declared is not None:
            if declared.isdigit() and int(declared) > self.limit:
                await too_large.response()(scope, receive, send)
                return
            await self.app(scope, receive, send)  # the HTTP server delivers no more than declared
            return
        if b"chunked" not in headers.get(b"transfer-encoding", b""):
            await self.app(scope, receive, send)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body += message.get("body", b"")
            if len(body) > self.limit:
                await too_large.response()(scope, receive, send)
                return
            if not message.get("more_body"):
                break
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)


# ---------------------------------------------------------------- answer formatting


def corecover_fields(result: dict[str, Any], thread_id: str, full: bool = False) -> dict[str, Any]:
    """The agent's extras for the ``corecover`` object of a response (``full``: with the answer
    and thinking too, for the last stream chunk, so a page can repaint from the final text)."""
    keys = ("answer", "reasoning") * full + (
        "route", "route_scores", "escalated", "standalone_question", "final_answer", "citations", "status",
        "grounded", "verified", "notes", "usage")
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


def finish_reason(result: dict[str, Any]) -> str:
    return "length" if result.get("truncated") or result.get("status") == "truncated" else "stop"


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


# ---------------------------------------------------------------- the app


_END = object()


def create_app(runner: Any = None, settings: Settings | None = None) -> FastAPI:
    """The FastAPI app. Without ``runner`` it builds an ``AgentRunner`` at start-up and closes it
    at shut-down; a given runner is used as is and left open."""
    settings = settings or get_settings()
    gate = Gate(settings.max_concurrency)
    memory = ConversationMemory()
    api_key = settings.api_key.get_secret_value() if settings.api_key else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = app.state.runner is None
        if owned:
            from agent.runner import AgentRunner

            app.state.runner = AgentRunner(settings=settings)
        try:
            yield
        finally:
            if owned:
                await app.state.runner.aclose()

    app = FastAPI(title="corecover", version="0.1.0", lifespan=lifespan,
                  description="The corecover agent behind an OpenAI-compatible API.")
    app.state.runner = runner
    app.state.settings = settings
    app.state.gate = gate
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)

    @app.exception_handler(ApiError)
    async def on_api_error(request: Request, exc: ApiError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        if first.get("type") == "json_invalid":
            return ApiError(400, f"the body is not valid JSON: {first.get('ctx', {}).get('error', '')}",
                            code="invalid_json").response()
        loc = [str(part) for part in first.get("loc", ()) if part != "body"]
        param = ".".join(loc) or None
        message = f"{param}: {first.get('msg')}" if param else str(first.get("msg", "invalid request"))
        return ApiError(400, message, param=param, code="invalid_value").response()

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
        return ApiError(exc.status_code, str(exc.detail), code=code, headers=exc.headers).response()

    bearer = HTTPBearer(auto_error=False, description="the server's API key, when it has one")

    async def check_key(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        if api_key is None:
            return
        given = credentials.credentials if credentials else ""
        if not secrets.compare_digest(given.encode(), api_key.encode()):
            raise ApiError(401, "missing or wrong API key: send `Authorization: Bearer <key>`",
                           code="invalid_api_key")

    def the_runner() -> Any:
        if app.state.runner is None:
            raise ApiError(503, "the agent is starting", "api_error", "agent_unavailable")
        return app.state.runner

    v1 = APIRouter(prefix="/v1", dependencies=[Depends(check_key)],
                   responses=error_responses(400, 401))
    page_api = APIRouter(prefix="/api", dependencies=[Depends(check_key)],
                         responses=error_responses(400, 401))

    def model_card() -> dict[str, Any]:
        return {"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "corecover"}

    @v1.get("/models")
    async def list_models() -> dict[str, Any]:
        """The agent is the one model."""
        return {"object": "list", "data": [model_card()]}

    @v1.get("/models/{model}", responses=error_responses(404))
    async def get_model(model: str) -> dict[str, Any]:
        if model != MODEL_ID:
            raise unknown_model(model)
        return model_card()

    @v1.post("/chat/completions",
             responses={200: {"content": {"text/event-stream": {}}},
                        **error_responses(404, 413, 429, 502, 503, 504)})
    async def chat_completions(body: ChatCompletionRequest,
                               x_thread_id: str | None = Header(None, max_length=128)) -> Any:
        """Answer the newest user message with the agent (streamed when ``stream`` is true)."""
        if body.model != MODEL_ID:
            raise unknown_model(body.model)
        question = body.question()
        thread_id = resolve_thread(body, x_thread_id, memory)
        agent = the_runner()
        gate.enter()
        if body.stream:
            return await stream_answer(agent, body, question, thread_id)
        try:
            async with asyncio.timeout(settings.request_timeout):
                result = await agent.ainvoke(question, thread_id=thread_id, route=body.route)
        except Exception as exc:
            raise error_for(exc) from exc
        finally:
            gate.leave()
        remember(body, thread_id, result.get("answer") or "")
        return JSONResponse(Completion(thread_id).response(result), headers={"X-Thread-Id": thread_id})

    def remember(body: ChatCompletionRequest, thread_id: str, *answers: str) -> None:
        turns = [(m.role, m.text()) for m in body.messages]
        for answer in {a for a in answers if a}:
            memory.remember(conversation_key(body.user, [*turns, ("assistant", answer)]), thread_id)

    async def stream_answer(agent: Any, body: ChatCompletionRequest, question: str,
                            thread_id: str) -> Any:
        """Run the agent in its own task, feeding a queue; errors before the first event
        become an HTTP error, later ones an ``error`` chunk."""
        queue: asyncio.Queue[Any] = asyncio.Queue()

        async def produce() -> None:
            try:
                async with asyncio.timeout(settings.request_timeout):
                    async for event in agent.astream(question, thread_id=thread_id, route=body.route):
                        queue.put_nowait(event)
            except Exception as exc:
                queue.put_nowait(error_for(exc))
            finally:
                queue.put_nowait(_END)

        task = asyncio.create_task(produce())
        task.add_done_callback(lambda _: gate.leave())
        try:
            first = await queue.get()
        except BaseException:  # the client left or the server is stopping: stop the agent too
            task.cancel()
            raise
        if isinstance(first, ApiError):
            raise first
        completion = Completion(thread_id)
        include_usage = bool(body.stream_options and body.stream_options.include_usage)

        async def events() -> AsyncIterator[dict[str, str]]:
            splitter, streamed = ThinkingSplitter(), {"content": "", "reasoning_content": ""}
            item = first
            try:
                yield {"data": completion.chunk({"role": "assistant", "content": ""},
                                                corecover={"thread_id": thread_id})}
                while item is not _END:
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
                        remember(body, thread_id, result.get("answer") or "", streamed["content"])
                    item = await queue.get()
                yield {"data": "[DONE]"}
            finally:
                if not task.done():
                    task.cancel()

        return EventSourceResponse(events(), sep="\n", ping=15, headers={"X-Thread-Id": thread_id})

    @page_api.get("/threads")
    async def list_threads() -> dict[str, Any]:
        """Conversation threads, newest first: ``[{thread_id, title, updated}]``."""
        return {"data": await the_runner().threads()}

    @page_api.get("/threads/{thread_id}", responses=error_responses(404))
    async def thread_history(thread_id: str) -> dict[str, Any]:
        """The messages of one thread: ``[{role, content}]``."""
        if not re.match(THREAD_ID_PATTERN, thread_id):
            raise ApiError(404, f"no thread {thread_id!r}", code="thread_not_found")
        messages = await the_runner().history(thread_id)
        if not messages:
            raise ApiError(404, f"no thread {thread_id!r}", code="thread_not_found")
        return {"thread_id": thread_id, "messages": messages}

    @page_api.get("/info")
    async def info() -> dict[str, Any]:
        """What the page needs to know: the model id and whether math rendering is installed."""
        from agent.assets import katex_ready

        return {"model": MODEL_ID, "katex": katex_ready()}

    app.include_router(v1)
    app.include_router(page_api)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        """Liveness: ``ok`` once the agent is loaded."""
        return {"status": "ok" if app.state.runner is not None else "starting", "model": MODEL_ID,
                "in_flight": gate.in_flight, "max_concurrency": gate.limit}

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "ui.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")
    return app


def final_delta(result: dict[str, Any], content: str, reasoning_content: str) -> dict[str, Any]:
    """The last chunk's delta: what of the final answer and thinking the tokens did not carry."""
    answer, reasoning = result.get("answer") or "", result.get("reasoning") or ""
    delta: dict[str, Any] = {}
    if answer.startswith(content) and answer != content:
        delta["content"] = answer[len(content):]
    if reasoning and not reasoning_content:
        delta["reasoning_content"] = reasoning
    return delta


def unknown_model(model: str) -> ApiError:
    return ApiError(404, f"the model {model!r} does not exist; this server serves {MODEL_ID!r}",
                    param="model", code="model_not_found")


def serve(host: str | None = None, port: int | None = None, api_key: str | None = None) -> None:
    """Run the server with uvicorn (``corecover serve``). Arguments override the settings."""
    import uvicorn

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    settings = get_settings()
    updates: dict[str, Any] = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    if api_key:
        updates["api_key"] = SecretStr(api_key)
    settings = settings.model_copy(update=updates)
    if settings.host not in ("127.0.0.1", "localhost", "::1") and settings.api_key is None:
        log.warning("serving on %s without an API key: anyone who reaches it can use the agent",
                    settings.host)
    uvicorn.run(create_app(settings=settings), host=settings.host, port=settings.port,
                log_level="info", timeout_graceful_shutdown=5)
