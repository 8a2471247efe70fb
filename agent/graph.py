"""The agent graph, whole on one screen.

    condense ─► route ─┬─► reason ───────────────────────────┬─► finalize
                       │                (low confidence) ──► escalate ─┤
                       └─► retrieve ─► grade ─┬─► answer ──────────────┤
                                              ├─► escalate ────────────┤
                                              └─► reason (mixed: facts + computation)
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph

from agent.components import Components
from agent.config import Settings
from agent.nodes import Nodes, after_grade, after_route
from agent.state import AgentState


def build_graph(config: Settings | None = None, checkpointer: Any = None, *, reasoner: Any = None,
                knowledge: Any = None, retriever: Any = None, router: Any = None) -> Any:
    """Compile the agent graph.

    Args:
        config: settings (default: ``CORECOVER_*`` env vars and the TOML file).
        checkpointer: a LangGraph checkpointer for multi-turn threads (e.g. SQLite).
        reasoner: a ``ChatBackend`` or backend spec for verifiable reasoning.
        knowledge: a ``ChatBackend`` or spec of the larger model used when retrieval cannot ground.
        retriever: any object with ``search(query, k, mode, query_vector)`` and an ``embedder``.
        router: any object with ``predict(question, vector) -> decision(route, scores)``.

    Invoke with ``{"question": "..."}`` (optionally ``forced_route`` and ``options``); the answer
    object is in the output's ``result``.
    """
    nodes = Nodes(Components.create(config, reasoner=reasoner, knowledge=knowledge,
                                    retriever=retriever, router=router))
    graph = StateGraph(AgentState)
    for name in ("condense", "route", "reason", "retrieve", "grade", "answer", "escalate", "finalize"):
        graph.add_node(name, getattr(nodes, name))
    graph.add_edge(START, "condense")
    graph.add_edge("condense", "route")
    graph.add_conditional_edges("route", after_route, ["reason", "retrieve"])
    graph.add_edge("retrieve", "grade")
    graph.add_conditional_edges("grade", after_grade, ["reason", "answer", "escalate"])
    graph.add_conditional_edges("reason", nodes.after_reason, ["escalate", "finalize"])
    graph.add_edge("answer", "finalize")
    graph.add_edge("escalate", "finalize")
    graph.add_edge("finalize", END)
    return graph.compile(checkpointer=checkpointer, name="corecover")


def studio_graph() -> Any:
    """The graph for ``langgraph dev`` / LangGraph Studio (the server brings its own checkpointer)."""
    return build_graph()
