"""In-process Hugging Face ``transformers`` models: generation plus the log-probs training needs.

``transformers:embedded`` loads the embedded SmolLM2 GGUF with ``gguf_file=`` (transformers
dequantises it: slow, ~34 s here), so loaded models are cached per path in this process.
Dequantised weights are close to, not identical with, what llama.cpp computes on the
quantised ones: greedy tokens agree, log-probs differ in the decimals.
"""

from __future__ import annotations

import asyncio
import functools
import os
import queue
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from reasoner.base import (
    BackendError,
    Completion,
    Messages,
    Sampling,
    StreamChunk,
    Timer,
    as_messages,
    iterate_in_thread,
    resolve_sampling,
)
from reasoner.presets import embedded_gguf, preset_for


def resolve_model_path(path: str | os.PathLike[str], gguf_file: str | None) -> tuple[str, str | None]:
    """``embedded`` or ``/x/model.gguf`` → ``(folder, file name)``; a checkpoint folder or hub id as is."""
    if str(path) == "embedded":
        gguf = embedded_gguf()
        return str(gguf.parent), gguf.name
    if str(path).endswith(".gguf") and gguf_file is None:
        if not Path(path).is_file():
            raise BackendError(f"model file not found: {path} (give a .gguf path, a checkpoint folder "
                               "or `transformers:embedded`)")
        return str(Path(path).parent), Path(path).name
    if gguf_file is not None and not (Path(path) / gguf_file).is_file():
        raise BackendError(f"model file not found: {Path(path) / gguf_file}")
    return str(path), gguf_file


@functools.lru_cache(maxsize=2)
def _load(path: str, gguf_file: str | None, device: str, dtype: str | None) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch_dtype = getattr(torch, dtype) if dtype else None
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, gguf_file=gguf_file)
        model = AutoModelForCausalLM.from_pretrained(path, gguf_file=gguf_file, dtype=torch_dtype)
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BackendError(f"transformers could not load {path}{'/' + gguf_file if gguf_file else ''}: "
                           f"{first} (give a checkpoint folder, a .gguf file or `embedded`)") from exc
    return tokenizer, model.to(device).eval()


