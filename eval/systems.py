"""Systems that answer benchmark items: the small reasoner, a large model, retrieval + reasoner,
the full hybrid agent graph, and an oracle that forces the route each item's kind calls for.

Every system has ``name``, ``model`` and ``async answer(item, sampling, n) -> list[SampleOutput]``.
Heavy parts (models, the retrieval index, the agent graph) load lazily on first use.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from reasoner.base import Sampling

if TYPE_CHECKING:
    from eval.benchmarks import Item
    from reasoner.base import Completion

REASONING_KINDS = {"math", "mcq", "code", "ifeval"}


@dataclass
class SampleOutput:
    """One answer of a system to one item."""

    text: str
    final_answer: str | None
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    model: str
    route: str
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class System(Protocol):
    name: str
    model: str

    async def answer(self, item: Item, sampling: Sampling, n: int) -> list[SampleOutput]: ...


def _from_completion(c: Completion, route: str) -> SampleOutput:
    return SampleOutput(text=c.text, final_answer=c.final_answer, prompt_tokens=c.prompt_tokens,
                        completion_tokens=c.completion_tokens, seconds=c.latency_s, model=c.model or c.backend,
                        route=route, extra={"finish_reason": c.finish_reason, "truncated": c.truncated})


class ReasonerSystem:
    """The small reasoning model alone (any backend spec: ``llamacpp:embedded``, ``openai:…``)."""

    name, route = "reasoner", "reason"

    def __init__(self, backend: Any = "llamacpp:embedded", *, name: str | None = None,
                 spec: str | None = None) -> None:
        from reasoner import load_backend

        self.backend = load_backend(backend)
        self.model = self.backend.model
        self.spec = spec or (backend if isinstance(backend, str) else f"{self.backend.name}:{self.model}")
        if name:
            self.name = name  # a column label (e.g. "base", "specialist"): the run folder is named after it

    async def answer(self, item: Item, sampling: Sampling, n: int) -> list[SampleOutput]:
        completions = await self.backend.agenerate(item.prompt, sampling, n=n)
        return [_from_completion(c, self.route) for c in completions]


class LargeSystem(ReasonerSystem):
    """A larger general model alone over an OpenAI-compatible API: ``openai:BASE_URL?model=M``."""

    name, route = "large", "large"

    def __init__(self, backend: Any, **labels: Any) -> None:
        if not backend:
            raise ValueError("the large system needs --large openai:BASE_URL?model=NAME (any OpenAI-compatible "
                             "API); --backend names the small model and is not used in its place")
        super().__init__(backend, **labels)


RAG_TEMPLATE = ("Use the numbered passages to answer. If they do not contain the answer, answer from "
                "what you know.\n\n{passages}\n\n{prompt}")


class RagSystem:
    """Retrieval (the default index, or any object with ``search(q, k)``) and the small model."""

    name, route = "rag", "rag"

    def __init__(self, backend: Any = "llamacpp:embedded", index: Any = None, k: int = 5, *,
                 name: str | None = None, spec: str | None = None) -> None:
        self.reasoner = ReasonerSystem(backend, spec=spec)
        self.model = self.reasoner.model
        self.spec = self.reasoner.spec
        self._index, self.k = index, k
        if name:
            self.name = name

    @property
    def index(self) -> Any:
        if self._index is None:
            from retriever import load_default_index

            self._index = load_default_index()
        return self._index

    async def answer(self, item: Item, sampling: Sampling, n: int) -> list[SampleOutput]:
        query = item.metadata.get("question") if item.kind == "qa" else None
        start = time.perf_counter()
        hits = await asyncio.to_thread(self.index.search, query or item.prompt, self.k)
        search_s = time.perf_counter() - start
        passages = "\n".join(f"[{h.rank}] {h.title}: {h.text}" for h in hits)
        prompt = RAG_TEMPLATE.format(passages=passages, prompt=item.prompt)
        completions = await self.reasoner.backend.agenerate(prompt, sampling, n=n)
        outs = []
        for c in completions:
            out = _from_completion(c, self.route)
            out.seconds += search_s / len(completions)
            out.extra["citations"] = [h.id for h in hits]
            outs.append(out)
        return outs


class HybridSystem:
    """The full agent graph (:func:`agent.graph.build_graph`): it routes each question itself."""

    name = "hybrid"

    def __init__(self, backend: Any = None, large: Any = None, graph: Any = None, *, name: str | None = None,
                 spec: str | None = None) -> None:
        if graph is None:
            from agent.graph import build_graph

            graph = build_graph(reasoner=backend, knowledge=large)
        self.graph = graph
        self.spec = spec or (backend if isinstance(backend, str) else "agent-config")
        self.model = "hybrid"
        if name:
            self.name = name

    def forced_route(self, item: Item) -> str | None:
        return None

    async def answer(self, item: Item, sampling: Sampling, n: int) -> list[SampleOutput]:
        outs = []
        state: dict[str, Any] = {"question": item.prompt,
                                 "options": {"max_tokens": sampling.max_tokens, "temperature": sampling.temperature}}
        route = self.forced_route(item)
        if route:
            state["forced_route"] = route
        for i in range(n):
            start = time.perf_counter()
            seed = None if sampling.seed is None else sampling.seed + i  # a sample's seed, as backends do
            final = await self.graph.ainvoke({**state, "options": {**state["options"], "seed": seed}})
            result = final["result"]
            usage = result.get("usage") or {}
            total = usage.get("total", {})
            models = sorted({u["backend"] for k, u in usage.items() if k != "total" and u.get("backend")
                             and (u.get("prompt_tokens") or u.get("completion_tokens"))})
            outs.append(SampleOutput(
                text=result.get("answer", ""), final_answer=result.get("final_answer"),
                prompt_tokens=int(total.get("prompt_tokens", 0)),
                completion_tokens=int(total.get("completion_tokens", 0)),
                seconds=time.perf_counter() - start, model="+".join(models) or self.model,
                route=str(result.get("route")),
                extra={"escalated": result.get("escalated"), "grounded": result.get("grounded"),
                       "status": result.get("status"), "usage": usage}))
        return outs


class OracleSystem(HybridSystem):
    """The agent graph with the route forced by the item's kind (reasoning sets -> reasoner,
    knowledge sets -> retrieval): the best the router could do."""

    name = "oracle"

    def forced_route(self, item: Item) -> str | None:
        return "reason" if item.kind in REASONING_KINDS else "knowledge"


SYSTEMS = {"reasoner": ReasonerSystem, "large": LargeSystem, "rag": RagSystem, "hybrid": HybridSystem,
           "oracle": OracleSystem}


def make_system(name: str, backend: str | None = None, large: str | None = None) -> System:
    """Build a system by name; ``backend`` is the small model's spec, ``large`` the larger model's."""
    if name not in SYSTEMS:
        raise ValueError(f"unknown system {name!r}: use one of {', '.join(SYSTEMS)}")
    small = backend or "llamacpp:embedded"
    if name == "large":
        return LargeSystem(large)  # never the small --backend model under the large label
    if name in ("hybrid", "oracle"):
        return SYSTEMS[name](backend, large)
    return SYSTEMS[name](small)
