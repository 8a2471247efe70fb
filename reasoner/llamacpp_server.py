"""``python -m reasoner.llamacpp_server``: llama-cpp-python's OpenAI-compatible server
(``python -m llama_cpp.server``, same arguments), evaluating every request's prompt afresh.

The stock server keeps one ``Llama`` and reuses the KV prefix of the previous request, so an
answer (greedy, or seeded) depends on what the server answered before: a prefix computed token
by token gives slightly other logits than the same prompt evaluated as one batch. The server
has no setting to turn that off, so this wrapper resets the model when a request takes it
(under the server's own model lock), as the in-process backend does. The cost is measured by
``bench/prefix_reuse.py``.
"""

from __future__ import annotations

from typing import Any


def fresh_per_request() -> None:
    """Make ``llama_cpp.server`` reset the model's KV state at the start of every request."""
    import llama_cpp.server.app as server_app

    prepare = server_app.prepare_request_resources
    if getattr(prepare, "fresh_per_request", False):
        return

    def prepare_fresh(*args: Any, **kwargs: Any) -> Any:
        llama = prepare(*args, **kwargs)  # called with the server's model lock held
        llama.reset()
        return llama

    prepare_fresh.fresh_per_request = True  # type: ignore[attr-defined]
    server_app.prepare_request_resources = prepare_fresh


def main() -> None:
    fresh_per_request()
    from llama_cpp.server.__main__ import main as serve

    serve()


if __name__ == "__main__":
    main()
