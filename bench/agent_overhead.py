"""Agent overhead per question: end-to-end time minus the time spent inside model, embedding,
router and retrieval calls, side by side with LangGraph's own floor (the same graph shape with
no-op nodes and the same SQLite checkpointer) in one run.

    .venv/bin/python bench/agent_overhead.py [--rounds 3] [--max-tokens 48]

Targets: overhead ≤ 1.2 × the floor and < 2 % of end-to-end time.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.graph import END, START, StateGraph

from agent.config import Settings
from agent.runner import AgentRunner
from agent.state import AgentState

QUESTIONS = [
    ("What is 17 * 23?", None),
    ("Solve for x: 3x + 7 = 22.", None),
    ("Who painted the Mona Lisa?", None),
    ("What is the capital of France?", None),
    ("How many years passed between the birth of Isaac Newton and the birth of Albert Einstein?", None),
    ("How tall is Mount Everest in kilometres, rounded to one decimal?", "mixed"),
]


class Stopwatch:
    """Adds up the seconds spent inside the wrapped objects' methods."""

    def __init__(self) -> None:
        self.inside = 0.0

    def wrap(self, obj: Any, names: tuple[str, ...]) -> Any:
        watch = self
        for name in names:
            method = getattr(obj, name)
            if asyncio.iscoroutinefunction(method):
                async def timed_async(*a, _m=method, **k):
                    t = time.perf_counter()
                    try:
                        return await _m(*a, **k)
                    finally:
                        watch.inside += time.perf_counter() - t
                setattr(obj, name, timed_async)
            elif name in ("stream", "astream"):
                continue
            else:
                def timed(*a, _m=method, **k):
                    t = time.perf_counter()
                    try:
                        return _m(*a, **k)
                    finally:
                        watch.inside += time.perf_counter() - t
                setattr(obj, name, timed)
        return obj


def timed_streams(watch: Stopwatch, backend: Any) -> None:
    """Time the sync and async streams (the loop guard drives the sync one from a thread)."""
    sync = backend.stream

    def stream(*a, **k):
        t = time.perf_counter()
        for chunk in sync(*a, **k):
            watch.inside += time.perf_counter() - t
            yield chunk
            t = time.perf_counter()
        watch.inside += time.perf_counter() - t
    backend.stream = stream
    original = backend.astream

    async def astream(*a, **k):
        t = time.perf_counter()
        async for chunk in original(*a, **k):
            watch.inside += time.perf_counter() - t
            yield chunk
            t = time.perf_counter()
        watch.inside += time.perf_counter() - t
    backend.astream = astream


async def measure_agent(rounds: int, max_tokens: int, db: Path) -> tuple[list[float], list[float], list[float]]:
    from agent.components import Components

    settings = Settings(checkpoint_db=db, reasoner_max_tokens=max_tokens, reasoner_temperature=0.0)
    parts = Components.create(settings)
    watch = Stopwatch()
    reasoner = watch.wrap(parts.reasoner.get(), ("agenerate", "generate"))
    timed_streams(watch, reasoner)
    index = watch.wrap(parts.retriever.get(), ("search",))
    embedder = watch.wrap(parts.embedder.get(), ("encode", "encode_query"))
    router = watch.wrap(parts.router.get(), ("predict",))
    runner = AgentRunner(settings, reasoner=reasoner, retriever=index, router=router)
    index.embedder = embedder
    await runner.ainvoke("warm up: what is 1 + 1?", route="reason")
    totals, overheads, shares = [], [], []
    for _ in range(rounds):
        for question, route in QUESTIONS:
            watch.inside = 0.0
            start = time.perf_counter()
            await runner.ainvoke(question, thread_id=uuid.uuid4().hex, route=route)
            total = time.perf_counter() - start
            totals.append(total)
            overheads.append(total - watch.inside)
            shares.append((total - watch.inside) / total)
    await runner.aclose()
    return totals, overheads, shares


async def measure_floor(rounds: int, db: Path, linear: bool) -> list[float]:
    """LangGraph alone: no-op nodes, the same checkpointer; the agent's shape or a 6-node line."""
    import aiosqlite

    async def noop(state: AgentState) -> dict:
        return {}

    graph = StateGraph(AgentState)
    if linear:
        names = [f"n{i}" for i in range(6)]
        for n in names:
            graph.add_node(n, noop)
        for a, b in zip([START, *names], [*names, END], strict=True):
            graph.add_edge(a, b)
    else:
        for n in ("condense", "route", "reason", "retrieve", "grade", "answer", "escalate", "finalize"):
            graph.add_node(n, noop)
        graph.add_edge(START, "condense")
        graph.add_edge("condense", "route")
        graph.add_conditional_edges("route", lambda s: "retrieve", ["reason", "retrieve"])
        graph.add_edge("retrieve", "grade")
        graph.add_conditional_edges("grade", lambda s: "answer", ["reason", "answer", "escalate"])
        for n in ("reason", "answer", "escalate"):
            graph.add_edge(n, "finalize")
        graph.add_edge("finalize", END)
    async with aiosqlite.connect(str(db)) as conn:
        saver = AsyncSqliteSaver(conn)
        await saver.setup()
        compiled = graph.compile(checkpointer=saver)
        times = []
        for _ in range(rounds * len(QUESTIONS) + 3):
            start = time.perf_counter()
            await compiled.ainvoke({"question": "x"}, {"configurable": {"thread_id": uuid.uuid4().hex}})
            times.append(time.perf_counter() - start)
    return times[3:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=48)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        floor = asyncio.run(measure_floor(args.rounds, tmp_path / "floor.sqlite", linear=False))
        line = asyncio.run(measure_floor(args.rounds, tmp_path / "line.sqlite", linear=True))
        totals, overheads, shares = asyncio.run(measure_agent(args.rounds, args.max_tokens, tmp_path / "a.sqlite"))
    med = statistics.median
    print(f"{'what':<52}{'median ms':>12}")
    print(f"{'LangGraph floor: 6-node line, SQLite checkpointer':<52}{med(line) * 1e3:>12.2f}")
    print(f"{'LangGraph floor: agent shape, no-op nodes, SQLite':<52}{med(floor) * 1e3:>12.2f}")
    print(f"{'agent end-to-end':<52}{med(totals) * 1e3:>12.1f}")
    print(f"{'agent overhead (end-to-end minus model/retrieval)':<52}{med(overheads) * 1e3:>12.2f}")
    print(f"overhead / floor (agent shape): {med(overheads) / med(floor):.2f}x   (target <= 1.2x)")
    print(f"overhead share of end-to-end:   {med(shares) * 100:.2f} %   (target < 2 %)")
    print(f"questions: {len(QUESTIONS)} x {args.rounds} rounds, max_tokens {args.max_tokens}")


if __name__ == "__main__":
    main()
