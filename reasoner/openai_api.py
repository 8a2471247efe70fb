"""Any OpenAI-compatible chat server (vLLM, SGLang, llama.cpp server, Ollama, LM Studio, OpenAI).

The thinking part a server returns apart (``reasoning_content`` / ``reasoning``, e.g. vLLM's
reasoning parser) goes to ``Completion.reasoning``; when streamed, it is wrapped in
``<think>…</think>`` in the deltas, so the joined deltas parse like a model that thinks inline.

Servers that return fewer choices than the ``n`` asked for (``llama_cpp.server`` returns one)
are noticed: the missing samples are topped up with more requests (concurrent in
:meth:`OpenAIBackend.agenerate`), and the per-request cap is remembered for later calls.
"""

from __future__ import annotations

import asyncio
import os
import weakref
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit

from reasoner.base import (
    BackendError,
    Completion,
    ContextLengthError,
    Messages,
    Sampling,
    StreamChunk,
    Timer,
    as_messages,
    resolve_sampling,
)
from reasoner.presets import preset_for


def normalise_base_url(base_url: str) -> str:
    """``http://host:8000`` → ``http://host:8000/v1`` (a URL with a path is kept as it is)."""
    url = base_url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BackendError(f"not an http(s) URL: {base_url!r} (e.g. `openai:http://127.0.0.1:8000/v1`)")
    return url if parts.path else url + "/v1"


