"""Keep knowledge answers honest: every kept sentence is supported by a cited passage.

A sentence counts as supported when most of its content words occur in one retrieved
passage; unsupported sentences are dropped, wrong citation numbers removed, missing ones
added. When nothing generated survives, the answer is extracted from the passages.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

STOPWORDS = frozenset("""a an the and or but if of to in on at by for with from as is are was were be been
being it its this that these those there here which who whom whose what when where why how not no yes
do does did has have had can could would should will shall may might must i you he she they we me him
her them us my your his their our than then so such also into about over after before between during
only very more most some any each other all both few many much own same just answer question passage
passages according based""".split())
_WORD = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*", re.U)
_CITE = re.compile(r"\[(\d{1,3})\]")
_SENT = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"')\]]))\s+(?=[\"'(\[]?[A-Z0-9])")


def content_words(text: str) -> set[str]:
    """Lower-cased words that carry meaning (numbers included, stop words left out)."""
    words = (w.lower() for w in _WORD.findall(_CITE.sub(" ", text)))
    return {w for w in words if (len(w) > 2 or w.isdigit()) and w not in STOPWORDS}


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENT.split(text.strip()) if s.strip()]


def support(sentence: str, passage: str) -> float:
    """Share of the sentence's content words found in the passage (1.0 when it has none)."""
    words = content_words(sentence)
    return 1.0 if not words else len(words & content_words(passage)) / len(words)


@dataclass
class Grounded:
    """A checked answer: text with valid citations, the passage numbers used, what was dropped."""

    text: str
    used: list[int] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    method: str = "generated"


def ground_answer(answer: str, passages: Sequence[dict[str, Any]], min_support: float = 0.6,
                  question: str | None = None, min_topic: float = 0.5) -> Grounded:
    """Keep the sentences of ``answer`` that a passage supports, each citing that passage.

    With ``question``, a passage can support a sentence only if it is about the question too (it
    holds at least ``min_topic`` of the question's content words): a true sentence from an
    unrelated passage does not answer the question.
    """
    if question is not None:
        passages = [p for p in passages if support(question, f"{p['title']} {p['text']}") >= min_topic]
    by_n = {p["n"]: p for p in passages}
    kept, used, dropped = [], [], []
    for sentence in split_sentences(answer):
        if len(content_words(sentence)) == 0:
            continue
        cited = [int(n) for n in _CITE.findall(sentence) if int(n) in by_n]
        scored = sorted(((support(sentence, f"{p['title']} {p['text']}"), p["n"]) for p in passages), reverse=True)
        best_score, best_n = scored[0] if scored else (0.0, None)
        cited_ok = [n for n in cited if support(sentence, f"{by_n[n]['title']} {by_n[n]['text']}") >= min_support]
        if not cited_ok and best_score < min_support:
            dropped.append(sentence)
            continue
        refs = cited_ok or [best_n]
        clean = _CITE.sub("", sentence).rstrip()
        clean = re.sub(r"\s+([.!?,;:])", r"\1", clean)
        tail = clean[-1] if clean and clean[-1] in ".!?" else ""
        body = clean[:-1] if tail else clean
        kept.append(body.rstrip() + " " + "".join(f"[{n}]" for n in refs) + (tail or "."))
        used.extend(n for n in refs if n not in used)
    return Grounded(" ".join(kept), used, dropped)


def extract_answer(question: str, passages: Sequence[dict[str, Any]], max_sentences: int = 2) -> Grounded:
    """The passage sentences that share most content words with the question, with citations."""
    q = content_words(question)
    candidates = []
    for order, p in enumerate(passages):
        for i, sentence in enumerate(split_sentences(p["text"])[:8]):
            overlap = len(q & content_words(f"{p['title']} {sentence}"))
            candidates.append((overlap, -order, -i, sentence, p["n"]))
    candidates.sort(reverse=True)
    chosen = [c for c in candidates[:max_sentences] if c[0] > 0]  # a sentence must share a word
    chosen.sort(key=lambda c: (-c[1], -c[2]))
    text = " ".join(f"{s.rstrip('.')} [{n}]." for *_, s, n in chosen)
    used = list(dict.fromkeys(n for *_, n in chosen))
    return Grounded(text, used, [], method="extractive")


_FOLLOW_UP = re.compile(r"^\s*(?:and|but|ok(?:ay)?|so)?[\s,]*(?:what|how)\s+about\s+(.+?)\s*[?.!]*\s*$", re.I)
_NUMBER = re.compile(r"(?<![\w)])-?\d+(?:\.\d+)?")
_ENTITY = re.compile(r"(?:[A-Z][\w'-]+)(?:\s+(?:of|the|de|von|van|[A-Z][\w'-]+))*")
_DEICTIC = re.compile(r"\b(it|its|he|she|him|her|his|they|them|their|this|that|those|these|there|then)\b", re.I)


def substitute_follow_up(previous: str, follow_up: str) -> str | None:
    """"and what about 19?" after "What is 17 * 23?" → "What is 17 * 19?"; ``None`` if no rule fits."""
    m = _FOLLOW_UP.match(follow_up)
    if not m:
        return None
    new = m.group(1)
    if _NUMBER.fullmatch(new):
        numbers = list(_NUMBER.finditer(previous))
        if numbers:
            last = numbers[-1]
            return previous[:last.start()] + new + previous[last.end():]
        return None
    entities = [e for e in _ENTITY.finditer(previous) if e.start() > 0]
    if entities:
        last = entities[-1]
        return previous[:last.start()] + new + previous[last.end():]
    return None


def needs_context(question: str) -> bool:
    """Whether a message probably leans on the conversation (pronouns, "what about", very short)."""
    return bool(_FOLLOW_UP.match(question) or _DEICTIC.search(question) or len(question.split()) <= 2)
