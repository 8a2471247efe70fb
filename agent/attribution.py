"""Attribution: does a cited passage state the answer? The test behind the ``grounded`` status.

A knowledge sentence is kept only when every rule holds, and each rule is recorded as a check:

- ``answer_type``: the question asks for a person, date, place, quantity or other entity (wh-word
  rules); the sentence's short answer is the first name, number or date it adds beyond the
  question's own words that fits that type;
- ``answer_in_passage``: every name, number and date the sentence adds occurs in the cited passage,
  compared in normalised form ("1,879", "1879." and "eighteen seventy-nine" are all 1879; words are
  stemmed); the model's own words are never evidence;
- ``passage_about_question``: the passage sentence holding the short answer (read with the passage
  title, the subject of a summary) also holds most of the question's content words, so the passage
  states the answer *to this question*, not just the same words (the Qingming scroll, "China's Mona
  Lisa", does not say who painted the Mona Lisa).

Passage sentences that read like instructions to the assistant are never evidence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from agent.spans import (
    CITATION,
    CONSTRAINTS,
    DATE,
    ENTITY,
    PERSON,
    STOP,
    TYPE_WORDS,
    Span,
    context,
    instruction_like,
    life_role,
    norms,
    other_end,
    question_type,
    spans,
    split_sentences,
    tokens,
)


@dataclass(frozen=True)
class Topic:
    """What a passage sentence about the question must hold: every name (and number) of the question,
    and at least ``min_share`` of its other content words (stemmed)."""

    names: frozenset[str]
    words: frozenset[str]
    runs: tuple[frozenset[str], ...] = ()  # each name of the question ("Mona Lisa") as a set of words
    role: int | None = None  # 0: a birth is asked for, 1: a death (the ends of "(1879 – 1955)")

    @classmethod
    def of(cls, question: str) -> Topic:
        runs = tuple(frozenset(s.norms) for s in spans(question) if s.norms)
        names = frozenset().union(*runs)
        words = frozenset(t.norm for t in tokens(question) if not t.numeric and len(t.text) > 2 and (
            t.text.lower() in CONSTRAINTS or (t.text.lower() not in STOP and t.text.lower() not in TYPE_WORDS))) - names
        return cls(names, words, runs, life_role(question))

    def candidate(self, span: Span, kind: str, question_norms: set[str], title: str = "") -> bool:
        """Whether ``span`` can answer: it fits ``kind`` and adds to the question. A name must not
        restate any question word ("American Revolutionary War" is the war asked about, "China's Mona
        Lisa" names the Mona Lisa), nor be one capitalised word opening its sentence ("Together"); a
        one-word person must be the passage's own subject (its title)."""
        if not span.fits(kind) or not adds_words(span, question_norms):
            return False
        if span.numeric:
            return True
        if any(_restated(w, question_norms) for w in span.norms):
            return False
        lone = len(span.norms) == 1
        return not (lone and (span.first or (kind == PERSON and span.norms[0] not in norms(title))))

    def score(self, context: set[str], min_share: float) -> tuple[bool, float, list[str]]:
        """Whether ``context`` is about the question, the share of question words it holds, which."""
        every = self.names | self.words
        if not every:
            return False, 0.0, []
        shared = sorted(every & context)
        share = len(self.words & context) / len(self.words) if self.words else 1.0
        return self.names <= context and share >= min_share, len(shared) / len(every), shared


def _restated(word: str, question_norms: set[str]) -> bool:
    """A question word, or one sharing its stem ("northern" restates "north")."""
    return word in question_norms or (len(word) >= 4 and any(
        len(q) >= 4 and (word.startswith(q) or q.startswith(word)) for q in question_norms))


def adds_words(span: Span, question_norms: set[str]) -> bool:
    """Whether ``span`` says more than the question ("Northern Africa" only restates "north africa")."""
    return not all(_restated(w, question_norms) for w in span.norms)


@dataclass
class Evidence:
    """Where a passage states a span: the passage number, its sentence, the question words it
    holds, and the other candidate answers of the asked type in that sentence."""

    n: int
    sentence: str
    ok: bool
    about: float
    shared: list[str]
    rivals: list[str] = field(default_factory=list)


def find_evidence(span: Span, topic: Topic, passage: dict[str, Any], min_share: float, kind: str = ENTITY,
                  question_norms: frozenset[str] | set[str] = frozenset()) -> Evidence | None:
    """The passage sentence (read with the title) that holds every word of ``span``, is about the
    question, and names no other candidate of the asked type (the answer is singled out, not one of
    a list: "music by Andrew Lloyd Webber, lyrics by Charles Hart"); ``None`` when no sentence
    holds the span."""
    best = None
    for sentence in split_sentences(passage["text"]):
        if instruction_like(sentence) or sentence.rstrip().endswith("?"):
            continue
        words = context(passage["title"], sentence)
        if not set(span.norms) <= words:
            continue
        ok, about, shared = topic.score(words, min_share)
        wrong_end = other_end(sentence, topic.role) if kind == DATE else set()
        rivals = sorted({c.text for c in spans(sentence) if not set(c.norms) <= set(span.norms)
                         and not set(span.norms) <= set(c.norms) and not wrong_end & set(c.norms)
                         and topic.candidate(c, kind, set(question_norms), passage["title"])})
        ok = ok and not rivals and not wrong_end & set(span.norms)
        evidence = Evidence(passage["n"], sentence, ok, about, shared, rivals)
        if best is None or (evidence.ok, evidence.about) > (best.ok, best.about):
            best = evidence
    return best


def passage_words(passage: dict[str, Any]) -> set[str]:
    """Normalised words of a passage, its instruction-like sentences left out."""
    kept = [s for s in split_sentences(passage["text"]) if not instruction_like(s)]
    return norms(passage["title"] + " " + " ".join(kept))


def check(name: str, ok: bool, detail: str, passage: int | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "outcome": "passed" if ok else "failed", "detail": detail}
    if passage is not None:
        entry["passage"] = passage
    return entry


@dataclass
class Attributed:
    """The attribution of a knowledge answer: kept text with citations, the short answer, checks."""

    text: str = ""
    answer: str | None = None
    used: list[int] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    method: str = "generated"
    about: float = 0.0

    @property
    def ok(self) -> bool:
        return self.answer is not None and bool(self.text)


@dataclass
class Rules:
    """The thresholds of the attribution test (tuned on the even-numbered NQ-open questions)."""

    min_about: float = 0.75     # share of the question's other words in the answer's passage sentence + title
    min_support: float = 0.5    # share of a kept sentence's content words found in its passage
    min_about_extract: float = 1.0  # the same for a sentence quoted from a passage (no model answer behind it)


def content_words(text: str) -> set[str]:
    """Normalised words that carry meaning (numbers included, stop words left out)."""
    return {t.norm for t in tokens(text) if t.numeric or (len(t.text) > 2 and t.text.lower() not in STOP)}


def _clean(sentence: str) -> str:
    clean = re.sub(r"\s+([.!?,;:])", r"\1", CITATION.sub("", sentence)).strip()
    return clean[:-1].rstrip() if clean[-1:] in ".!?" else clean


def _title(p: dict[str, Any]) -> str:
    return f"[{p['n']}] {p['title']}"


def attribute(question: str, answer: str, passages: Sequence[dict[str, Any]], rules: Rules | None = None) -> Attributed:
    """Keep the sentences of a generated ``answer`` whose names, numbers and dates a passage holds,
    and find the short answer: a span of the asked type that a passage about the question states.

    Sentences are tried against the passages they cite first, then the others (a small model often
    cites the wrong number); a kept sentence cites the passage that passed.
    """
    rules = rules or Rules()
    kind, topic, qnorms = question_type(question), Topic.of(question), norms(question)
    words = {p["n"]: passage_words(p) for p in passages}
    result = Attributed()
    for sentence in split_sentences(answer):
        body = _clean(sentence)
        content = content_words(body)
        if not content:
            continue
        if instruction_like(body):
            result.dropped.append(sentence)
            result.checks.append(check("sentence_dropped", False, f"reads like an instruction: {_quote(body)}"))
            continue
        novel = [s for s in spans(body) if adds_words(s, qnorms)]
        cited = [int(n) for n in CITATION.findall(sentence)]
        order = sorted(passages, key=lambda p: p["n"] not in cited)
        kept, why = None, ""
        for p in order:
            missing = [s.text for s in novel if not set(s.norms) <= words[p["n"]]]
            share = len(content & words[p["n"]]) / len(content)
            if missing or share < rules.min_support:
                why = why or (f"{', '.join(map(repr, missing))} not in {_title(p)}" if missing else
                              f"only {share:.0%} of its words are in {_title(p)}")
                continue
            typed = [s for s in novel if topic.candidate(s, kind, qnorms, p["title"])]
            if result.answer is None and typed:
                found = _best_evidence(typed, topic, p, rules.min_about, kind, qnorms)
                if found is None or not found[1].ok:
                    why = why or _about_failure(typed, found, p)
                    continue
                span, evidence = found
                _accept(result, kind, span, evidence, p)
            kept = p
            break
        if kept is None:
            result.dropped.append(sentence)
            result.checks.append(check("sentence_dropped", False, f"{_quote(body)}: {why or 'no passage'}"))
            continue
        result.text = f"{result.text} {body} [{kept['n']}].".strip()
        if kept["n"] not in result.used:
            result.used.append(kept["n"])
    if result.answer is None:
        result.checks.append(check("generated_answer", False, f"no generated sentence states a {kind} beyond the "
                                                              "question's own words that a passage about the "
                                                              "question holds"))
    return result


def _best_evidence(typed: Sequence[Span], topic: Topic, p: dict[str, Any], min_share: float, kind: str,
                   question_norms: set[str]) -> tuple[Span, Evidence] | None:
    """The first typed span with the passage sentence most about the question."""
    best = None
    for span in typed:
        evidence = find_evidence(span, topic, p, min_share, kind, question_norms)
        if evidence is not None and (best is None or (evidence.ok, evidence.about) > (best[1].ok, best[1].about)):
            best = (span, evidence)
    return best


def _about_failure(typed: Sequence[Span], found: tuple[Span, Evidence] | None, p: dict[str, Any]) -> str:
    if found is None:
        return f"{typed[0].text!r} is not stated in one sentence of {_title(p)}"
    span, evidence = found
    if evidence.rivals and evidence.about:
        return (f"{span.text!r} is in {_title(p)}, but its sentence also names "
                f"{', '.join(map(repr, evidence.rivals[:3]))}: it does not single out the answer")
    return (f"{span.text!r} is in {_title(p)}, but not in a sentence about the question (it holds "
            f"{evidence.about:.0%} of the question's words: {', '.join(evidence.shared) or 'none'})")


def _accept(result: Attributed, kind: str, span: Span, evidence: Evidence, p: dict[str, Any]) -> None:
    result.answer, result.about = span.text, evidence.about
    result.checks += [
        check("answer_type", True, f"the question asks for a {kind}; the answer {span.text!r} is one"),
        check("answer_in_passage", True, f"{span.text!r} occurs in {_title(p)}: {_quote(evidence.sentence)}",
              p["n"]),
        check("passage_about_question", True, f"that sentence (with the title) holds the question's names and "
                                              f"{evidence.about:.0%} of its words: {', '.join(evidence.shared)}",
              p["n"]),
    ]


def extract(question: str, passages: Sequence[dict[str, Any]], rules: Rules | None = None,
            max_sentences: int = 8) -> Attributed:
    """An extractive answer under the same test: the passage sentence most about the question, if it
    holds exactly one name, number or date of the asked type beyond the question's words."""
    rules = rules or Rules()
    kind, topic, qnorms = question_type(question), Topic.of(question), norms(question)
    best = None
    for order, p in enumerate(passages):
        for i, sentence in enumerate(split_sentences(p["text"])[:max_sentences]):
            if instruction_like(sentence) or sentence.rstrip().endswith("?"):
                continue
            ok, about, _ = topic.score(context(p["title"], sentence), rules.min_about_extract)
            if best is None or (ok, about, -order, -i) > best[0]:
                best = ((ok, about, -order, -i), sentence, p)
    result = Attributed(method="extractive")
    if best is None or not best[0][0]:
        result.checks.append(check("passage_about_question", False, "no passage sentence holds the question's "
                                   f"names and {rules.min_about_extract:.0%} of its words"))
        return result
    _, sentence, p = best
    wrong_end = other_end(sentence, topic.role) if kind == DATE else set()
    typed = list({s.text: s for s in spans(sentence) if topic.candidate(s, kind, qnorms, p["title"])
                  and not wrong_end & set(s.norms)}.values())
    if len(typed) != 1:
        result.checks.append(check("answer_type", False, f"the sentence of {_title(p)} most about the question "
                                   f"holds {len(typed)} candidate {kind}s, not one", p["n"]))
        return result
    evidence = find_evidence(typed[0], topic, p, rules.min_about_extract, kind, qnorms)
    assert evidence is not None and evidence.ok
    _accept(result, kind, typed[0], evidence, p)
    result.text, result.used = f"{_clean(sentence)} [{p['n']}].", [p["n"]]
    return result


def _quote(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return f'"{text}"' if len(text) <= limit else f'"{text[:limit].rsplit(" ", 1)[0]} …"'