class OpenAIBackend:
    """A model behind an OpenAI-compatible ``/v1/chat/completions`` endpoint.

    ``model=None`` takes the first model the server lists; ``api_key=None`` takes
    ``$OPENAI_API_KEY`` or ``"EMPTY"`` (local servers ignore it). Each HTTP request waits at
    most ``min(timeout, sampling.timeout)`` seconds; 429, 5xx and connection errors are retried
    ``max_retries`` times with exponential backoff by the SDK.
    """

    name = "openai"

    def __init__(self, base_url: str, model: str | None = None, api_key: str | None = None,
                 timeout: float = 120.0, max_retries: int = 3, sampling: Sampling | None = None,
                 system: str | None = None) -> None:
        from openai import OpenAI

        self.base_url = normalise_base_url(base_url)
        # the user's OpenAI key goes to OpenAI only, never to another host
        openai_key = os.environ.get("OPENAI_API_KEY") if "api.openai.com" in self.base_url else None
        self.api_key = api_key or openai_key or "EMPTY"
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.client = OpenAI(base_url=self.base_url, api_key=self.api_key, timeout=self.timeout,
                             max_retries=self.max_retries)
        self._async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
            weakref.WeakKeyDictionary())
        self.model = model or self.list_models()[0]
        preset = preset_for(self.model)
        self.defaults = sampling or preset.chat
        self.system = system if system is not None else preset.system
        # Top-k is no OpenAI parameter: api.openai.com rejects it, every local server takes it.
        self.send_top_k = "api.openai.com" not in self.base_url
        self.max_n_per_request: int | None = None  # learnt when a server returns fewer choices

    def __repr__(self) -> str:
        return f"OpenAIBackend({self.base_url!r}, model={self.model!r})"

    # -- plumbing -----------------------------------------------------------------------
    @property
    def aclient(self) -> Any:
        """The async client of the running event loop (httpx connections belong to one loop)."""
        from openai import AsyncOpenAI

        loop = asyncio.get_running_loop()
        client = self._async_clients.get(loop)
        if client is None:
            client = AsyncOpenAI(base_url=self.base_url, api_key=self.api_key, timeout=self.timeout,
                                 max_retries=self.max_retries)
            self._async_clients[loop] = client
        return client

    def list_models(self) -> list[str]:
        """The model ids the server lists under ``/v1/models``."""
        try:
            ids = [m.id for m in self.client.models.list()]
        except Exception as exc:
            raise self._error(exc, self.timeout) from exc
        if not ids:
            raise BackendError(f"{self.base_url} lists no models: pass one with `?model=NAME`")
        return ids

    def _request(self, messages: Messages | str, params: Sampling, n: int, seed: int | None,
                 stream: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model, "messages": as_messages(messages, self.system),
            "temperature": params.temperature, "top_p": params.top_p, "max_tokens": params.max_tokens,
            "n": n, "timeout": self._timeout(params), "stream": stream,
        }
        if params.stop:
            body["stop"] = list(params.stop)
        if seed is not None:
            body["seed"] = seed
        # top_k <= 0 means "disabled": left to the server's default, since llama_cpp.server answers
        # 500 to top_k=-1 while vLLM (and SGLang) treat a missing top_k as disabled
        if self.send_top_k and params.top_k > 0:
            body["extra_body"] = {"top_k": params.top_k}
        if stream:
            body["stream_options"] = {"include_usage": True}
        return body

    def _timeout(self, params: Sampling) -> float:
        return min(self.timeout, params.timeout) if params.timeout is not None else self.timeout

    def _error(self, exc: BaseException, timeout: float) -> BackendError:
        """One clear line for whatever went wrong talking to the server."""
        import openai

        url = self.base_url
        if isinstance(exc, BackendError):
            return exc
        if isinstance(exc, openai.APITimeoutError):
            return BackendError(f"no answer from {url} within {timeout:g} s: raise the timeout or lower max_tokens")
        if isinstance(exc, openai.APIConnectionError):
            return BackendError(f"cannot reach {url}: start a server with `corecover reasoner serve` "
                                "or fix the URL")
        if isinstance(exc, openai.AuthenticationError):
            return BackendError(f"{url} refused the api key (HTTP 401): pass api_key= or set OPENAI_API_KEY")
        if isinstance(exc, openai.NotFoundError):
            return BackendError(f"{url} answered HTTP 404 for model {getattr(self, 'model', None)!r}: check "
                                "the model name (GET /v1/models) and that the URL ends in /v1")
        if isinstance(exc, openai.APIStatusError):
            body = exc.body if isinstance(exc.body, dict) else {}
            detail = " ".join(str(body.get("message") or exc.message).split())[:200]
            if exc.status_code == 400 and "context" in detail.lower():   # vLLM, OpenAI, llama.cpp
                return ContextLengthError(f"{url} answered HTTP 400: {detail}")
            hint = " (see the server's log)" if exc.status_code >= 500 else ""
            return BackendError(f"{url} answered HTTP {exc.status_code}: {detail}{hint}")
        if isinstance(exc, ValueError | KeyError | AttributeError | TypeError | openai.APIResponseValidationError):
            return BackendError(f"{url} answered with malformed JSON, not an OpenAI chat completion "
                                f"({type(exc).__name__}): is it an OpenAI-compatible server?")
        return BackendError(f"request to {url} failed: {type(exc).__name__}: {exc}")

    # -- non-streaming ------------------------------------------------------------------
    def _completions(self, response: Any, latency: float) -> list[Completion]:
        """Completions of one chat response; usage split over the choices by text length."""
        if isinstance(response, str) or not getattr(response, "choices", None):
            raise ValueError("no choices in the response")
        usage = response.usage
        texts = [choice.message.content or "" for choice in response.choices]
        total_chars = sum(len(t) for t in texts) or 1
        out = []
        for choice, text in zip(response.choices, texts, strict=True):
            share = len(text) / total_chars if len(texts) > 1 else 1.0
            out.append(Completion.from_text(
                text, finish_reason=choice.finish_reason or "stop", reasoning=_reasoning(choice.message),
                prompt_tokens=usage.prompt_tokens if usage else 0,
                completion_tokens=round(usage.completion_tokens * share) if usage else 0,
                latency_s=latency, backend=self.name, model=response.model or self.model))
        return out

    def _batches(self, n: int) -> list[int]:
        cap = self.max_n_per_request or n
        return [min(cap, n - done) for done in range(0, n, cap)]

    def _note_cap(self, asked: int, got: int) -> None:
        if 0 < got < asked:
            self.max_n_per_request = got

    @staticmethod
    def _seed(params: Sampling, offset: int) -> int | None:
        return None if params.seed is None else params.seed + offset

    def generate(self, messages: Messages | str, sampling: Sampling | None = None,
                 **overrides: Any) -> list[Completion]:
        params = resolve_sampling(self.defaults, sampling, overrides)
        out: list[Completion] = []
        while len(out) < params.n:
            asked = self._batches(params.n - len(out))[0]
            timer = Timer()
            try:
                response = self.client.chat.completions.create(
                    **self._request(messages, params, asked, self._seed(params, len(out))))
                got = self._completions(response, timer.elapsed)
            except Exception as exc:
                raise self._error(exc, self._timeout(params)) from exc
            self._note_cap(asked, len(got))
            out.extend(got)
        return out[:params.n]

    async def agenerate(self, messages: Messages | str, sampling: Sampling | None = None,
                        **overrides: Any) -> list[Completion]:
        params = resolve_sampling(self.defaults, sampling, overrides)
        out: list[Completion] = []
        while len(out) < params.n:
            sizes = self._batches(params.n - len(out))
            offsets = [len(out) + sum(sizes[:i]) for i in range(len(sizes))]
            rounds = await asyncio.gather(*(self._acreate(messages, params, size, self._seed(params, offset))
                                            for size, offset in zip(sizes, offsets, strict=True)))
            for size, got in zip(sizes, rounds, strict=True):
                self._note_cap(size, len(got))
                out.extend(got)
        return out[:params.n]

    async def _acreate(self, messages: Messages | str, params: Sampling, n: int,
                       seed: int | None) -> list[Completion]:
        timer = Timer()
        try:
            response = await self.aclient.chat.completions.create(**self._request(messages, params, n, seed))
            return self._completions(response, timer.elapsed)
        except Exception as exc:
            raise self._error(exc, self._timeout(params)) from exc

    # -- streaming ----------------------------------------------------------------------
    def stream(self, messages: Messages | str, sampling: Sampling | None = None,
               **overrides: Any) -> Iterator[StreamChunk]:
        params = resolve_sampling(self.defaults, sampling, overrides)
        state = _StreamState(params)
        try:
            events = self.client.chat.completions.create(**self._request(messages, params, 1, params.seed, True))
            with events:
                for event in events:
                    delta = state.feed(event)
                    if delta:
                        yield StreamChunk(delta)
                    if state.over_time():
                        break
        except Exception as exc:
            raise self._error(exc, self._timeout(params)) from exc
        yield from state.result(self)

    async def astream(self, messages: Messages | str, sampling: Sampling | None = None,
                      **overrides: Any) -> AsyncIterator[StreamChunk]:
        params = resolve_sampling(self.defaults, sampling, overrides)
        state = _StreamState(params)
        try:
            events = await self.aclient.chat.completions.create(
                **self._request(messages, params, 1, params.seed, True))
            async with events:
                async for event in events:
                    delta = state.feed(event)
                    if delta:
                        yield StreamChunk(delta)
                    if state.over_time():
                        break
        except Exception as exc:
            raise self._error(exc, self._timeout(params)) from exc
        for chunk in state.result(self):
            yield chunk


