"""Run the graph for apps, the CLI and the web server: threads in SQLite, streaming events."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from agent.config import Settings, get_settings
from agent.graph import build_graph

ROUTES = ("reason", "knowledge", "mixed")


class AgentRunner:
    """The agent with a SQLite checkpointer: ``ainvoke`` for an answer, ``astream`` for events."""

    def __init__(self, settings: Settings | None = None, **parts: Any) -> None:
        self.settings = settings or get_settings()
        self._parts = parts
        self._graph: Any = None
        self._conn: Any = None
        self._lock = asyncio.Lock()

    async def graph(self) -> Any:
        """The compiled graph, created on first use with its SQLite checkpointer."""
        async with self._lock:
            if self._graph is None:
                import aiosqlite
                from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

                path = Path(self.settings.checkpoint_db)
                path.parent.mkdir(parents=True, exist_ok=True)
                conn = await aiosqlite.connect(str(path))
                try:
                    saver = AsyncSqliteSaver(conn)
                    await saver.setup()
                    # off the loop: a knowledge endpoint without a model name is asked for its models
                    self._graph = await asyncio.to_thread(build_graph, self.settings, saver, **self._parts)
                except BaseException:
                    await conn.close()
                    raise
                self._conn = conn
        return self._graph

    @staticmethod
    def _inputs(question: str, route: str | None, options: dict[str, Any]) -> dict[str, Any]:
        if route is not None and route not in ROUTES:
            raise ValueError(f"unknown route {route!r}: use one of {', '.join(ROUTES)}")
        return {"question": question, "forced_route": route, "options": options}

    @staticmethod
    def _config(thread_id: str | None) -> tuple[str, dict[str, Any]]:
        thread_id = thread_id or uuid.uuid4().hex
        return thread_id, {"configurable": {"thread_id": thread_id}}

    async def ainvoke(self, question: str, thread_id: str | None = None, route: str | None = None,
                      **options: Any) -> dict[str, Any]:
        """Answer one question on a thread (a new one when ``thread_id`` is None or unknown)."""
        thread_id, config = self._config(thread_id)
        state = await (await self.graph()).ainvoke(self._inputs(question, route, options), config)
        return {**state["result"], "thread_id": thread_id}

    async def astream(self, question: str, thread_id: str | None = None, route: str | None = None,
                      **options: Any) -> AsyncIterator[dict[str, Any]]:
        """Events: ``step`` (a node finished), ``token`` (answer text), then ``result`` last."""
        thread_id, config = self._config(thread_id)
        graph = await self.graph()
        result = None
        async for mode, data in graph.astream(self._inputs(question, route, options), config,
                                              stream_mode=["updates", "custom"]):
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

    async def history(self, thread_id: str) -> list[dict[str, str]]:
        """The turns of a thread (empty for an unknown thread)."""
        snapshot = await (await self.graph()).aget_state({"configurable": {"thread_id": thread_id}})
        return list((snapshot.values or {}).get("history", []))

    async def threads(self, limit: int = 50) -> list[dict[str, Any]]:
        """Recent threads, newest first: id, title (first question), updated (checkpoint time)."""
        graph = await self.graph()
        seen: dict[str, dict[str, Any]] = {}
        async for item in graph.checkpointer.alist(None, limit=limit * 20):
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
        if self._conn is not None:
            await self._conn.close()
            self._conn, self._graph = None, None


def _step_summary(update: dict[str, Any]) -> dict[str, Any]:
    """The part of a node's update worth showing while it runs (no long texts)."""
    keep = ("standalone_question", "route", "route_scores", "relevant", "status", "escalated")
    out = {k: update[k] for k in keep if k in update}
    if "passages" in update:
        out["passages"] = [{"n": p["n"], "title": p["title"]} for p in update["passages"]]
    return out
