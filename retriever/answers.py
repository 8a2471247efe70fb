"""Answer-string matching, SQuAD/DPR-style: does a passage contain one of a question's answers?"""

from __future__ import annotations

import re
import string

_PUNCT = str.maketrans({ch: " " for ch in string.punctuation})


def normalize(text: str) -> str:
    """Lower case, no punctuation, no articles, single spaces."""
    text = re.sub(r"\b(a|an|the)\b", " ", text.lower().translate(_PUNCT))
    return " ".join(text.split())


def padded(text: str) -> str:
    """`text` normalised with a space on each side, for whole-word search with `has_answer`."""
    return f" {normalize(text)} "


def has_answer(padded_passage: str, answers: list[str]) -> bool:
    """Whether a `padded` passage contains a normalised answer as whole words."""
    return any(f" {a} " in padded_passage for a in answers)
