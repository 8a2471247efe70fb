"""The graph's nodes. Each is an async function of the state that returns the fields it sets,
and records the tokens, seconds and backend it used under ``usage[node]``."""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
from langgraph.config import get_stream_writer

from agent import prompts
from agent.attribution import Attributed, attribute, extract
from agent.components import Components
from agent.followup import needs_context, substitute_follow_up
from agent.state import AgentState
from agent.verdict import judge
from reasoner import Completion, control, tts
from reasoner.parsing import last_number

MAX_QUESTION_CHARS = 8000


class AgentInputError(ValueError):
    """The question cannot be answered as given (empty, wrong type)."""


def record(state: AgentState, node: str, started: float, completions: Sequence[Completion] = (),
           backend: str = "", **extra: Any) -> dict[str, dict[str, Any]]:
    """``usage`` with one more node entry."""
    entry = {"prompt_tokens": sum(c.prompt_tokens for c in completions),
             "completion_tokens": sum(c.completion_tokens for c in completions),
             "seconds": round(time.perf_counter() - started, 4),
             "backend": backend or (f"{completions[0].backend}:{completions[0].model}" if completions else ""),
             **extra}
    return {**state.get("usage", {}), node: entry}


def emit(event: dict[str, Any]) -> None:
    """Send a custom stream event (tokens); a no-op outside ``stream_mode="custom"``."""
    with contextlib.suppress(RuntimeError):  # not running inside a graph
        get_stream_writer()(event)


