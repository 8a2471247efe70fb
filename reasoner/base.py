"""The backend protocol and the objects every backend returns."""

from __future__ import annotations

import contextlib
import numbers
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

from reasoner.parsing import parse_output

Messages = Sequence[dict[str, str]]


class BackendError(RuntimeError):
    """A backend could not answer. The message says what went wrong and how to fix it."""


class ContextLengthError(BackendError):
    """The prompt is longer than the model's context: the caller's input, not a backend fault."""


@dataclass(frozen=True)
class Sampling:
    """Sampling settings. ``top_k=-1`` disables top-k; ``temperature=0`` is greedy."""

    temperature: float = 0.7
    top_p: float = 0.95
    top_k: int = -1
    max_tokens: int = 512
    stop: tuple[str, ...] = ()
    n: int = 1
    seed: int | None = None
    timeout: float | None = 120.0

    def with_(self, **overrides: Any) -> Sampling:
        """A copy with the given fields replaced (``None`` values are ignored)."""
        overrides = {k: v for k, v in overrides.items() if v is not None}
        if "stop" in overrides:
            stop = overrides["stop"]
            overrides["stop"] = (stop,) if isinstance(stop, str) else tuple(stop)
        return replace(self, **overrides)


@dataclass
class Completion:
    """One sampled answer of a backend.

    ``text`` is the raw output; ``reasoning`` the thinking part (``None`` when the model
    did not think out loud); ``answer`` the text after the thinking; ``final_answer`` the
    parsed final answer (last ``\\boxed{}``, option letter, code block) or ``None``.
    """

    text: str
    reasoning: str | None = None
    answer: str = ""
    final_answer: str | None = None
    finish_reason: str = "stop"
    truncated: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    backend: str = ""
    model: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_text(cls, text: str, *, finish_reason: str = "stop", reasoning: str | None = None,
                  **fields: Any) -> Completion:
        """Build a completion from raw model text, splitting thinking and final answer."""
        parsed = parse_output(text, finish_reason=finish_reason, reasoning=reasoning)
        return cls(text=text, reasoning=parsed.reasoning, answer=parsed.answer,
                   final_answer=parsed.final_answer, finish_reason=finish_reason,
                   truncated=parsed.truncated, **fields)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class StreamChunk:
    """A piece of a streamed answer; the last chunk carries the whole :class:`Completion`."""

    delta: str
    completion: Completion | None = None


@runtime_checkable
class ChatBackend(Protocol):
    """What every reasoner backend does. ``messages`` are OpenAI-style chat messages."""

    name: str
    model: str
    defaults: Sampling

    def generate(self, messages: Messages | str, sampling: Sampling | None = None,
                 **overrides: Any) -> list[Completion]:
        """Sample ``n`` completions (``len(result) == n``)."""
        ...

    async def agenerate(self, messages: Messages | str, sampling: Sampling | None = None,
                        **overrides: Any) -> list[Completion]:
        """Like :meth:`generate`, without blocking the event loop."""
        ...

    def stream(self, messages: Messages | str, sampling: Sampling | None = None,
               **overrides: Any) -> Iterator[StreamChunk]:
        """Stream one completion; the final chunk holds the :class:`Completion`."""
        ...

    def astream(self, messages: Messages | str, sampling: Sampling | None = None,
                **overrides: Any) -> AsyncIterator[StreamChunk]:
        """Async version of :meth:`stream`."""
        ...


def as_messages(messages: Messages | str, system: str | None = None) -> list[dict[str, str]]:
    """Normalise a question string or a message list to a fresh list of chat messages."""
    if isinstance(messages, str):
        out = [{"role": "user", "content": messages}]
    else:
        out = [{"role": m["role"], "content": m["content"]} for m in messages]
    if not out:
        raise BackendError("no messages to answer: pass a question or a non-empty message list")
    if system and out[0]["role"] != "system":
        out.insert(0, {"role": "system", "content": system})
    return out


def resolve_sampling(defaults: Sampling, sampling: Sampling | None, overrides: dict[str, Any]) -> Sampling:
    """The sampling of one call: explicit object, else the backend defaults, plus overrides."""
    params = (sampling or defaults).with_(**overrides)
    if params.n < 1:
        raise BackendError(f"n must be at least 1, got {params.n}")
    if params.max_tokens < 1:
        raise BackendError(f"max_tokens must be at least 1, got {params.max_tokens}")
    if params.seed is not None:
        if isinstance(params.seed, bool) or not isinstance(params.seed, numbers.Integral):
            raise BackendError(f"seed must be an integer, got {params.seed!r}")
        params = replace(params, seed=int(params.seed))
    return params


class Timer:
    """Wall-clock seconds since creation."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start


async def iterate_in_thread(make_iter: Any) -> AsyncIterator[Any]:
    """Run a blocking iterator in a worker thread and yield its items without blocking the loop."""
    import asyncio
    import contextlib
    import threading

    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    cancelled = threading.Event()

    def send(kind: str, item: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody is listening any more
            loop.call_soon_threadsafe(queue.put_nowait, (kind, item))

    def pump() -> None:
        try:
            for item in make_iter():
                if cancelled.is_set():
                    break
                send("item", item)
        except BaseException as exc:  # handed to the consumer
            send("error", exc)
        finally:
            send("end", None)

    worker = threading.Thread(target=pump, daemon=True)
    worker.start()
    try:
        while True:
            kind, item = await queue.get()
            if kind == "end":
                break
            if kind == "error":
                raise item
            yield item
    finally:
        cancelled.set()


def continues_final_message(backend: Any) -> bool:
    """True when ``backend`` continues a trailing assistant message instead of starting a new one."""
    return bool(getattr(backend, "continues_final_message", False))


def prompt_token_count(backend: Any, messages: list[dict[str, str]]) -> int:
    """Prompt tokens of a request that was stopped before the backend reported them."""
    for method in ("prompt_tokens", "prompt_ids"):
        count = getattr(backend, method, None)
        if callable(count):
            with contextlib.suppress(Exception):
                return len(count(messages))
    return 0
