"""Test-time control of any reasoner: a thinking budget with budget forcing, a loop guard, a calculator.

Small reasoners often think forever: the trace falls into a repetition loop and no answer
comes. :func:`controlled_stream` wraps ``backend.stream`` of any :class:`ChatBackend`:

- **thinking budget**: at most ``think_budget`` reasoning tokens. When it runs out the
  thinking block is closed and the model is made to answer (budget forcing, as in s1):
  the assistant message is continued from ``<partial reasoning>\\n</think>\\n\\nFinal answer:
  \\boxed{`` on backends that continue a final assistant message (``continues_final_message``),
  else a second request hands over the truncated reasoning and asks for the final answer.
  Models without thinking tags (SmolLM2) count every token as reasoning until an answer
  marker (``\\boxed{``, "the answer is", ``####``) appears.
- **loop guard**: repeated n-grams over a sliding window stop the stream early; the question
  is sampled once more (another seed, a higher temperature), and if that loops too the model
  answers from what it reasoned before the loop.

- **calculator** (``calculator="flag"|"inject"``): ``flag`` recomputes every calculation the
  answer writes (``a op b = c``) and lists the wrong ones; ``inject`` puts the calculator in the
  loop, like the GSM8K paper's calculator annotations: when the model writes ``17 * 23 =``,
  generation stops, the exact value (`` 391``) is appended, and the model continues the
  assistant message from there (backends with ``continues_final_message``; others are flagged).

A streamed delta counts as one token (exact on llama.cpp and vLLM). The returned
``Completion.extra["control"]`` says what fired. :class:`Controlled` puts the same control
behind the whole backend protocol, so the agent wraps its reasoner once (:func:`wrap`).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
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
    iterate_in_thread,
    prompt_token_count,
    resolve_sampling,
)
from reasoner.calculator_stream import CALCULATOR_MODES, calculator_stream
from reasoner.parsing import THINK_TAGS, final_answer, split_thinking

ANSWER_MARKER = re.compile(r"\\boxed\s*\{|final answer\s*(?:is|:)|the answer is|^####", re.I | re.M)
FORCE_SUFFIX = "Final answer: \\boxed{"
FALLBACK_PROMPT = ("Stop reasoning now. Based on the reasoning above, reply with your final answer only, "
                   "as \\boxed{ANSWER}.")
LOOP_NOTICE = "\n\n[repetition loop detected: sampling again]\n\n"
_UNITS = re.compile(r"\d|[^\W\d_]+|[^\w\s]")


# -- loop guard ---------------------------------------------------------------------------
def units(text: str) -> list[str]:
    """Words, single digits and punctuation marks: the units loops are measured in."""
    return _UNITS.findall(text)


def repetition(items: list[str], n: int) -> float:
    """Share of the ``n``-grams of ``items`` that repeat an earlier one (0: none, →1: a loop)."""
    grams = [tuple(items[i:i + n]) for i in range(len(items) - n + 1)]
    return 1 - len(set(grams)) / len(grams) if grams else 0.0


@dataclass
class LoopGuard:
    """Fires when more than ``threshold`` of the ``n``-grams in the last ``window`` units repeat.

    Normal prose and worked arithmetic stay well under 0.3; a loop with a period of p units
    reaches ``1 - p / window``, so any period up to half the window fires at 0.5. The tail is
    checked every ``every`` deltas once ``min_units`` units have been seen.
    """

    n: int = 6
    window: int = 160
    threshold: float = 0.5
    min_units: int = 64
    every: int = 4
    pieces: list[str] = field(default_factory=list)
    tail: str = ""

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    def feed(self, delta: str) -> bool:
        """Add streamed text; True when the tail has become a loop."""
        self.pieces.append(delta)
        self.tail = (self.tail + delta)[-8 * self.window:]
        if len(self.pieces) % self.every:
            return False
        found = units(self.tail)[-self.window:]
        return len(found) >= self.min_units and repetition(found, self.n) > self.threshold

    def loop_start(self) -> int:
        """Character index in :attr:`text` where the loop's first repeat begins (one instance is kept)."""
        found = units(self.tail)[-self.window:]
        grams = Counter(tuple(found[i:i + self.n]) for i in range(len(found) - self.n + 1))
        text = self.text
        if not grams:
            return len(text)
        pattern = r"\s*".join(re.escape(u) for u in grams.most_common(1)[0][0])
        start = len(text) - len(self.tail)
        matches = [m.start() for m in re.finditer(pattern, self.tail)]
        return start + matches[min(1, len(matches) - 1)] if matches else len(text)