class Nodes:
    """The node functions, bound to the components they run on."""

    def __init__(self, parts: Components) -> None:
        self.parts = parts
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._vectors_lock = threading.Lock()

    # -- helpers ------------------------------------------------------------------------
    def vector(self, text: str) -> np.ndarray:
        """The question's embedding, computed once and shared by the router and dense search."""
        with self._vectors_lock:
            if text in self._vectors:
                return self._vectors[text]
        vector = self.parts.embedder.get().encode_query(text)
        with self._vectors_lock:
            self._vectors[text] = vector
            while len(self._vectors) > 256:
                self._vectors.popitem(last=False)
        return vector

    async def reasoner(self) -> Any:
        """The reasoner backend, loaded off the event loop on first use."""
        return await asyncio.to_thread(self.parts.reasoner.get)

    def sampling(self, state: AgentState) -> dict[str, Any]:
        options, settings = state.get("options") or {}, self.parts.settings
        return {"max_tokens": options.get("max_tokens") or settings.reasoner_max_tokens,
                "temperature": options.get("temperature", settings.reasoner_temperature),
                "seed": options.get("seed")}

    async def complete(self, backend: Any, messages: list[dict[str, str]], stream: bool, **sampling: Any) -> Completion:
        """One completion, streaming its tokens as custom events when asked to. A generation never
        outlives the request timeout (a thread cannot be cancelled, so the backend stops itself)."""
        limits = [t for t in (backend.defaults.timeout, self.parts.settings.request_timeout) if t]
        sampling.setdefault("timeout", min(limits) if limits else None)
        if not stream:
            return (await backend.agenerate(messages, **sampling))[0]
        completion = None
        async for chunk in backend.astream(messages, **sampling):
            if chunk.delta:
                emit({"token": chunk.delta})
            completion = chunk.completion or completion
        assert completion is not None
        return completion

    # -- nodes --------------------------------------------------------------------------
    async def condense(self, state: AgentState) -> dict[str, Any]:
        """Turn a follow-up into a standalone question; reset the per-turn fields."""
        started = time.perf_counter()
        question = state.get("question")
        if not isinstance(question, str) or not question.strip():
            raise AgentInputError("the question is empty: ask something, e.g. \"What is 17 * 23?\"")
        notes: list[str] = []
        question = question.strip()
        if len(question) > MAX_QUESTION_CHARS:
            notes.append(f"the question was truncated from {len(question)} to {MAX_QUESTION_CHARS} characters")
            question = question[:MAX_QUESTION_CHARS]
        history, previous = state.get("history") or [], state.get("standalone_question")
        standalone, method, completions = question, "as-is", []
        if history and previous and needs_context(question):
            rewritten = substitute_follow_up(previous, question)
            method = "rule"
            if rewritten is None:
                method = "model"
                completion = (await (await self.reasoner()).agenerate(
                    prompts.condense_messages(history, question), temperature=0.0, max_tokens=64))[0]
                completions.append(completion)
                rewritten = _clean_rewrite(completion.answer or completion.text)
            if rewritten is None:
                method = "fallback"
                rewritten = f"{question} (follow-up to: {previous})"
            standalone = rewritten
        return {"standalone_question": standalone, "notes": notes, "passages": [], "relevant": [],
                "citations": [], "escalated": False, "grounded": False, "tts": None, "reasoning": None,
                "final_answer": None, "answer": "", "status": "", "route_scores": {}, "checks": [],
                "usage": record({}, "condense", started, completions, backend="rules" if not completions else "",
                                method=method)}

    async def route(self, state: AgentState) -> dict[str, Any]:
        """Choose reason, knowledge or mixed: the forced route, else the verifiability router."""
        started = time.perf_counter()
        forced = state.get("forced_route")
        if forced:
            return {"route": forced, "route_scores": {forced: 1.0},
                    "usage": record(state, "route", started, backend="forced")}
        question = state["standalone_question"]
        vector = await asyncio.to_thread(self.vector, question)
        router = await asyncio.to_thread(self.parts.router.get)
        decision = router.predict(question, vector=vector)
        return {"route": decision.route, "route_scores": decision.scores,
                "usage": record(state, "route", started, backend="router")}

    async def retrieve(self, state: AgentState) -> dict[str, Any]:
        """Hybrid search; hits are numbered from 1."""
        started = time.perf_counter()
        question = state["standalone_question"]
        index = await asyncio.to_thread(self.parts.retriever.get)
        vector = await asyncio.to_thread(self.vector, question)
        hits = await asyncio.to_thread(index.search, question, self.parts.settings.retrieve_k, "hybrid", vector)
        passages = [{"n": i, "id": h.id, "title": h.title, "text": h.text, "source": h.source,
                     "score": float(h.score), "dense": (getattr(h, "scores", None) or {}).get("dense")}
                    for i, h in enumerate(hits, 1)]
        return {"passages": passages, "usage": record(state, "retrieve", started, backend="hybrid")}

    async def grade(self, state: AgentState) -> dict[str, Any]:
        """Keep passages whose cosine similarity to the question clears the threshold (the dense
        search's own score when it has one; the rest are embedded here)."""
        started = time.perf_counter()
        passages = state.get("passages") or []
        missing = [p for p in passages if p.get("dense") is None]
        if missing:
            vector = await asyncio.to_thread(self.vector, state["standalone_question"])
            vectors = await asyncio.to_thread(
                self.parts.embedder.get().encode, [f"{p['title']}\n{p['text']}" for p in missing])
            for p, similarity in zip(missing, vectors @ vector, strict=True):
                p["dense"] = float(similarity)
        threshold = self.parts.settings.grade_threshold
        for p in passages:
            p["relevance"] = round(float(p["dense"]), 4)
        relevant = [p["n"] for p in passages if p["relevance"] >= threshold]
        return {"passages": passages, "relevant": relevant,
                "usage": record(state, "grade", started, backend="embedding-cosine", embedded=len(missing))}

    async def reason(self, state: AgentState) -> dict[str, Any]:
        """The small reasoner on the standalone question (with the facts on the mixed route), under
        the loop guard and thinking budget; with ``tts`` it samples k answers and selects one."""
        started = time.perf_counter()
        options, settings = state.get("options") or {}, self.parts.settings
        mixed = state.get("route") == "mixed"
        relevant = state.get("relevant") or []
        passages = state.get("passages") or []
        facts = prompts.numbered_passages(passages, relevant) if mixed and relevant else ""
        messages = prompts.reason_messages(state["standalone_question"], facts)
        backend = control.wrap(await self.reasoner(),
                               think_budget=options.get("think_budget") or settings.think_budget,
                               calculator=options.get("calculator") or settings.calculator)
        method = options.get("tts") or settings.tts
        tts_field = None
        if method != "none":
            completion, tts_field = await tts.answer_with_tts(
                backend, messages, method, options.get("k") or settings.tts_k,
                max_tokens=self.sampling(state)["max_tokens"], seed=options.get("seed"))
            if completion is None:
                raise RuntimeError("test-time scaling produced no candidate answer")
            emit({"token": completion.answer or completion.text})
        else:
            completion = await self.complete(backend, messages, stream=True, **self.sampling(state))
        answer = completion.answer or completion.text.strip()
        final = completion.final_answer or last_number(answer)
        cited = [p for p in passages if p["n"] in relevant] if mixed else []
        checking = time.perf_counter()
        judged = await asyncio.to_thread(
            judge, state["standalone_question"], completion.text or answer, answer, final,
            truncated=completion.truncated, tts=tts_field, facts=cited if mixed else None)
        checks_seconds = round(time.perf_counter() - checking, 5)
        notes = list(state.get("notes") or []) + judged.notes
        if tts_field is not None and not tts_field["confident"]:
            notes.append(f"the {method} winner's confidence is below {tts_field['threshold']}")
        if mixed and not relevant:
            notes.append("no relevant fact was found in the knowledge base; the reasoner answered alone")
        ctl = completion.extra.get("control") or {}
        if ctl.get("loop_guard") or ctl.get("budget_forced"):
            notes.append("reasoning control: " + ", ".join(k for k in ("loop_guard", "budget_forced") if ctl.get(k)))
        return {"answer": judged.answer, "final_answer": judged.final_answer, "reasoning": completion.reasoning,
                "citations": [_citation(p) for p in cited], "grounded": judged.status == "grounded",
                "status": judged.status, "checks": judged.checks, "notes": notes, "tts": tts_field,
                "usage": record(state, "reason", started, [completion], truncated=completion.truncated,
                                control=ctl or None, checks_seconds=checks_seconds,
                                calculator=completion.extra.get("calculator"))}

    async def answer(self, state: AgentState) -> dict[str, Any]:
        """A knowledge answer written from the relevant passages and attributed: kept only when a
        passage about the question states its short answer (else an extractive answer under the same
        test, else abstain or escalate)."""
        started = time.perf_counter()
        question = state["standalone_question"]
        keep = set(state.get("relevant") or [])
        passages = sorted((p for p in state.get("passages") or [] if p["n"] in keep),
                          key=lambda p: -p.get("relevance", 0.0))[:self.parts.settings.answer_passages]
        messages = prompts.knowledge_messages(question, prompts.numbered_passages(passages, limit=500))
        completion = await self.complete(await self.reasoner(), messages, stream=False,
                                         **{**self.sampling(state), "temperature": 0.0})
        checking = time.perf_counter()
        checked = attribute(question, completion.answer or completion.text, passages)
        if not checked.ok:
            extracted = extract(question, passages)
            extracted.checks = checked.checks + extracted.checks
            extracted.dropped = checked.dropped
            checked = extracted
        checks_seconds = round(time.perf_counter() - checking, 5)
        notes = list(state.get("notes") or [])
        if checked.dropped:
            notes.append(f"{len(checked.dropped)} generated sentence(s) no passage states were dropped")
        if not checked.ok:  # no passage about the question states an answer: abstain or escalate
            notes.append("no retrieved passage states an answer to the question, so none is given from them")
            shown = {p["n"]: p["n"] for p in (state.get("passages") or [])[:3]}  # escalate lists these
            update = await self.escalate({**state, "notes": notes,
                                          "checks": renumber_checks(checked.checks, shown)})
            update["usage"]["answer"] = record(state, "answer", started, [completion], method="abstained",
                                               checks_seconds=checks_seconds)["answer"]
            return update
        text, citations, checks = _renumber(checked, passages)
        emit({"token": text})
        if checked.method == "extractive":
            notes.append("the generated answer failed the attribution checks; the answer is quoted from a passage")
        return {"answer": text, "final_answer": checked.answer, "reasoning": completion.reasoning,
                "citations": citations, "grounded": True, "status": "grounded", "notes": notes, "checks": checks,
                "usage": record(state, "answer", started, [completion], method=checked.method,
                                checks_seconds=checks_seconds)}

    async def escalate(self, state: AgentState) -> dict[str, Any]:
        """No relevant passage: ask the larger model if one is configured, else say so plainly."""
        started = time.perf_counter()
        question = state["standalone_question"]
        closest = (state.get("passages") or [])[:3]
        notes = list(state.get("notes") or [])
        checks = list(state.get("checks") or [])
        large = self.parts.knowledge
        if large is None:
            listing = "\n".join(f"[{i}] {p['title']}: {prompts.quote(p['text'], 200)}" for i, p in enumerate(closest, 1))
            text = ("The knowledge base does not cover this question: no retrieved passage states its answer, "
                    "and no larger model is configured (set CORECOVER_KNOWLEDGE_BASE_URL and "
                    "CORECOVER_KNOWLEDGE_MODEL to escalate), so corecover abstains."
                    + (f"\n\nClosest passages found (they do not state the answer):\n{listing}" if closest else ""))
            citations = [{**_citation(p), "n": i, "supports_answer": False} for i, p in enumerate(closest, 1)]
            emit({"token": text})
            return {"answer": text, "final_answer": None, "citations": citations, "grounded": False,
                    "escalated": False, "status": "not_grounded", "notes": notes, "checks": checks,
                    "usage": record(state, "escalate", started, backend="none")}
        messages = [{"role": "system", "content": "Answer the question accurately and concisely."},
                    {"role": "user", "content": question}]
        completion = await self.complete(large, messages, stream=True)
        why = "the reasoner was not confident" if state.get("status") == "low_confidence" else \
            "no retrieved passage states the answer"
        notes.append(f"escalated: answered by the larger model {large.model} ({why}); not grounded in the "
                     "knowledge base")
        checks.append({"name": "larger_model", "outcome": "skipped", "detail": f"{large.model} answered; nothing "
                       "checks its answer against the knowledge base"})
        return {"answer": completion.answer or completion.text.strip(), "final_answer": completion.final_answer,
                "reasoning": completion.reasoning, "citations": [], "grounded": False, "escalated": True,
                "status": "escalated", "notes": notes, "checks": checks,
                "usage": record(state, "escalate", started, [completion])}

    def after_reason(self, state: AgentState) -> str:
        """A low-confidence answer goes to the larger model when one is configured."""
        low = state.get("status") == "low_confidence"
        return "escalate" if low and self.parts.knowledge is not None else "finalize"

    async def finalize(self, state: AgentState) -> dict[str, Any]:
        """Assemble the answer object and append the turn to the thread's history."""
        usage = dict(state.get("usage") or {})
        usage["total"] = {key: round(sum(u.get(key, 0) for u in usage.values()), 4)
                          for key in ("prompt_tokens", "completion_tokens", "seconds")}
        result = {
            "question": state["question"],
            "standalone_question": state.get("standalone_question", state["question"]),
            "route": state.get("route"),
            "route_scores": state.get("route_scores", {}),
            "escalated": bool(state.get("escalated")),
            "answer": state.get("answer", ""),
            "final_answer": state.get("final_answer"),
            "reasoning": state.get("reasoning"),
            "citations": state.get("citations", []),
            "grounded": bool(state.get("grounded")),
            "verified": state.get("status") == "verified",
            "status": state.get("status", ""),
            "checks": state.get("checks", []),
            "notes": state.get("notes", []),
            "tts": state.get("tts"),
            "usage": usage,
        }
        turn = [{"role": "user", "content": state["question"]},
                {"role": "assistant", "content": result["answer"]}]
        # forced_route and options are inputs of one turn: cleared so the next turn starts fresh
        return {"result": result, "usage": usage, "history": turn, "forced_route": None, "options": {}}


