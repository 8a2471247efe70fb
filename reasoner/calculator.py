"""Exact arithmetic for checking what a model computes: never ``eval``.

An expression is parsed with :mod:`ast` (``mode="eval"``), every node checked against a short
whitelist (numbers, ``+ - * / **``, unary signs, parentheses, and a named variable only where
the caller binds one) and folded with :class:`fractions.Fraction`, so ``0.1 + 0.2 = 0.3``
exactly. Caps keep hostile input cheap: at most :data:`MAX_CHARS` characters, :data:`MAX_DIGITS`
digits in a literal, exponents up to :data:`MAX_EXPONENT`, results up to :data:`MAX_BITS` bits;
past them, and on division by zero, a :class:`CalcError` says why (it never hangs or crashes).

Text written by people and models is normalised first (:func:`normalise`): ``1,879`` → ``1879``,
``$18`` → ``18``, ``15%`` → ``(15/100)``, ``15% of 240``, ``×``/``x``/``·``/``\\times`` → ``*``,
``÷`` → ``/``, ``^`` → ``**``. :func:`parse_number` reads one number in any usual format
(``1,879``, ``1879.``, ``\\frac{3}{4}``, ``25%``, ``eighteen seventy-nine``); number words are
read by the ``text2num`` library.

:func:`find_chains` finds the calculations a text writes out (``a op b = c``, chains ``a = b = c``)
and :func:`check_chain` recomputes one; :func:`pending` tells whether a text ends in an
expression followed by ``=``, which is where the calculator-in-the-loop injects the value.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

MAX_CHARS = 400
MAX_DIGITS = 40
MAX_EXPONENT = 64
MAX_BITS = 600
MAX_NODES = 80


class CalcError(ValueError):
    """An expression that cannot be computed; ``kind`` is ``syntax``, ``zero_division`` or ``too_large``."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


# -- evaluation ---------------------------------------------------------------------------
_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.Pow: operator.pow}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.USub: operator.neg, ast.UAdd: operator.pos}
_LITERAL = re.compile(r"\d+(?:\.\d+)?")


def _size_ok(value: Any) -> bool:
    if not isinstance(value, Fraction):
        return True
    return value.numerator.bit_length() <= MAX_BITS and value.denominator.bit_length() <= MAX_BITS


def _power(base: Any, exponent: Any) -> Any:
    whole = exponent.denominator == 1 if isinstance(exponent, Fraction) else getattr(exponent, "is_Integer", False)
    if not whole:
        raise CalcError("syntax", "only whole-number exponents are computed exactly")
    if abs(exponent) > MAX_EXPONENT:
        raise CalcError("too_large", f"exponent {exponent} is above the cap of {MAX_EXPONENT}")
    if isinstance(base, Fraction):
        if base == 0 and exponent < 0:
            raise CalcError("zero_division", "division by zero (0 to a negative power)")
        bits = max(base.numerator.bit_length(), base.denominator.bit_length())
        if bits * abs(int(exponent)) > MAX_BITS:
            raise CalcError("too_large", f"the power has more than {MAX_BITS} bits")
    return base ** int(exponent)


