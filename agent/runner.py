"""Run the graph for apps, the CLI and the web server: threads in SQLite or PostgreSQL, each
optionally owned by a user, and streaming events.

A turn is written to the thread store once, when the graph finishes (LangGraph's
``durability="exit"``): a database or backend that fails in the middle leaves the thread as it
was before the turn, never half a turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from typing import Any

from agent.config import Settings, get_settings
from agent.graph import build_graph
from agent.limits import ContextLengthExceeded, QuestionLimit, question_limit
from agent.store import StoreUnavailable, ThreadNotFound, mask_url, open_saver, store_errors, unavailable

ROUTES = ("reason", "knowledge", "mixed")
DURABILITY = "exit"


class AgentRunner:
    """The agent with a checkpointer: ``ainvoke`` for an answer, ``astream`` for events.

    ``owner``: with users configured, each thread belongs to the user who started it (stored in
    the checkpoint's metadata); another user's thread answers ``ThreadNotFound`` like an unknown
    one. ``owner=None`` (no users) sees and continues every thread, as a single-user server does.
    """

    def __init__(self, settings: Settings | None = None, **parts: Any) -> None:
        self.settings = settings or get_settings()
        self._parts = parts
        self._graph: Any = None
        self._stack: AsyncExitStack | None = None
        self._limit: QuestionLimit | None = None
        self._lock = asyncio.Lock()

    @property
    def store(self) -> str:
        """Where the threads are (a masked URL or the SQLite path)."""
        url = self.settings.checkpoint_url
        return mask_url(url) if url else str(self.settings.checkpoint_db)

    async def graph(self) -> Any:
        """The compiled graph, created on first use with its checkpointer."""
        async with self._lock:
            if self._graph is None:
                stack = AsyncExitStack()
                try:
                    saver = await stack.enter_async_context(open_saver(
                        self.settings.checkpoint_url, self.settings.checkpoint_db,
                        pool_size=self.settings.max_concurrency + 2))
                    # off the loop: a knowledge endpoint without a model name is asked for its models
                    self._graph = await asyncio.to_thread(build_graph, self.settings, saver, **self._parts)
                except BaseException:
                    await stack.aclose()
                    raise
                self._stack = stack
        return self._graph

    async def limit(self) -> QuestionLimit:
        """The question limit of the reasoner in use (its context; loads the reasoner once)."""
        if self._limit is None:
            from reasoner import load_backend

            reasoner = self._parts.get("reasoner") or self.settings.reasoner
            backend = await asyncio.to_thread(load_backend, reasoner) if isinstance(reasoner, str) else reasoner
            self._limit = question_limit(backend, self.settings)
        return self._limit

    async def check_question(self, question: str) -> None:
        """Raise ``ContextLengthExceeded`` for a question the reasoner's context cannot hold (the
        server asks before answering; the graph itself cuts an over-long question with a note)."""
        (await self.limit()).check(question)

    # -- answering ---------------------------------------------------------------------
    @staticmethod
    def _inputs(question: str, route: str | None, options: dict[str, Any]) -> dict[str, Any]:
        if route is not None and route not in ROUTES:
            raise ValueError(f"unknown route {route!r}: use one of {', '.join(ROUTES)}")
        return {"question": question, "forced_route": route, "options": options}

    @staticmethod
    def _config(thread_id: str | None, owner: str | None = None) -> tuple[str, dict[str, Any]]:
        thread_id = thread_id or uuid.uuid4().hex
        config: dict[str, Any] = {"configurable": {"thread_id": thread_id}}
        if owner is not None:
            config["metadata"] = {"owner": owner}
        return thread_id, config

    async def _prepare(self, question: str, route: str | None, thread_id: str | None, owner: str | None,
                       options: dict[str, Any]) -> tuple[Any, dict[str, Any], str, dict[str, Any]]:
        """Checks before anything is written: the route and the thread's owner."""
        inputs = self._inputs(question, route, options)
        graph = await self.graph()
        thread_id, config = self._config(thread_id, owner)
        if owner is not None:
            await self._check_owner(graph, thread_id, owner)
        return graph, config, thread_id, inputs

    async def ainvoke(self, question: str, thread_id: str | None = None, route: str | None = None,
                      owner: str | None = None, **options: Any) -> dict[str, Any]:
        """Answer one question on a thread (a new one when ``thread_id`` is None or unknown)."""
        with self._translated():
            graph, config, thread_id, inputs = await self._prepare(question, route, thread_id, owner, options)
            state = await graph.ainvoke(inputs, config, durability=DURABILITY)
        return {**state["result"], "thread_id": thread_id}

    async def astream(self, question: str, thread_id: str | None = None, route: str | None = None,
                      owner: str | None = None, **options: Any) -> AsyncIterator[dict[str, Any]]:
        """Events: ``step`` (a node finished), ``token`` (answer text), then ``result`` last, once the
        turn is saved."""
        with self._translated():
            graph, config, thread_id, inputs = await self._prepare(question, route, thread_id, owner, options)
            result = None
            async for mode, data in graph.astream(inputs, config, stream_mode=["updates", "custom"],
                                                  durability=DURABILITY):
                if mode == "custom" and "token" in data:
                    yield {"type": "token", "text": data["token"]}
                elif mode == "updates":
                    for node, update in data.items():
                        if node == "finalize":
                            result = {**update["result"], "thread_id": thread_id}
                        else:
                            yield {"type": "step", "node": node, "data": _step_summary(update or {})}
        if result is not None:
            yield {"type": "result", "result": result}

    def invoke(self, question: str, thread_id: str | None = None, route: str | None = None,
               **options: Any) -> dict[str, Any]:
        """Blocking :meth:`ainvoke` for scripts."""
        return asyncio.run(self._once(question, thread_id, route, **options))

    async def _once(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            return await self.ainvoke(*args, **kwargs)
        finally:
            await self.aclose()

    # -- threads -----------------------------------------------------------------------
    @staticmethod
    async def _check_owner(graph: Any, thread_id: str, owner: str) -> None:
        saved = await graph.checkpointer.aget_tuple({"configurable": {"thread_id": thread_id}})
        if saved is not None and (saved.metadata or {}).get("owner") != owner:
            raise ThreadNotFound(thread_id)

    async def history(self, thread_id: str, owner: str | None = None) -> list[dict[str, str]]:
        """The turns of a thread (empty for an unknown thread or another user's)."""
        with self._translated():
            graph = await self.graph()
            snapshot = await graph.aget_state({"configurable": {"thread_id": thread_id}})
        if owner is not None and (snapshot.metadata or {}).get("owner") != owner:
            return []
        return list((snapshot.values or {}).get("history", []))

    async def threads(self, limit: int = 50, owner: str | None = None) -> list[dict[str, Any]]:
        """Recent threads (the owner's only, when given), newest first: id, title (first question),
        updated (checkpoint time)."""
        seen: dict[str, dict[str, Any]] = {}
        with self._translated():
            graph = await self.graph()
            where = {"owner": owner} if owner is not None else None
            async for item in graph.checkpointer.alist(None, filter=where, limit=limit * 20):
                thread_id = item.config["configurable"]["thread_id"]
                if thread_id in seen:
                    continue
                history = item.checkpoint.get("channel_values", {}).get("history") or []
                if history:
                    seen[thread_id] = {"thread_id": thread_id, "title": history[0]["content"][:80],
                                       "updated": item.checkpoint.get("ts")}
                if len(seen) >= limit:
                    break
        return sorted(seen.values(), key=lambda t: t["updated"] or "", reverse=True)

    async def aclose(self) -> None:
        if self._stack is not None:
            stack, self._stack, self._graph = self._stack, None, None
            with contextlib.suppress(*store_errors()):
                await stack.aclose()

    @contextlib.contextmanager
    def _translated(self) -> Iterator[None]:
        """Database failures become ``StoreUnavailable``; a prompt over the reasoner's context
        (however it got there) ``ContextLengthExceeded``."""
        from reasoner.base import ContextLengthError

        try:
            yield
        except ContextLengthError as exc:
            raise ContextLengthExceeded(str(exc)) from exc
        except store_errors() as exc:
            raise unavailable(exc, self.store) from exc


def _step_summary(update: dict[str, Any]) -> dict[str, Any]:
    """The part of a node's update worth showing while it runs (no long texts)."""
    keep = ("standalone_question", "route", "route_scores", "relevant", "status", "escalated")
    out = {k: update[k] for k in keep if k in update}
    if "passages" in update:
        out["passages"] = [{"n": p["n"], "title": p["title"]} for p in update["passages"]]
    return out


__all__ = ["AgentRunner", "StoreUnavailable", "ThreadNotFound"]
