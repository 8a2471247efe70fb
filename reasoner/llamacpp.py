"""In-process GGUF models through llama-cpp-python: the CPU default (``llamacpp:embedded``)."""

from __future__ import annotations

import asyncio
import atexit
import functools
import os
import threading
import weakref
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from reasoner.base import (
    BackendError,
    Completion,
    ContextLengthError,
    Messages,
    Sampling,
    StreamChunk,
    Timer,
    as_messages,
    iterate_in_thread,
    resolve_sampling,
)
from reasoner.presets import embedded_gguf, preset_for

THREADS_ENV = "CORECOVER_LLAMACPP_THREADS"


def default_threads() -> int:
    """``$CORECOVER_LLAMACPP_THREADS``, else half the CPUs, as llama.cpp itself defaults to: on a
    shared 2-core machine two threads that wait on each other at every token decode 10-20x
    slower than one (measured here). The in-process backend and ``reasoner serve`` both use it."""
    value = os.environ.get(THREADS_ENV, "").strip()
    if value:
        if not value.isdigit() or int(value) < 1:
            raise BackendError(f"{THREADS_ENV} must be a whole number of threads >= 1, got {value!r}")
        return int(value)
    return max(1, (os.cpu_count() or 2) // 2)


_LOADED: weakref.WeakSet[Any] = weakref.WeakSet()


@functools.lru_cache(maxsize=4)
def _load(path: str, n_ctx: int, n_threads: int) -> Any:
    try:
        from llama_cpp import Llama
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise BackendError("llama-cpp-python is not installed: run `pip install llama-cpp-python`") from exc
    if not Path(path).is_file():
        raise BackendError(f"model file not found: {path} (give a .gguf path, or `llamacpp:embedded`)")
    try:
        # n_threads_batch too: llama-cpp-python gives prompt processing all CPUs by default.
        llm = Llama(model_path=path, n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads, n_batch=512,
                    verbose=False)
        _LOADED.add(llm)
    except (ValueError, RuntimeError) as exc:
        raise BackendError(f"llama.cpp could not load {path}: {exc}") from exc
    return llm


@atexit.register
def _free_models() -> None:
    """Free the cached models before interpreter teardown (else ``Llama.__del__`` fails noisily)."""
    for llm in _LOADED:
        llm.close()
    _load.cache_clear()


class LlamaCppBackend:
    """A GGUF model run in this process. One generation at a time per model (a lock guards it).

    Every generation evaluates its whole prompt afresh (``Llama.reset()``): llama-cpp-python
    would otherwise reuse the KV prefix left by the previous call, and a prefix computed token
    by token gives slightly other logits than the same prompt evaluated as one batch, so an
    output (greedy or seeded) would depend on what was asked before. The cost, measured by
    ``bench/prefix_reuse.py``, is the shared prompt prefix evaluated again on each call.
    """

    name = "llamacpp"
    continues_final_message = True  # a trailing assistant message is continued (budget forcing)

    def __init__(self, model_path: str | os.PathLike[str] | None = None, *, n_ctx: int = 4096,
                 n_threads: int | None = None, sampling: Sampling | None = None,
                 system: str | None = None) -> None:
        path = Path(model_path) if model_path and str(model_path) != "embedded" else embedded_gguf()
        self.model_path = path
        self.model = path.stem
        preset = preset_for(self.model)
        self.defaults = sampling or preset.chat
        self.system = system if system is not None else preset.system
        self.n_ctx = n_ctx
        self.llm = _load(str(path), n_ctx, n_threads or default_threads())
        self._lock = _lock_for(self.llm)
        self._formatter = self._make_formatter()

    def _make_formatter(self) -> Any:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        template = self.llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise BackendError(f"{self.model_path.name} has no chat template in its metadata")
        vocab = self.llm._model  # token text for bos/eos, as llama-cpp-python's own handler does
        eos = vocab.token_get_text(self.llm.token_eos())
        bos = vocab.token_get_text(self.llm.token_bos())
        return Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)

    def prompt_tokens(self, messages: Messages | str) -> list[int]:
        """The token ids of the chat prompt for ``messages`` (with the generation prompt).

        A trailing assistant message is a prefix the model continues, not a finished turn.
        """
        messages = as_messages(messages, self.system)
        prefix = messages.pop()["content"] if messages[-1]["role"] == "assistant" else ""
        result = self._formatter(messages=messages)
        return self.llm.tokenize((result.prompt + prefix).encode("utf-8"), add_bos=not result.added_special,
                                 special=True)

    # -- generation ---------------------------------------------------------------------
    def stream(self, messages: Messages | str, sampling: Sampling | None = None,
               **overrides: Any) -> Iterator[StreamChunk]:
        params = resolve_sampling(self.defaults, sampling, overrides)
        yield from self._stream_one(messages, params, params.seed)

    def _stream_one(self, messages: Messages | str, params: Sampling, seed: int | None) -> Iterator[StreamChunk]:
        timer = Timer()
        tokens = self.prompt_tokens(messages)
        room = self.n_ctx - len(tokens)
        if room < 8:
            raise ContextLengthError(f"the prompt has {len(tokens)} tokens, more than the context of "
                                     f"{self.n_ctx} allows: shorten the question or raise n_ctx")
        max_tokens = min(params.max_tokens, room)
        pieces: list[str] = []
        finish = "stop"
        with self._lock:
            self.llm.reset()  # no KV prefix reuse: the same request gives the same tokens whatever ran before
            stream = self.llm.create_completion(
                prompt=tokens, max_tokens=max_tokens, temperature=params.temperature,
                top_p=params.top_p, top_k=max(params.top_k, 0), stop=list(params.stop) or None,
                seed=seed if seed is not None else -1, stream=True)
            try:
                for chunk in stream:
                    choice = chunk["choices"][0]
                    if choice["text"]:
                        pieces.append(choice["text"])
                        yield StreamChunk(choice["text"])
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
                    if params.timeout is not None and timer.elapsed > params.timeout:
                        finish = "timeout"
                        break
            finally:
                stream.close()
        if finish == "stop" and max_tokens < params.max_tokens and len(pieces) >= max_tokens:
            finish = "length"
        text = "".join(pieces)
        if finish == "length":  # llama-cpp-python stops after exactly max_tokens sampled tokens
            completion_tokens = max_tokens
        else:
            completion_tokens = len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)) if text else 0
        yield StreamChunk("", Completion.from_text(
            text, finish_reason=finish, prompt_tokens=len(tokens), completion_tokens=completion_tokens,
            latency_s=timer.elapsed, backend=self.name, model=self.model))

    def generate(self, messages: Messages | str, sampling: Sampling | None = None,
                 **overrides: Any) -> list[Completion]:
        params = resolve_sampling(self.defaults, sampling, overrides)
        out = []
        for i in range(params.n):
            seed = None if params.seed is None else params.seed + i
            *_, last = self._stream_one(messages, params, seed)
            out.append(last.completion)
        return out

    async def agenerate(self, messages: Messages | str, sampling: Sampling | None = None,
                        **overrides: Any) -> list[Completion]:
        return await asyncio.to_thread(self.generate, messages, sampling, **overrides)

    async def astream(self, messages: Messages | str, sampling: Sampling | None = None,
                      **overrides: Any) -> AsyncIterator[StreamChunk]:
        async for chunk in iterate_in_thread(lambda: self.stream(messages, sampling, **overrides)):
            yield chunk


_LOCKS: dict[int, threading.Lock] = {}


def _lock_for(llm: Any) -> threading.Lock:
    return _LOCKS.setdefault(id(llm), threading.Lock())
