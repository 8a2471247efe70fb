"""The corecover agent: a LangGraph graph that sends verifiable reasoning to a small local
reasoner and open-domain knowledge to retrieval (and, when configured, a larger model).

Entry points: :func:`agent.graph.build_graph` for apps, the ``corecover`` command
(:mod:`agent.cli`), and the OpenAI-compatible server with its chat page (:mod:`agent.server`).
"""