class _StreamState:
    """Collects the events of one streamed answer."""

    def __init__(self, params: Sampling) -> None:
        self.params = params
        self.timer = Timer()
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.in_reasoning = False
        self.finish_reason = "stop"
        self.usage: Any = None
        self.model = ""

    def feed(self, event: Any) -> str:
        if isinstance(event, str | bytes):
            raise ValueError("a stream event is not JSON")
        self.model = getattr(event, "model", None) or self.model
        self.usage = getattr(event, "usage", None) or self.usage
        if not event.choices:
            return ""
        choice = event.choices[0]
        if choice.finish_reason:
            self.finish_reason = choice.finish_reason
        out = []
        thought = _reasoning(choice.delta)
        if thought:
            out.append("" if self.in_reasoning else "<think>")
            self.in_reasoning = True
            self.reasoning.append(thought)
            out.append(thought)
        content = choice.delta.content or ""
        if content:
            if self.in_reasoning:
                out.append("</think>\n")
                self.in_reasoning = False
            self.text.append(content)
            out.append(content)
        return "".join(out)

    def over_time(self) -> bool:
        if self.params.timeout is not None and self.timer.elapsed > self.params.timeout:
            self.finish_reason = "timeout"
            return True
        return False

    def result(self, backend: OpenAIBackend) -> Iterator[StreamChunk]:
        if self.in_reasoning:
            self.in_reasoning = False
            yield StreamChunk("</think>\n")
        text = "".join(self.text)
        yield StreamChunk("", Completion.from_text(
            text, finish_reason=self.finish_reason, reasoning="".join(self.reasoning) or None,
            prompt_tokens=self.usage.prompt_tokens if self.usage else 0,
            completion_tokens=self.usage.completion_tokens if self.usage else 0,
            latency_s=self.timer.elapsed, backend=backend.name, model=self.model or backend.model))


def _reasoning(message: Any) -> str | None:
    """The thinking part a server put beside the content (vLLM: ``reasoning_content``/``reasoning``)."""
    for key in ("reasoning_content", "reasoning"):
        value = getattr(message, key, None)
        if isinstance(value, str) and value:
            return value
    return None

