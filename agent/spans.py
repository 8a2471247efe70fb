"""Names, numbers and dates in text, normalised for matching: the vocabulary of attribution.

:func:`tokens` turns number words into digits and stems words; :func:`spans` finds the names
("Leonardo da Vinci") and numbers or dates ("14 March 1879") a sentence states; :func:`question_type`
reads the answer type a question asks for from its wh-words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import Stemmer

from agent.numbers import MONTHS, normalise_numbers

PERSON, DATE, PLACE, QUANTITY, ENTITY = "person", "date", "place", "quantity", "entity"

STOP = frozenset("""a an the and or but if of to in on at by for with from as is are was were be been being
it its this that these those there here which who whom whose what when where why how not no yes do does
did has have had can could would should will shall may might must i you he she they we me him her them us
my your his their our than then so such also into about over after before between during only very more
most some any each other all both few many much own same just one first last answer question passage
passages according based name named called known""".split())
CONSTRAINTS = frozenset({"first", "last"})  # stop words that still pick which answer: "the first X"
TYPE_WORDS = frozenset("year date day month time century decade period place country city state number "
                       "amount percentage people person".split())
_TOKEN = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?|[^\W\d_]+(?:['’][^\W\d_]+)?", re.U)
CITATION = re.compile(r"\[(\d{1,3})\]")
_SENT = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"')\]]))(?<!\b[A-Z]\.)(?<!\b(?:Jr|Sr|St|Dr|Mr|Ms|vs|No)\.)"
                   r"(?<!\bMrs\.)(?<!\bU\.S\.)\s+(?=[\"'(\[]?[A-Z0-9])")
_CONNECT = frozenset("of the de da di del della von van der le la du y bin al".split())
_NUMERIC_WORDS = frozenset("bc ad bce ce century centuries decade million billion thousand hundred trillion "
                           "percent st nd rd th s".split())
_MONTH_SET = frozenset(MONTHS.values())
_DEMONYM = ("an", "ese", "ish", "ch", "ic", "i")
_INSTRUCTION = re.compile(
    r"\b(ignore|disregard|forget)\b.{0,40}\b(instruction|prompt|above|previous|rules)|\byou (must|should) "
    r"(answer|say|reply|respond)|\b(answer|reply|respond) (with|only)\b|\b(system|assistant)\s*:|"
    r"\bas an ai\b", re.I)
_QTYPES = (
    (QUANTITY, re.compile(r"\bhow (many|much|long|old|far|big|tall|high|deep|large|fast|often|heavy)\b|"
                          r"\bwhat (percentage|number|amount|population)\b|\bnumber of\b", re.I)),
    (DATE, re.compile(r"\bwhen\b|\b(what|which) (year|date|day|month|century|decade|time period|era)\b|"
                      r"\bwhat time\b|\bhow long ago\b|\bin what year\b", re.I)),
    (PLACE, re.compile(r"\bwhere\b|\b(what|which|in what) (country|city|state|continent|place|region|county|"
                       r"river|island|ocean|sea|province|town|capital)\b", re.I)),
    (PERSON, re.compile(r"^\s*(who|whom|whose)\b|\bwho\b|\b(what|which) (person|artist|author|actor|actress|"
                        r"singer|band|company|team|player|president|king|queen|scientist|composer|painter|"
                        r"writer|director|character|group)\b", re.I)),
)

_stemmer = Stemmer.Stemmer("english")


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    return _stemmer.stemWord(word)


@dataclass(frozen=True)
class Token:
    text: str
    norm: str
    numeric: bool
    gap: str  # the characters between the previous token and this one, stripped


@lru_cache(maxsize=16384)
def tokens(text: str) -> tuple[Token, ...]:
    """Words and numbers of ``text`` (number words turned into digits), normalised for matching:
    numbers lose thousands separators and trailing dots, months their abbreviations, words are stemmed."""
    text = normalise_numbers(CITATION.sub(" ", text))
    out, end = [], 0
    for m in _TOKEN.finditer(text):
        word, gap, end = m.group(), text[end:m.start()].strip(), m.end()
        if word[0].isdigit():
            number = word.replace(",", "")
            number = number.rstrip("0").rstrip(".") if "." in number else number.lstrip("0") or "0"
            out.append(Token(word, number, True, gap))
            continue
        lower = word.lower().replace("’", "'").removesuffix("'s")
        if lower in MONTHS and word[0].isupper():
            norm = MONTHS[lower]
        elif lower in _NUMERIC_WORDS:
            norm = lower
        else:
            norm = _stem(lower)
        out.append(Token(word, norm, False, gap))
    return tuple(out)


@lru_cache(maxsize=16384)
def _norms(text: str) -> frozenset[str]:
    return frozenset(t.norm for t in tokens(text))


def norms(text: str) -> set[str]:
    """The normalised words and numbers of ``text``."""
    return set(_norms(text))


def question_type(question: str) -> str:
    """person, date, place, quantity or entity, from the wh-words (first matching rule wins)."""
    for kind, pattern in _QTYPES:
        if pattern.search(question):
            return kind
    return ENTITY


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENT.split(text.strip()) if s.strip()]


@dataclass(frozen=True)
class Span:
    """A name, number or date in a text: its words and their normalised forms."""

    text: str
    norms: tuple[str, ...]
    numeric: bool
    first: bool = False  # it opens its sentence (a capital there need not mark a name)

    def fits(self, kind: str) -> bool:
        if kind in (PERSON, PLACE):
            return not self.numeric
        if kind == QUANTITY:
            return self.numeric and any(n[0].isdigit() for n in self.norms)
        if kind == DATE:  # a year, a century or decade, or a day with its month (a month alone is vague)
            era = any(n in ("century", "centuries", "decade", "bc", "ad", "bce", "ce") for n in self.norms)
            year = any(n.isdigit() and 100 <= int(n) <= 2100 for n in self.norms)
            day = any(n in _MONTH_SET for n in self.norms) and any(n.isdigit() and int(n) <= 31 for n in self.norms)
            return self.numeric and (era or year or day)
        return True


def _is_month(t: Token) -> bool:
    return t.norm in _MONTH_SET and t.text[0].isupper()


def spans(text: str) -> list[Span]:
    """Names (runs of capitalised words, "Leonardo da Vinci") and numbers/dates ("14 March 1879");
    a span ends at punctuation (a comma may sit inside a date: "March 14, 1879")."""
    toks = tokens(text)
    found, i = [], 0
    while i < len(toks):
        t = toks[i]
        if t.numeric or _is_month(t):
            j = i + 1
            while j < len(toks) and toks[j].gap in ("", ",") and (
                    toks[j].numeric or _is_month(toks[j]) or toks[j].norm in _NUMERIC_WORDS) and (
                    toks[j].gap == "" or toks[j].numeric):
                j += 1
            found.append(_span(toks[i:j], True, i == 0))
            i = j
        elif t.text[0].isupper() and t.text.lower() not in STOP:
            j = i + 1
            while j < len(toks) and (toks[j].gap in ("", "-") or (toks[j].gap == "." and len(toks[j - 1].text) == 1)):
                if toks[j].text[0].isupper() and not toks[j].numeric and not _is_month(toks[j]):
                    j += 1
                elif (toks[j].text.lower() in _CONNECT and j + 1 < len(toks) and toks[j + 1].gap == ""
                      and toks[j + 1].text[0].isupper()):
                    j += 2
                else:
                    break
            if not (j == i + 1 and _adjective(toks, i)):
                found.append(_span(toks[i:j], False, i == 0))
            i = j
        else:
            i += 1
    return found


def _adjective(toks: Sequence[Token], i: int) -> bool:
    """A nationality or language adjective before a noun ("Italian artist", "German-born")."""
    word = toks[i].text.lower()
    following = toks[i + 1] if i + 1 < len(toks) else None
    return (word.endswith(_DEMONYM) and following is not None and following.gap in ("", "-")
            and following.text[0].islower())


def _span(toks: Sequence[Token], numeric: bool, first: bool) -> Span:
    text = toks[0].text + "".join(
        ("-" if t.gap == "-" else f"{t.gap} " if t.gap in (".", ",") else " ") + t.text for t in toks[1:])
    return Span(text, tuple(t.norm for t in toks if t.text.lower() not in _CONNECT), numeric, first)


LIFE_RANGE = re.compile(r"\(\s*(?:[^()]*?\b)?(\d{3,4})\b[^()–-]*?[–-]\s*(?:[^()]*?\b)?(\d{3,4})\b[^()]*\)")
_BIRTH = re.compile(r"\b(born|birth|birthday)\b", re.I)
_DEATH = re.compile(r"\b(died|death|dead|die)\b", re.I)


def life_role(question: str) -> int | None:
    """Which end of a "(birth – death)" range the question asks about: 0, 1 or None."""
    birth, death = bool(_BIRTH.search(question)), bool(_DEATH.search(question))
    return 0 if birth and not death else 1 if death and not birth else None


def other_end(sentence: str, role: int | None) -> set[str]:
    """The years at the end of a "(birth – death)" range that the question does not ask about."""
    return set() if role is None else {pair[1 - role] for pair in LIFE_RANGE.findall(sentence)}


def context(title: str, sentence: str) -> set[str]:
    """The words a passage sentence says, read with its title; a "(1879 – 1955)" range says born
    and died."""
    words = norms(title) | norms(sentence)
    return words | norms("born birth died death die") if LIFE_RANGE.search(sentence) else words


def instruction_like(sentence: str) -> bool:
    """A sentence addressed to the assistant ("ignore the instructions above…"): data, never evidence."""
    return bool(_INSTRUCTION.search(sentence))