def after_route(state: AgentState) -> str:
    return "reason" if state.get("route") == "reason" else "retrieve"


def after_grade(state: AgentState) -> str:
    if state.get("route") == "mixed":
        return "reason"
    return "answer" if state.get("relevant") else "escalate"


def _citation(p: dict[str, Any]) -> dict[str, Any]:
    return {"n": p["n"], "id": p["id"], "title": p["title"], "text": p["text"], "source": p["source"],
            "score": p["score"], "relevance": p.get("relevance")}


def _renumber(checked: Attributed, passages: Sequence[dict[str, Any]]
              ) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
    """Number the cited passages 1..m in order of first use; rewrite the markers and checks to match."""
    mapping = {old: new for new, old in enumerate(checked.used, 1)}
    text = re.sub(r"\[(\d+)\]", lambda m: f"[{mapping.get(int(m.group(1)), m.group(1))}]", checked.text)
    by_n = {p["n"]: p for p in passages}
    return text, [{**_citation(by_n[old]), "n": new} for old, new in mapping.items()], \
        renumber_checks(checked.checks, mapping)


def renumber_checks(checks: Sequence[dict[str, Any]], mapping: dict[int, int]) -> list[dict[str, Any]]:
    """Checks that name passages as the user sees them: "[n] Title" with the shown number, or the
    title alone for a passage that is not shown."""
    def number(m: re.Match[str]) -> str:
        old = int(m.group(1))
        return f"[{mapping[old]}] " if old in mapping else ""

    out = []
    for c in checks:
        c = {**c, "detail": re.sub(r"\[(\d+)\] ", number, c["detail"])}
        if "passage" in c:
            if c["passage"] in mapping:
                c["passage"] = mapping[c["passage"]]
            else:
                del c["passage"]
        out.append(c)
    return out


def _clean_rewrite(text: str) -> str | None:
    line = text.strip().splitlines()[0].strip().strip('"') if text.strip() else ""
    line = re.sub(r"^(standalone question|question)\s*:\s*", "", line, flags=re.I)
    return line if 3 <= len(line) <= 400 else None
