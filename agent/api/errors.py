"""Errors answered the way OpenAI answers them: ``{"error": {message, type, param, code}}``.

``error_for`` maps what the agent raises to a status: a dead model backend is 502, an
unavailable thread store or agent 503 (with ``Retry-After``), a deadline 504, a question the
reasoner's context cannot hold 400 ``context_length_exceeded``, another user's or an unknown
thread 404. Anything else is a 500 whose body names only the exception type.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from agent.limits import ContextLengthExceeded
from agent.store import StoreUnavailable, ThreadNotFound
from reasoner.base import BackendError

log = logging.getLogger("corecover.server")

RETRY_AFTER = "5"   # seconds a client waits after a 503


class ApiError(Exception):
    """An HTTP error with OpenAI's body."""

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


def thread_not_found(thread_id: str) -> ApiError:
    """The one answer for an unknown thread and for another user's thread."""
    return ApiError(404, f"no thread {thread_id!r}", code="thread_not_found", param="thread_id")


def error_for(exc: BaseException) -> ApiError:
    """The HTTP error for an exception raised while the agent answers."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, TimeoutError):
        return ApiError(504, "the agent did not answer within request_timeout "
                        "(raise CORECOVER_REQUEST_TIMEOUT or ask a shorter question)",
                        "timeout_error", "request_timeout")
    if isinstance(exc, ContextLengthExceeded):
        return ApiError(400, str(exc), code="context_length_exceeded", param="messages")
    if isinstance(exc, ThreadNotFound):
        return thread_not_found(exc.thread_id)
    if isinstance(exc, StoreUnavailable):
        return ApiError(503, str(exc), "api_error", "store_unavailable",
                        headers={"Retry-After": RETRY_AFTER})
    if isinstance(exc, BackendError):
        return ApiError(502, f"model backend failed: {exc}", "api_error", "backend_error")
    if isinstance(exc, RuntimeError):
        return ApiError(503, f"agent unavailable: {exc}", "api_error", "agent_unavailable",
                        headers={"Retry-After": RETRY_AFTER})
    if isinstance(exc, ValueError):
        return ApiError(400, str(exc), code="invalid_value")
    log.exception("unexpected error while answering", exc_info=exc)
    return ApiError(500, f"internal error: {type(exc).__name__}", "api_error", "internal_error")


def install_error_handlers(app: FastAPI) -> None:
    """Every error the app answers, including FastAPI's own 400/404/405, in OpenAI's shape."""

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
        message = str(first.get("msg", "invalid request")).removeprefix("Value error, ")
        if first.get("type") == "string_unicode":   # JSON may escape a lone surrogate: "\ud800"
            message = "holds a lone surrogate, which is not valid Unicode text: send UTF-8 text"
        return ApiError(400, f"{param}: {message}" if param else message, param=param,
                        code="invalid_value").response()

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
        return ApiError(exc.status_code, str(exc.detail), code=code, headers=exc.headers).response()
