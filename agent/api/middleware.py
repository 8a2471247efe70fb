"""Limits applied before a request reaches a route: the body size (413) and the number of
completions answered at once (429, refused at once with ``Retry-After``, never queued)."""

from __future__ import annotations

from typing import Any

from agent.api.errors import ApiError


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
