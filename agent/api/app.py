"""The FastAPI app and ``corecover serve``."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from pydantic import SecretStr

from agent.api.auth import KeyRing, KeysError
from agent.api.errors import RETRY_AFTER, ApiError, install_error_handlers
from agent.api.middleware import BodyLimitMiddleware, Gate
from agent.api.routes import STATIC_DIR, page_api, public, v1
from agent.api.threads import ConversationMemory
from agent.config import Settings, get_settings
from agent.store import StoreUnavailable

log = logging.getLogger("corecover.server")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass
class ServerState:
    """What the routes share: settings, keys, the concurrency gate, the conversation memory and
    the agent (None until it is loaded)."""

    settings: Settings
    keys: KeyRing
    gate: Gate
    runner: Any = None
    memory: ConversationMemory = field(default_factory=ConversationMemory)

    def agent(self) -> Any:
        if self.runner is None:
            raise ApiError(503, "the agent is starting", "api_error", "agent_unavailable",
                           headers={"Retry-After": RETRY_AFTER})
        return self.runner


def create_app(runner: Any = None, settings: Settings | None = None) -> FastAPI:
    """The FastAPI app. Without ``runner`` it builds an ``AgentRunner`` at start-up (opening the
    thread store, so an unreachable database fails the start) and closes it at shut-down; a given
    runner is used as is and left open. A malformed keys file raises ``KeysError`` here."""
    settings = settings or get_settings()
    server = ServerState(settings, KeyRing.from_settings(settings), Gate(settings.max_concurrency), runner)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = server.runner is None
        if owned:
            from agent.runner import AgentRunner

            agent = AgentRunner(settings=settings)
            await agent.graph()
            server.runner = agent
        try:
            yield
        finally:
            if owned:
                await server.runner.aclose()

    app = FastAPI(title="corecover", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None, description="The corecover agent behind an OpenAI-compatible API.")
    app.state.server = server
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)
    install_error_handlers(app)
    for router in (v1, page_api, public):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")
    return app


async def check_store(settings: Settings) -> None:
    """Open and close the thread store once (creating its tables): ``StoreUnavailable`` if it is down."""
    from agent.store import open_saver

    async with open_saver(settings.checkpoint_url, settings.checkpoint_db):
        pass


def serve(host: str | None = None, port: int | None = None, api_key: str | None = None) -> None:
    """Run the server with uvicorn (``corecover serve``). Arguments override the settings.
    A bad keys file or an unreachable database stops it at once with one line naming the cause."""
    import uvicorn

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    settings = get_settings()
    updates: dict[str, Any] = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    if api_key:
        updates["api_key"] = SecretStr(api_key)
    settings = settings.model_copy(update=updates)
    try:
        app = create_app(settings=settings)
        asyncio.run(check_store(settings))
    except (KeysError, StoreUnavailable, ValueError) as exc:
        raise SystemExit(f"corecover serve: {exc}") from None
    if settings.host not in LOOPBACK and not app.state.server.keys.required:
        log.warning("serving on %s without an API key: anyone who reaches it can use the agent",
                    settings.host)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info", timeout_graceful_shutdown=5)
