"""Numbers written in words, turned into digits so a sentence and a passage compare alike:
"eighteen seventy-nine" → 1879, "two thousand and five" → 2005, "three hundred" → 300."""

from __future__ import annotations

import re

_MONTH_NAMES = ("january jan", "february feb", "march mar", "april apr", "may", "june jun", "july jul",
                "august aug", "september sep sept", "october oct", "november nov", "december dec")
MONTHS = {name: names.split()[0] for names in _MONTH_NAMES for name in names.split()}  # spelling → full name
UNITS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve "
                                    "thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split())}
TENS = {w: 10 * i for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), 2)}
SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
_WORD = "|".join(sorted({*UNITS, *TENS, *SCALES}, key=len, reverse=True))
_RUN = re.compile(rf"\b(?:{_WORD})(?:(?:\s+and\s+|[\s-]+)(?:{_WORD}))*\b", re.I)


def words_to_number(words: list[str]) -> int | None:
    """The value of a run of number words, or ``None`` when it does not read as one number."""
    chunks: list[int | str] = []  # numbers below 100 and scale words, in order
    for word in words:
        if word in SCALES:
            chunks.append(word)
        elif word in TENS:
            chunks.append(TENS[word])
        elif chunks and isinstance(chunks[-1], int) and chunks[-1] >= 20 and chunks[-1] % 10 == 0 \
                and UNITS[word] < 10:
            chunks[-1] = chunks[-1] + UNITS[word]  # "seventy" "nine"
        else:
            chunks.append(UNITS[word])
    numbers = [c for c in chunks if isinstance(c, int)]
    if len(numbers) == len(chunks) == 2 and 10 <= numbers[0] <= 99 and 10 <= numbers[1] <= 99:
        return 100 * numbers[0] + numbers[1]  # a year read in pairs: "eighteen seventy-nine"
    total, current = 0, 0
    for chunk in chunks:
        if isinstance(chunk, int):
            if current % 100:  # two numbers side by side without a scale: not one number
                return None
            current += chunk
        elif chunk == "hundred":
            current = (current or 1) * 100
        else:
            total, current = total + (current or 1) * SCALES[chunk], 0
    return total + current


def normalise_numbers(text: str) -> str:
    """``text`` with each run of number words replaced by digits (a lone "one" stays a word)."""
    def replace(m: re.Match[str]) -> str:
        words = [w.lower() for w in re.split(r"[\s-]+", m.group()) if w.lower() != "and"]
        if words == ["one"]:
            return m.group()
        value = words_to_number(words)
        return m.group() if value is None else str(value)

    return _RUN.sub(replace, text)
