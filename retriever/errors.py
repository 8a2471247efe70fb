"""The one error type the retriever raises for bad input or a bad index on disk."""

from __future__ import annotations


class RetrieverError(RuntimeError):
    """A clear one-line message that names the fix."""


def rebuild_hint(path: object | None = None) -> str:
    """The command that rebuilds an index, for error messages."""
    out = f" --out {path}" if path else ""
    return f"rebuild it with `corecover index build --corpus default|PATH{out}`"
