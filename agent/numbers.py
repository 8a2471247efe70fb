"""Numbers written in words, turned into digits so a sentence and a passage compare alike:
"eighteen seventy-nine" → 1879, "two thousand and five" → 2005 (text2num's ``alpha2digit``, plus
the year read in pairs, which it leaves as "18 79")."""

from __future__ import annotations

import re

from text_to_num import alpha2digit

_MONTH_NAMES = ("january jan", "february feb", "march mar", "april apr", "may", "june jun", "july jul",
                "august aug", "september sep sept", "october oct", "november nov", "december dec")
MONTHS = {name: names.split()[0] for names in _MONTH_NAMES for name in names.split()}  # spelling → full name
_TEENS = {w: i for i, w in enumerate("ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen "
                                     "nineteen twenty".split(), 10)}
_TENS = {w: 10 * i for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), 2)}
_UNITS = {w: i for i, w in enumerate("one two three four five six seven eight nine".split(), 1)}
_YEAR = re.compile(rf"\b({'|'.join(_TEENS)})\s+({'|'.join(_TENS)})(?:[\s-]({'|'.join(_UNITS)}))?\b", re.I)


def _year(m: re.Match[str]) -> str:
    high, tens, unit = (g.lower() if g else g for g in m.groups())
    return str(100 * _TEENS[high] + _TENS[tens] + (_UNITS[unit] if unit else 0))


def normalise_numbers(text: str) -> str:
    """``text`` with number words as digits (a lone "one" stays a word, as text2num leaves it)."""
    text = _YEAR.sub(_year, text)
    try:
        return alpha2digit(text, "en")
    except Exception:  # odd input only loses number words
        return text