# -- thinking tracker ---------------------------------------------------------------------
@dataclass
class Thinking:
    """Follows a stream and tells whether the model is still reasoning.

    ``tags=None`` decides from the output: an opening think tag means reasoning lasts until the
    closing tag; no tag means reasoning lasts until an answer marker. ``tags=True`` is for chat
    templates that open the thinking block in the prompt (only ``</think>`` ends it).
    ``tokens`` counts the deltas streamed while reasoning.
    """

    tags: bool | None = None
    tokens: int = 0
    done: bool = False
    closed: bool = False
    head: str = ""
    tail: str = ""

    def feed(self, delta: str) -> None:
        self.tail = (self.tail + delta)[-64:]
        if len(self.head) < 64:
            self.head = (self.head + delta).lstrip()
        if self.tags is None and len(self.head) >= 24:
            self.tags = any(self.head.startswith(open_tag) for open_tag, _ in THINK_TAGS)
        if any(close in self.tail for _, close in THINK_TAGS):
            self.closed = True
        if self.done:
            return
        self.tokens += 1
        if self.closed or (not self.tags and ANSWER_MARKER.search(self.tail)):
            self.done = True

    @property
    def open_block(self) -> bool:
        """True when a thinking block is open (a forced answer must close it first)."""
        opened = self.tags or any(self.head.startswith(open_tag) for open_tag, _ in THINK_TAGS)
        return bool(opened) and not self.closed


# -- budget forcing: the model made to answer ----------------------------------------------
def close_boxed(text: str) -> str:
    """The continuation of an open ``\\boxed{``, cut at its closing brace (or its first line, closed)."""
    depth = 1
    for i, char in enumerate(text):
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth == 0:
            return text[:i + 1]
    return text.split("\n", 1)[0].rstrip() + "}"


def _drain(chunks: Iterator[StreamChunk]) -> tuple[str, Completion | None]:
    pieces, last = [], None
    with contextlib.closing(chunks):
        for chunk in chunks:
            pieces.append(chunk.delta)
            last = chunk.completion or last
    return "".join(pieces), last


def force_answer(backend: ChatBackend, messages: list[dict[str, str]], partial: str, close_think: bool,
                 params: Sampling, answer_tokens: int) -> tuple[str, Completion | None, str]:
    """Make the model answer after ``partial`` reasoning; returns ``(answer text, completion, method)``.

    ``method`` is ``"prefix"`` (the assistant message continued from ``partial`` +
    ``</think>`` + ``Final answer: \\boxed{``) or ``"second_request"`` (a new user turn asks
    for the final answer after the truncated reasoning).
    """
    head = partial.rstrip() + ("\n</think>\n\n" if close_think else "\n\n")
    if continues_final_message(backend):
        prefix = head + FORCE_SUFFIX
        text, completion = _drain(backend.stream(
            [*messages, {"role": "assistant", "content": prefix}], params.with_(
                max_tokens=answer_tokens, n=1, stop=())))
        return FORCE_SUFFIX + close_boxed(text), completion, "prefix"
    ask = [*messages, {"role": "assistant", "content": head.strip() or "(no reasoning)"},
           {"role": "user", "content": FALLBACK_PROMPT}]
    text, completion = _drain(backend.stream(ask, params.with_(max_tokens=2 * answer_tokens, n=1)))
    return text.strip(), completion, "second_request"


