"""The calculator in the loop: exact values injected into a reasoner's stream.

When the model writes ``17 * 23 =``, generation stops, the exact value (`` 391``) is streamed,
and the model continues the assistant message from there, like the GSM8K paper's calculator
annotations. Used by :mod:`reasoner.control` for ``calculator="inject"``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

from reasoner.base import (
    BackendError,
    ChatBackend,
    Completion,
    Messages,
    Sampling,
    StreamChunk,
    Timer,
    as_messages,
    continues_final_message,
    prompt_token_count,
    resolve_sampling,
)
from reasoner.calculator import format_number, pending

CALCULATOR_MODES = ("off", "flag", "inject")


_NUMBER_GOES_ON = re.compile(r"^(?:[.,]?\d)+")


def _drop_number_tail(held: str, final: bool) -> str | None:
    """What to keep of the text held after an injected value: a model that goes on writing its own
    number (``183`` + ``.33``, ``64746`` + ``0``) has those characters dropped. ``None`` while the
    held text could still be such a continuation (digits, or a ``.``/``,`` that may precede them)."""
    if not final and re.fullmatch(r"(?:[.,]?\d)*[.,]?", held):
        return None
    return _NUMBER_GOES_ON.sub("", held, count=1)


def _cut_at_pending(text: str, delta: str) -> int | None:
    """Length of the part of ``delta`` that ends in ``expression =`` (None when it does not)."""
    for index, char in enumerate(delta):
        if char == "=" and pending(text + delta[:index + 1]) is not None:
            return index + 1
    return None


def calculator_stream(backend: ChatBackend, messages: Messages | str, sampling: Sampling | None = None,
                      *, max_injections: int = 32, log: list[dict[str, str]] | None = None,
                      **overrides: Any) -> Iterator[StreamChunk]:
    """``backend.stream`` with the exact value injected after every ``expression =`` the model writes.

    The stream stops at the ``=``, the value is streamed as a delta of its own, and the model
    continues the assistant message (a trailing assistant message of ``messages`` is such a
    prefix too). Digits the model writes right after an injected value (its own number going on)
    are dropped. ``log`` receives one ``{"expression", "value"}`` per injection; the final
    completion carries them in ``extra["calculator"]`` and counts the tokens of every request.
    """
    if not continues_final_message(backend):
        raise BackendError(f"{backend.name} cannot continue an assistant message: the calculator cannot inject")
    params = resolve_sampling(backend.defaults, sampling, overrides).with_(n=1)
    msgs = as_messages(messages, getattr(backend, "system", None))
    head = msgs.pop()["content"] if msgs[-1]["role"] == "assistant" else ""
    log = [] if log is None else log
    timer = Timer()
    text, prompt_tokens, completion_tokens, requests = "", 0, 0, 0
    finish, last = "length", None
    while completion_tokens < params.max_tokens:
        found = pending(head + text) if len(log) < max_injections else None
        if found is not None:
            value = format_number(found[1], 4)
            piece = value if (head + text).endswith((" ", "\t")) else " " + value
            log.append({"expression": found[0], "value": value})
            text += piece
            yield StreamChunk(piece)
        request = [*msgs, {"role": "assistant", "content": head + text}] if head + text else msgs
        requests += 1
        pieces, cut, last = [], None, None
        held = "" if found is not None else None  # after an injection: watch for the model's own digits
        chunks = backend.stream(request, params.with_(max_tokens=params.max_tokens - completion_tokens))
        with contextlib.closing(chunks):
            for chunk in chunks:
                last = chunk.completion or last
                if not chunk.delta:
                    continue
                pieces.append(chunk.delta)
                delta = chunk.delta
                if held is not None:
                    kept = _drop_number_tail(held + delta, final=False)
                    if kept is None:
                        held += delta
                        continue
                    delta, held = kept, None
                cut = _cut_at_pending(head + text, delta) if len(log) < max_injections else None
                delta = delta if cut is None else delta[:cut]
                text += delta
                if delta:
                    yield StreamChunk(delta)
                if cut is not None:
                    break
        rest = _drop_number_tail(held, final=True) if held else ""
        if rest:  # the stream ended while watching: "." is kept, the model's digits are not
            text += rest
            yield StreamChunk(rest)
        if last is not None:
            prompt_tokens += last.prompt_tokens
            completion_tokens += last.completion_tokens
            finish = last.finish_reason
        else:
            prompt_tokens += prompt_token_count(backend, request)
            completion_tokens += len(pieces)
        if cut is None:
            break
    result = Completion.from_text(text, finish_reason=finish, prompt_tokens=prompt_tokens,
                                  completion_tokens=completion_tokens, latency_s=timer.elapsed,
                                  backend=backend.name, model=backend.model)
    result.extra = {**result.extra, "calculator": {"mode": "inject", "injections": list(log),
                                                   "requests": requests}}
    yield StreamChunk("", result)
