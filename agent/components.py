"""The parts the graph runs on, created lazily: a question that only needs the reasoner never
loads the index, and a process builds each part once."""

from __future__ import annotations

import functools
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.config import Settings, get_settings
from reasoner import ChatBackend, load_backend


class Lazy:
    """A value made on first use by ``factory`` (thread-safe), or given ready-made."""

    def __init__(self, factory: Any, value: Any = None) -> None:
        self._factory, self._value, self._lock = factory, value, threading.Lock()

    def get(self) -> Any:
        if self._value is None:
            with self._lock:
                if self._value is None:
                    self._value = self._factory()
        return self._value

    @property
    def ready(self) -> bool:
        return self._value is not None


@dataclass
class Components:
    """Reasoner, optional larger knowledge model, retriever, router and embedder."""

    settings: Settings
    reasoner: Lazy
    knowledge: ChatBackend | None
    retriever: Lazy
    router: Lazy
    embedder: Lazy
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create(cls, settings: Settings | None = None, *, reasoner: ChatBackend | str | None = None,
               knowledge: ChatBackend | str | None = None, retriever: Any = None, router: Any = None,
               embedder: Any = None) -> Components:
        settings = settings or get_settings()
        embed = Lazy(lambda: _taken(("embedder", settings.embedding_model)) or _embedder(settings),
                     embedder or getattr(retriever, "embedder", None))
        spec = reasoner if isinstance(reasoner, str) else settings.reasoner
        return cls(
            settings=settings,
            reasoner=Lazy(lambda: _taken(("reasoner", spec)) or load_backend(spec),
                          reasoner if reasoner is not None and not isinstance(reasoner, str) else None),
            knowledge=_knowledge_backend(settings, knowledge),
            retriever=Lazy(lambda: _index(settings, embed.get()), retriever),
            router=Lazy(lambda: _router(settings, embed.get()), router),
            embedder=embed,
        )


# -- loading ahead ------------------------------------------------------------------------
_AHEAD: dict[tuple[str, str], Future] = {}
_AHEAD_LOCK = threading.Lock()


def prefetch(settings: Settings | None = None) -> None:
    """Start loading the reasoner, the query encoder and the router in background threads.

    A cold ``corecover ask`` spends ~1 s importing LangGraph; the model files load meanwhile
    (llama.cpp and onnxruntime do their work outside the GIL). The next :meth:`Components.create`
    with the same settings takes the loaded parts (a failed load raises there, as it would have).
    """
    settings = settings or get_settings()

    def router() -> Any:
        from agent.router import Router

        return Router.load(settings.router_path)

    def embedder() -> Any:
        made = _embedder(settings)
        _ = made.onnx if made.query_encoder == "onnx" else made.st
        return made

    for key, make in ((("reasoner", settings.reasoner), lambda: load_backend(settings.reasoner)),
                      (("embedder", settings.embedding_model), embedder),
                      (("router", str(settings.router_path)), router)):
        with _AHEAD_LOCK:
            if key in _AHEAD:
                continue
            _AHEAD[key] = future = Future()
        threading.Thread(target=_run, args=(future, make), name=f"prefetch-{key[0]}", daemon=True).start()


def _run(future: Future, make: Any) -> None:
    try:
        future.set_result(make())
    except BaseException as exc:  # handed to whoever takes the part
        future.set_exception(exc)


def _taken(key: tuple[str, str]) -> Any:
    """The part loaded ahead under ``key`` (waiting for it), or None when none was started."""
    with _AHEAD_LOCK:
        future = _AHEAD.pop(key, None)
    return future.result() if future is not None else None


@functools.lru_cache(maxsize=4)
def _shared_embedder(model: str) -> Any:
    from retriever import Embedder

    return Embedder(model)


def _embedder(settings: Settings) -> Any:
    """One embedder per model in a process (its query encoder loads once)."""
    return _shared_embedder(settings.embedding_model)


def _index(settings: Settings, embedder: Any) -> Any:
    """The configured index; the default one (built on first use) when none is configured."""
    from retriever import Index, RetrieverError, default_index_dir, load_default_index

    if settings.retriever_backend == "qdrant":  # the index exported to Qdrant, shared by replicas
        from retriever.qdrant import QdrantIndex

        if not settings.retriever_url:
            raise RetrieverError("retriever_backend is qdrant but no retriever_url is set "
                                 "(CORECOVER_RETRIEVER_URL: a Qdrant URL, or a folder for its local mode)")
        key = settings.retriever_api_key.get_secret_value() if settings.retriever_api_key else None
        index = QdrantIndex.open(settings.retriever_url, settings.retriever_collection, embedder, api_key=key)
        if settings.retriever_search_ef is not None:
            index.search_ef = settings.retriever_search_ef
    elif settings.index_dir is not None and Path(settings.index_dir).expanduser() != default_index_dir():
        index = Index.load(settings.index_dir, embedder=embedder)
    else:
        index = load_default_index(build_if_missing=True, progress=True)
        index.embedder = embedder
    index.rerank = settings.retrieve_rerank
    return index


def _router(settings: Settings, embedder: Any) -> Any:
    from agent.router import Router

    router = _taken(("router", str(settings.router_path))) or Router.load(settings.router_path)
    router.embedder = embedder
    if settings.route_threshold is not None:
        router.threshold = settings.route_threshold
    return router


def _knowledge_backend(settings: Settings, knowledge: ChatBackend | str | None) -> ChatBackend | None:
    if knowledge is not None:
        return load_backend(knowledge)
    if not settings.knowledge_base_url:
        return None
    api_key = settings.knowledge_api_key.get_secret_value() if settings.knowledge_api_key else None
    from reasoner.openai_api import OpenAIBackend

    return OpenAIBackend(settings.knowledge_base_url, model=settings.knowledge_model, api_key=api_key)
