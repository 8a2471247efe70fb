"""The agent behind an OpenAI-compatible HTTP API, plus the chat page.

Routes: ``POST /v1/chat/completions`` (streaming over SSE in OpenAI chunk format, ending with
``data: [DONE]``), ``GET /v1/models``, ``GET /healthz``, the chat page at ``/``, and
``GET /api/threads`` / ``GET /api/threads/{id}`` / ``GET /api/info`` for the page.

Model: the agent is the one model, ``corecover``; any other model name is a 404. What the
agent adds to an answer (route, escalation, citations, status and its checks, per-node usage,
thread id) rides in a top-level ``corecover`` object of the response and of the first and last
stream chunks; the thinking text is ``message.reasoning_content``. OpenAI clients ignore both.
Sampling parameters of the request are accepted and ignored.

Threads: the agent keeps each conversation in its checkpointer (SQLite, or PostgreSQL for
several replicas) and only gets the newest user message; ``threads.py`` says which thread a
request continues, and the id comes back in ``X-Thread-Id`` and ``corecover.thread_id``.
Users: ``auth.py``. Limits: the API key, ``max_body_bytes`` (413), ``request_timeout`` (504),
``max_concurrency`` (429 with ``Retry-After``), a question longer than the reasoner's context
holds (400 ``context_length_exceeded``, see ``agent/limits.py``). A dead backend is a 502, an
unavailable thread database a 503 with ``Retry-After``; streaming errors: ``streaming.py``.

Files: ``models`` (request and error schemas), ``responses`` (OpenAI objects of an answer),
``errors``, ``middleware`` (body limit, concurrency gate), ``auth``, ``threads``, ``streaming``,
``routes``, ``app`` (``create_app``, ``serve``).
"""

from agent.api.app import create_app, serve

__all__ = ["create_app", "serve"]