# -- the controlled stream ----------------------------------------------------------------
@dataclass
class Control:
    """Settings of test-time control; ``Control()`` has the loop guard on and no budget."""

    think_budget: int | None = None
    loop_guard: bool = True
    on_loop: str = "resample"  # or "answer": answer from the reasoning before the loop
    answer_tokens: int = 32
    tags: bool | None = None
    guard: dict[str, Any] = field(default_factory=dict)  # LoopGuard overrides
    calculator: str = "off"  # or "flag": wrong calculations listed; "inject": exact values put in the stream
    max_injections: int = 32

    def __post_init__(self) -> None:
        if self.think_budget is not None and self.think_budget < 1:
            raise ValueError(f"think_budget must be at least 1 token, got {self.think_budget} (or None: no budget)")
        if self.on_loop not in ("resample", "answer"):
            raise ValueError(f"on_loop must be 'resample' or 'answer', got {self.on_loop!r}")
        if self.calculator not in CALCULATOR_MODES:
            raise ValueError(f"calculator must be one of {', '.join(CALCULATOR_MODES)}, got {self.calculator!r}")

    @property
    def active(self) -> bool:
        return self.think_budget is not None or self.loop_guard or self.calculator != "off"


def controlled_stream(backend: ChatBackend, messages: Messages | str, sampling: Sampling | None = None,
                      control: Control | None = None, **overrides: Any) -> Iterator[StreamChunk]:
    """``backend.stream`` under a thinking budget and a loop guard; the last chunk holds the Completion.

    ``extra["control"]`` records: ``loop_guard`` (it fired), ``resampled``, ``budget_forced``,
    ``forced`` (``"prefix"``/``"second_request"``/None), ``attempts``, ``reasoning_tokens`` and
    ``wasted_tokens`` (of an attempt dropped for looping). Token counts cover every request.
    With a calculator, ``extra["calculator"]`` holds ``mode``, ``injections`` (expression and
    injected value) and ``steps`` (every written calculation recomputed: :func:`reasoner.verify.check_steps`).
    """
    control = control or Control()
    params = resolve_sampling(backend.defaults, sampling, overrides).with_(n=1)
    msgs = as_messages(messages, getattr(backend, "system", None))
    timer = Timer()
    report: dict[str, Any] = {"think_budget": control.think_budget, "loop_guard": False, "resampled": False,
                              "budget_forced": False, "forced": None, "attempts": 0, "reasoning_tokens": 0,
                              "wasted_tokens": 0}
    prompt_tokens = completion_tokens = 0
    budget_left = control.think_budget
    attempt_params = params
    inject = control.calculator == "inject" and continues_final_message(backend)
    injections: list[dict[str, str]] = []
    while True:
        report["attempts"] += 1
        injections.clear()
        thinking = Thinking(tags=control.tags)
        guard = LoopGuard(**control.guard) if control.loop_guard else None
        pieces: list[str] = []
        stopped, finished = "", None
        chunks = (calculator_stream(backend, msgs, attempt_params, max_injections=control.max_injections,
                                    log=injections) if inject else backend.stream(msgs, attempt_params))
        with contextlib.closing(chunks):
            for chunk in chunks:
                finished = chunk.completion or finished
                if not chunk.delta:
                    continue
                yield StreamChunk(chunk.delta)
                pieces.append(chunk.delta)
                thinking.feed(chunk.delta)
                if guard is not None and guard.feed(chunk.delta):
                    stopped = "loop"
                    break
                if budget_left is not None and not thinking.done and thinking.tokens >= budget_left:
                    stopped = "budget"
                    break
        text = "".join(pieces)
        used = finished.completion_tokens if finished is not None else len(pieces)
        completion_tokens += used
        prompt_tokens += finished.prompt_tokens if finished is not None else prompt_token_count(backend, msgs)
        report["reasoning_tokens"] += thinking.tokens
        if budget_left is not None:
            budget_left = max(budget_left - thinking.tokens, 0)
        if stopped != "loop":
            break
        report["loop_guard"] = True
        text = text[:guard.loop_start()]
        if thinking.done:  # the answer came before the loop: keep it, drop the loop
            finished = Completion.from_text(text, finish_reason="loop", backend=backend.name, model=backend.model)
            stopped = ""
            break
        if control.on_loop != "resample" or report["resampled"] or budget_left == 0:
            break
        report["resampled"] = True
        report["wasted_tokens"] += used
        yield StreamChunk(LOOP_NOTICE)
        seed = None if params.seed is None else params.seed + 7919
        attempt_params = params.with_(temperature=max(params.temperature + 0.3, 0.6), seed=seed)

    unanswered = finished is not None and finished.final_answer is None and finished.truncated
    if stopped or unanswered:
        report["budget_forced"] = stopped == "budget"
        close = thinking.open_block
        answer, forced, method = force_answer(backend, msgs, text, close, params, control.answer_tokens)
        report["forced"] = method
        joint = "\n</think>\n\n" if close else "\n\n"
        yield StreamChunk(joint + answer)
        if forced is not None:
            prompt_tokens += forced.prompt_tokens
            completion_tokens += forced.completion_tokens
        reasoning = split_thinking(text + joint)[0] if close else text.strip()
        result = Completion(
            text=text.rstrip() + joint + answer, reasoning=reasoning or None, answer=answer,
            final_answer=final_answer(answer), finish_reason=stopped or "length", truncated=True,
            backend=backend.name, model=backend.model)
    else:
        if finished is None:
            raise BackendError(f"{backend.name} ended its stream without a completion")
        result = finished
    result.prompt_tokens, result.completion_tokens = prompt_tokens, completion_tokens
    result.latency_s = timer.elapsed
    result.extra = {**result.extra, "control": report}
    if control.calculator != "off":
        from reasoner.verify import check_steps

        mode = "inject" if inject else "flag"
        result.extra["calculator"] = {
            "mode": mode, "injections": list(injections), "steps": [c.as_dict() for c in check_steps(result.text)],
            **({} if mode == control.calculator else {"note": f"{backend.name} cannot continue an assistant "
                                                               "message: calculations flagged, not injected"})}
    yield StreamChunk("", result)