def fold(source: str, constant: Callable[[str], Any] = Fraction, names: dict[str, Any] | None = None) -> Any:
    """Evaluate a Python-syntax arithmetic ``source`` over the whitelist.

    ``constant`` turns each literal's source text into a number (``Fraction`` by default;
    pass e.g. a sympy constructor to build a symbolic tree); ``names`` binds variables.
    """
    if len(source) > MAX_CHARS:
        raise CalcError("too_large", f"expression longer than {MAX_CHARS} characters")
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise CalcError("syntax", f"not an arithmetic expression: {source.strip()[:60]!r}") from exc
    nodes = list(ast.walk(tree))
    if len(nodes) > MAX_NODES:
        raise CalcError("too_large", f"expression has more than {MAX_NODES} parts")
    names = names or {}

    def walk(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            text = ast.get_source_segment(source.strip(), node) or ""
            if not _LITERAL.fullmatch(text):
                raise CalcError("syntax", f"unsupported number literal {text!r}")
            if sum(c.isdigit() for c in text) > MAX_DIGITS:
                raise CalcError("too_large", f"a number with more than {MAX_DIGITS} digits")
            return constant(text)
        if isinstance(node, ast.Name) and node.id in names:
            return names[node.id]
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return _UNARY[type(node.op)](walk(node.operand))
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            left, right = walk(node.left), walk(node.right)
            if isinstance(node.op, ast.Pow):
                value = _power(left, right)
            elif isinstance(node.op, ast.Div) and isinstance(right, Fraction) and right == 0:
                raise CalcError("zero_division", "division by zero")
            else:
                value = _BINARY[type(node.op)](left, right)
            if not _size_ok(value):
                raise CalcError("too_large", f"an intermediate result has more than {MAX_BITS} bits")
            return value
        raise CalcError("syntax", f"{type(node).__name__} is not allowed in an arithmetic expression")

    return walk(tree)


# -- normalising written arithmetic -------------------------------------------------------
NUM = r"\$?\d+(?:,\d{3}(?!\d))*(?:\.\d+)?%?"
_OP = r"(?:\*\*|\*|[-+/^×÷·−]|\\times|\\div|\\cdot|[xX](?=[ \t]*[$\d(])|(?<=[ \t])of(?=[ \t]))"
_OPERAND = rf"(?:[(\[][ \t]*)*[-−]?{NUM}(?:[ \t]*[)\]])*"
EXPR = rf"{_OPERAND}(?:[ \t]*{_OP}[ \t]*{_OPERAND})*"
_EQ = r"(?<![=<>!])=(?!=)"
_CHAIN = re.compile(rf"(?<![\w.$]){EXPR}(?:[ \t]*{_EQ}[ \t]*{EXPR})+")
EXPRESSION = re.compile(rf"(?<![\w.$]){EXPR}")
_HAS_OP = re.compile(rf"\d[)\]]*[ \t]*{_OP}|%")
_PENDING = re.compile(rf"(?<![\w.$])({EXPR})[ \t]*{_EQ}[ \t]*\Z")
_OPERATOR_CHARS = "+-*/^×÷·−"

_REPLACE = [
    (re.compile(r"\\left|\\right|\\!|\\,"), ""),
    (re.compile(r"\\d?frac\{([^{}]*)\}\{([^{}]*)\}"), r"((\1)/(\2))"),
    (re.compile(r"\\times|\\cdot|[×·∗]"), "*"),
    (re.compile(r"\\div|÷"), "/"),
    (re.compile(r"[−–]"), "-"),
    (re.compile(r"\^"), "**"),
    (re.compile(r"[\[{]"), "("),
    (re.compile(r"[\]}]"), ")"),
    (re.compile(r"\\?\$"), ""),
    (re.compile(r"(?<=\d),(?=\d{3}(?!\d))"), ""),
    (re.compile(r"(\d+(?:\.\d+)?)[ \t]*%"), r"(\1/100)"),
    (re.compile(r"(?<=[\d)])[ \t]*[xX][ \t]*(?=[\d(])"), "*"),
    (re.compile(r"[ \t]+of[ \t]+"), "*"),
]


def normalise(text: str) -> str:
    """Written arithmetic (``$1,200 × 15%``) as Python syntax (``1200 * (15/100)``)."""
    for pattern, repl in _REPLACE:
        text = pattern.sub(repl, text)
    return text.strip()


def evaluate(text: str, names: dict[str, Any] | None = None) -> Fraction:
    """The exact value of written arithmetic (see :func:`normalise`); raises :class:`CalcError`."""
    value = fold(_balance(normalise(text)), names=names)
    if not isinstance(value, Fraction):
        raise CalcError("syntax", "the expression has an unbound variable")
    return value


def has_operator(text: str) -> bool:
    """True when written arithmetic holds at least one operation (``12`` has none, ``3 * 4`` one)."""
    return bool(_HAS_OP.search(text))


def _balance(text: str) -> str:
    """Drop unmatched outer brackets that belong to the sentence around an expression."""
    text = text.strip()
    while text.endswith(")") and text.count(")") > text.count("("):
        text = text[:-1].rstrip()
    while text.startswith("(") and text.count("(") > text.count(")"):
        text = text[1:].lstrip()
    return text


# -- numbers in any format ----------------------------------------------------------------
_UNIT_TAIL = re.compile(r"^(.*?\d[^a-zA-Z]*?)\s*(?:\\text\{[^{}]*\}|\\mbox\{[^{}]*\}|[a-zA-Z][a-zA-Z\s.]*)?\.?\s*$")
_SCALE = re.compile(r"\b(?:hundred|thousand|million|billion|trillion|dozen|[kmb]n?)\b", re.I)
_PLAIN = re.compile(rf"[-−+]?\s*{NUM}")


def word_number(text: str) -> int | None:
    """An English number in words (``three hundred ninety-one``), or a year read in two pairs
    (``eighteen seventy-nine`` → 1879); ``None`` when the words are not one number."""
    words = " ".join(text.lower().replace("-", " ").split())
    if not words or len(words) > 120 or not re.fullmatch(r"[a-z ]+", words):
        return None
    try:
        from text_to_num import text2num
    except ImportError:  # pragma: no cover - a declared dependency
        return None

    def read(part: str) -> int | None:
        try:
            return int(text2num(part, "en"))
        except (ValueError, TypeError):
            return None

    value = read(words)
    if value is not None:
        return value
    parts = words.split()
    for cut in range(1, len(parts)):
        high, low = read(" ".join(parts[:cut])), read(" ".join(parts[cut:]))
        if high is not None and low is not None and 10 <= high <= 99 and 10 <= low <= 99:
            return high * 100 + low
    return None


def parse_number(text: str) -> Fraction | None:
    """One number in any usual written format, or ``None``.

    ``1,879`` / ``1879.`` / ``$1,879`` / ``1879 dollars`` / ``\\frac{3}{4}`` / ``3/4`` / ``-2.5`` /
    ``25%`` (→ 1/4) / ``eighteen seventy-nine``. An expression (``3 * 4``) is not a number.
    """
    text = (text or "").strip()
    if not text or len(text) > MAX_CHARS:
        return None
    if not re.search(r"\d", text):
        value = word_number(text.rstrip(".").strip())
        return None if value is None else Fraction(value)
    text = re.sub(r"^\\boxed\{(.*)\}$", r"\1", text).replace("\\$", "").strip().strip("$").strip()
    match = _UNIT_TAIL.match(text)
    core = (match.group(1) if match else text).strip().rstrip(".").strip()
    if _SCALE.search(text[len(core):]):
        return None  # "1.5 million" is not 1.5
    core = re.sub(r"\\[,!]|\{,\}", lambda m: "," if m.group(0) == "{,}" else "", core)
    fraction = re.fullmatch(r"([-−]?)\s*\\d?frac\{(\d+)\}\{(\d+)\}", core)
    if fraction:
        core = f"{fraction.group(1)}{fraction.group(2)}/{fraction.group(3)}"
    if not (_PLAIN.fullmatch(core) or re.fullmatch(rf"[-−]?\s*{NUM}\s*/\s*{NUM}", core)):
        return None
    try:
        return evaluate(core.lstrip("+"))
    except CalcError:
        return None


def format_number(value: Fraction, places: int = 6) -> str:
    """``391``, ``0.875``, ``-2.5``; a value without a short decimal form is rounded to ``places``."""
    if value.denominator == 1:
        return str(value.numerator)
    while places < 40 and abs(value) * 10 ** places < 100:  # keep a few significant digits of tiny values
        places += 1
    scaled = value * 10 ** places
    if scaled.denominator == 1:
        text = f"{value.numerator * 10 ** places // value.denominator:d}"
    else:
        text = str(round(scaled))
    sign = "-" if text.startswith("-") else ""
    digits = text.lstrip("-").rjust(places + 1, "0")
    out = f"{sign}{digits[:-places]}.{digits[-places:]}".rstrip("0").rstrip(".")
    return out if out not in ("", "-", "-0") else "0"


def exact_text(value: Fraction) -> str:
    """The exact value as text: ``391``, ``0.875``, or ``1/3`` when no short decimal is exact."""
    if (value * 10 ** 12).denominator == 1:
        return format_number(value, 12)
    return f"{value.numerator}/{value.denominator}"


def close_enough(exact: Fraction, written: str) -> bool:
    """Does the written number state ``exact``? Exactly, or rounded/cut to the decimals it shows
    when ``exact`` has more decimals than that (``2/3 = 0.67`` passes, ``7/2 = 4`` fails)."""
    value = parse_number(written)
    if value is None:
        return False
    if value == exact or ("%" in written and value * 100 == exact):
        return True
    decimals = re.search(r"\.(\d+)", written.split("%")[0])
    places = len(decimals.group(1)) if decimals else 0
    if places == 0 or (exact * 10 ** places).denominator == 1:
        return False
    return abs(exact - value) < Fraction(1, 10 ** places)


# -- calculations written in a text -------------------------------------------------------
@dataclass(frozen=True)
class Chain:
    """A written calculation ``a op b = c`` or chain ``a = b = c``: its segments and where it stands."""

    segments: tuple[str, ...]
    start: int
    end: int

    @property
    def text(self) -> str:
        return " = ".join(s.strip() for s in self.segments)


@dataclass(frozen=True)
class StepResult:
    """The outcome of recomputing one chain: ``passed``, ``failed`` or ``skipped``."""

    outcome: str
    detail: str
    exact: Fraction | None = None


def _operator_follows(text: str, end: int) -> bool:
    """True when an operation continues right after ``end`` (the segment is cut: not a result)."""
    rest = text[end:end + 4].lstrip(" \t")
    return bool(rest) and rest[0] in _OPERATOR_CHARS and not rest.startswith("--")


def bad_start(text: str, start: int) -> bool:
    """True when the expression at ``start`` continues one before it: an operator stands before it
    (``2x + 3 * 4``), or its sign is a binary minus after a term (``2x - 3 - 4``)."""
    while start < len(text) and text[start] in " \t":
        start += 1
    before = text[max(0, start - 8):start].rstrip(" \t")
    if not before:
        return False
    if before[-1] in _OPERATOR_CHARS or before[-1] in ")^*":
        return True
    term = re.search(r"(?:\d|[)\]}]|(?<![A-Za-z])[A-Za-z])$", before)  # a number, bracket or variable
    return text[start:start + 1] in ("-", "−") and term is not None


def find_chains(text: str) -> list[Chain]:
    """Every written calculation with at least one operation, in order (cut where a variable or
    an unfinished operation makes a segment something other than a number expression)."""
    chains: list[Chain] = []
    for match in _CHAIN.finditer(text):
        if bad_start(text, match.start()):
            continue
        pieces, pos = [], match.start()
        for piece in re.split(_EQ, match.group(0)):
            pieces.append((piece, pos))
            pos += len(piece) + 1
        segments: list[str] = []
        for index, (piece, at) in enumerate(pieces):
            end = at + len(piece.rstrip(" \t"))
            segments.append(_balance(piece))
            last = index == len(pieces) - 1
            if (last and _operator_follows(text, end)) or (last and re.match(r"[A-Za-z_(]", text[end:end + 1])):
                segments.pop()
                break
        if len(segments) >= 2 and any(has_operator(s) for s in segments):
            chains.append(Chain(tuple(s.strip() for s in segments), match.start(), match.end()))
    return chains


def _leading_number(segment: str) -> str | None:
    found = re.match(rf"[(\[ \t]*([-−]?[ \t]*{NUM})", segment)
    return found.group(1) if found else None


def check_chain(chain: Chain) -> StepResult:
    """Recompute every link of a chain: each segment must equal the one before it, or continue it
    (``5 * 4 = 20 * 2 = 40``: ``20 * 2`` starts from the 20 just computed)."""
    shown = chain.text
    previous: Fraction | None = None
    rounded = False
    for index, segment in enumerate(chain.segments):
        try:
            value = evaluate(segment)
        except CalcError as exc:
            if exc.kind == "zero_division":
                return StepResult("failed", f"{shown}: division by zero in {segment!r}")
            return StepResult("skipped", f"{shown}: not checked ({exc})")
        if index and previous is not None:
            if has_operator(segment):
                lead = _leading_number(segment)
                linked = value == previous or (lead is not None and close_enough(previous, lead))
            else:
                linked = close_enough(previous, segment)
                rounded = rounded or (linked and parse_number(segment) != previous
                                      and parse_number(segment) * 100 != previous)
            if not linked:
                return StepResult("failed", f"{shown}: {chain.segments[index - 1]} is "
                                  f"{format_number(previous)}, not {segment}", previous)
        previous = value
    how = "correct when rounded as written" if rounded else "recomputed exactly"
    return StepResult("passed", f"{shown}: {how}", previous)


def operands(text: str) -> list[tuple[str, Fraction]]:
    """The numbers a text's calculations take as inputs (not the results they state), in order:
    ``"16 - 3 - 4 = 9. 9 * 2 = 18"`` → 16, 3, 4, 9, 2. On the mixed route these are the numbers
    that must come from the question or a cited passage."""
    found: list[tuple[str, Fraction]] = []
    for chain in find_chains(text):
        for index, segment in enumerate(chain.segments):
            if not has_operator(segment):
                continue
            numbers = re.findall(NUM, segment)
            for number in numbers[1:] if index and numbers and _leading_number(segment) else numbers:
                value = parse_number(number)
                if value is not None:
                    found.append((number, value))
    return found


def pending(text: str) -> tuple[str, Fraction] | None:
    """``(expression, exact value)`` when ``text`` ends in a computable expression and ``=``
    (``"so 17 * 23 ="``), else ``None``. A lone number, a variable or an error gives ``None``."""
    tail = text[-MAX_CHARS:]
    match = _PENDING.search(tail)
    if match is None or not has_operator(match.group(1)) or bad_start(tail, match.start(1)):
        return None
    if match.start(1) == 0 and len(text) > len(tail):
        return None  # the expression may begin before the tail: too long to compute
    try:
        return match.group(1).strip(), evaluate(match.group(1))
    except CalcError:
        return None

