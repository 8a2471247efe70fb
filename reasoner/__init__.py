"""The reasoner: chat backends for a small local reasoning model, and the parsing of its output.

One protocol, :class:`ChatBackend`, with three backends chosen by a spec string
(``llamacpp:embedded``, ``openai:http://127.0.0.1:8000/v1?model=...``,
``transformers:/path/to/model``): see :func:`load_backend`. Every call returns
:class:`Completion` objects with the thinking part, the answer and the parsed final
answer split apart, plus token counts and latency.

This package imports nothing from the other corecover packages.
"""

from reasoner.base import BackendError, ChatBackend, Completion, Sampling, StreamChunk
from reasoner.registry import load_backend

__all__ = ["BackendError", "ChatBackend", "Completion", "Sampling", "StreamChunk", "load_backend"]