def controlled_generate(backend: ChatBackend, messages: Messages | str, sampling: Sampling | None = None,
                        control: Control | None = None, **overrides: Any) -> Completion:
    """One completion under control (the stream drained)."""
    *_, last = controlled_stream(backend, messages, sampling, control, **overrides)
    assert last.completion is not None
    return last.completion


class Controlled:
    """A backend whose every generation runs under :func:`controlled_stream` (same protocol)."""

    def __init__(self, backend: ChatBackend, control: Control) -> None:
        self.backend, self.control = backend, control
        self.name, self.model, self.defaults = backend.name, backend.model, backend.defaults

    def __getattr__(self, name: str) -> Any:  # system, prompt_tokens, … of the wrapped backend
        return getattr(self.backend, name)

    def __repr__(self) -> str:
        return f"Controlled({self.backend!r}, {self.control})"

    def stream(self, messages: Messages | str, sampling: Sampling | None = None,
               **overrides: Any) -> Iterator[StreamChunk]:
        return controlled_stream(self.backend, messages, sampling, self.control, **overrides)

    def _samples(self, sampling: Sampling | None, overrides: dict[str, Any]) -> tuple[Sampling, list[int | None]]:
        """One request per sample (``n=1``), seeds ``seed, seed + 1, …``: a stream yields one completion."""
        params = resolve_sampling(self.defaults, sampling, overrides)
        return params.with_(n=1), [None if params.seed is None else params.seed + i for i in range(params.n)]

    def generate(self, messages: Messages | str, sampling: Sampling | None = None,
                 **overrides: Any) -> list[Completion]:
        params, seeds = self._samples(sampling, overrides)
        return [controlled_generate(self.backend, messages, params, self.control, seed=seed) for seed in seeds]

    async def agenerate(self, messages: Messages | str, sampling: Sampling | None = None,
                        **overrides: Any) -> list[Completion]:
        """The ``n`` samples at once, one thread each (a server batches them; llama.cpp takes turns)."""
        params, seeds = self._samples(sampling, overrides)
        return list(await asyncio.gather(*(
            asyncio.to_thread(controlled_generate, self.backend, messages, params, self.control, seed=seed)
            for seed in seeds)))

    async def astream(self, messages: Messages | str, sampling: Sampling | None = None,
                      **overrides: Any) -> AsyncIterator[StreamChunk]:
        async for chunk in iterate_in_thread(lambda: self.stream(messages, sampling, **overrides)):
            yield chunk


def wrap(backend: ChatBackend, think_budget: int | None = None, loop_guard: bool = True,
         **settings: Any) -> ChatBackend:
    """``backend`` under test-time control (returned as it is when there is nothing to control)."""
    if isinstance(backend, Controlled):
        backend = backend.backend
    control = Control(think_budget=think_budget, loop_guard=loop_guard, **settings)
    return Controlled(backend, control) if control.active else backend