class TransformersBackend:
    """A ``transformers`` causal LM in this process; one generation at a time per model."""

    name = "transformers"
    continues_final_message = True  # a trailing assistant message is continued (budget forcing)

    def __init__(self, path: str | os.PathLike[str], gguf_file: str | None = None, device: str = "cpu",
                 dtype: str | None = None, sampling: Sampling | None = None,
                 system: str | None = None) -> None:
        folder, gguf_file = resolve_model_path(path, gguf_file)
        self.path, self.gguf_file, self.device = folder, gguf_file, device
        self.model = Path(gguf_file).stem if gguf_file else Path(folder).name
        preset = preset_for(self.model)
        self.defaults = sampling or preset.chat
        self.system = system if system is not None else preset.system
        self.tokenizer, self.lm = _load(folder, gguf_file, device, dtype)
        self._lock = _lock_for(self.lm)

    # -- prompts and log-probs ----------------------------------------------------------
    def prompt_ids(self, messages: Messages | str) -> list[int]:
        """The token ids of the chat prompt for ``messages`` (with the generation prompt).

        A trailing assistant message is a prefix the model continues, not a finished turn.
        """
        messages = as_messages(messages, self.system)
        prefix = messages.pop()["content"] if messages[-1]["role"] == "assistant" else ""
        text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True) + prefix
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def _forward(self, ids: list[int]) -> Any:
        import torch

        with self._lock, torch.inference_mode():
            return self.lm(torch.tensor([ids], device=self.device)).logits[0].float()

    def logprobs(self, messages: Messages | str, completion: str) -> list[tuple[int, str, float]]:
        """``(token id, token text, log-prob)`` of each token of ``completion`` after the chat prompt."""
        import torch

        prompt = self.prompt_ids(messages)
        tokens = self.tokenizer(completion, add_special_tokens=False)["input_ids"]
        if not tokens:
            return []
        logits = self._forward(prompt + tokens)[len(prompt) - 1:-1]
        picked = logits.log_softmax(-1).gather(-1, torch.tensor(tokens, device=logits.device)[:, None])[:, 0]
        return [(t, self.tokenizer.decode([t]), float(lp)) for t, lp in zip(tokens, picked.tolist(), strict=True)]

    def first_token_logits(self, messages: Messages | str) -> Any:
        """The logits (a 1-D tensor over the vocabulary) of the first answer token."""
        return self._forward(self.prompt_ids(messages))[-1]

    def greedy_next_token(self, messages: Messages | str) -> tuple[int, str]:
        """The most likely first answer token: ``(id, text)``."""
        token = int(self.first_token_logits(messages).argmax())
        return token, self.tokenizer.decode([token])

    # -- generation ---------------------------------------------------------------------
    def _generate_kwargs(self, params: Sampling, n: int) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "max_new_tokens": params.max_tokens, "num_return_sequences": n,
            "do_sample": params.temperature > 0,
            "pad_token_id": self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
        }
        if params.temperature > 0:
            kwargs.update(temperature=params.temperature, top_p=params.top_p, top_k=max(params.top_k, 0))
        if params.stop:
            kwargs.update(stop_strings=list(params.stop), tokenizer=self.tokenizer)
        if params.timeout is not None:
            kwargs["max_time"] = params.timeout
        return kwargs

    def _run(self, prompt: list[int], params: Sampling, n: int, seed: int | None,
             streamer: Any = None, cancel: threading.Event | None = None) -> list[list[int]]:
        import torch

        kwargs = self._generate_kwargs(params, n)
        if cancel is not None:
            kwargs["stopping_criteria"] = _stop_when_set(cancel)
        with self._lock, torch.inference_mode():
            if seed is not None:
                torch.manual_seed(seed)
            ids = torch.tensor([prompt], device=self.device)
            out = self.lm.generate(input_ids=ids, attention_mask=torch.ones_like(ids), streamer=streamer,
                                   **kwargs)
        return [row[len(prompt):].tolist() for row in out]

    def _completion(self, generated: list[int], prompt: list[int], params: Sampling, timer: Timer) -> Completion:
        eos = self.tokenizer.eos_token_id
        ids = generated[:generated.index(eos) + 1] if eos in generated else generated
        text = self.tokenizer.decode(ids, skip_special_tokens=True)
        cut = _stop_at(text, params.stop)
        if cut is not None or (ids and ids[-1] == eos):
            finish = "stop"
        elif len(ids) >= params.max_tokens:
            finish = "length"
        else:
            finish = "timeout" if params.timeout is not None and timer.elapsed >= params.timeout else "stop"
        return Completion.from_text(text[:cut], finish_reason=finish, prompt_tokens=len(prompt),
                                    completion_tokens=len(ids), latency_s=timer.elapsed,
                                    backend=self.name, model=self.model)

    def generate(self, messages: Messages | str, sampling: Sampling | None = None,
                 **overrides: Any) -> list[Completion]:
        params = resolve_sampling(self.defaults, sampling, overrides)
        timer = Timer()
        prompt = self.prompt_ids(messages)
        if params.temperature > 0:
            rows = self._run(prompt, params, params.n, params.seed)
        else:  # greedy: every sample is the same (transformers refuses n > 1 without sampling)
            rows = self._run(prompt, params, 1, params.seed) * params.n
        return [self._completion(row, prompt, params, timer) for row in rows]

    async def agenerate(self, messages: Messages | str, sampling: Sampling | None = None,
                        **overrides: Any) -> list[Completion]:
        return await asyncio.to_thread(self.generate, messages, sampling, **overrides)

    def stream(self, messages: Messages | str, sampling: Sampling | None = None,
               **overrides: Any) -> Iterator[StreamChunk]:
        from transformers import TextIteratorStreamer

        params = resolve_sampling(self.defaults, sampling, overrides)
        timer = Timer()
        prompt = self.prompt_ids(messages)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True,
                                        timeout=params.timeout)
        result: dict[str, Any] = {}
        cancel = threading.Event()  # set when the consumer stops reading: generation stops at the next token

        def work() -> None:
            try:
                result["rows"] = self._run(prompt, params, 1, params.seed, streamer, cancel)
            except BaseException as exc:  # handed to the consumer
                result["error"] = exc
                streamer.end()

        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        text, sent = "", 0
        try:
            try:
                for piece in streamer:
                    text += piece
                    cut = _stop_at(text, params.stop)
                    ready = cut if cut is not None else len(text) - _held_back(text, params.stop)
                    if ready > sent:
                        yield StreamChunk(text[sent:ready])
                        sent = ready
            except queue.Empty:
                raise BackendError(f"transformers produced no token within the {params.timeout}s timeout "
                                   "(raise `timeout`, lower `max_tokens` or use a smaller model)") from None
            worker.join()
            if "error" in result:
                raise BackendError(f"transformers generation failed: {result['error']}") from result["error"]
            final = self._completion(result["rows"][0], prompt, params, timer)
            if len(final.text) > sent:
                yield StreamChunk(final.text[sent:])
            yield StreamChunk("", final)
        finally:  # also on close(): a caller that breaks out (budget, loop guard) frees the model
            cancel.set()

    async def astream(self, messages: Messages | str, sampling: Sampling | None = None,
                      **overrides: Any) -> AsyncIterator[StreamChunk]:
        async for chunk in iterate_in_thread(lambda: self.stream(messages, sampling, **overrides)):
            yield chunk


def _stop_at(text: str, stops: tuple[str, ...]) -> int | None:
    """Index of the earliest stop string in ``text``, or None."""
    found = [i for i in (text.find(s) for s in stops if s) if i >= 0]
    return min(found) if found else None


def _held_back(text: str, stops: tuple[str, ...]) -> int:
    """Length of the longest end of ``text`` that may be the start of a stop string."""
    return max((k for s in stops for k in range(1, len(s)) if text.endswith(s[:k])), default=0)


def _stop_when_set(event: threading.Event) -> Any:
    """A ``transformers`` stopping criterion that ends every sequence once ``event`` is set."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    class _WhenSet(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            return torch.full((input_ids.shape[0],), event.is_set(), dtype=torch.bool, device=input_ids.device)

    return StoppingCriteriaList([_WhenSet()])


_LOCKS: dict[int, threading.Lock] = {}


def _lock_for(model: Any) -> threading.Lock:
    return _LOCKS.setdefault(id(model), threading.Lock())
