"""Follow-up rules: "and what about 19?" after "What is 17 * 23?" becomes "What is 17 * 19?"
without a model call; pronouns and very short messages are sent to the condense model."""

from __future__ import annotations

import re

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
