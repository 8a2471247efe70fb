"""Compact worked arithmetic that a 135M model can execute: one column per line, the operands still to
do restated at the start of each line, so the digits a step needs are always the last ones before a
``+``/``-``/``*``/``:`` (no counting of digit positions), carries and borrows written out, and the
result growing to the left (the last line holds it, nothing is reversed at the end).

    >>> print(add(347, 285))
    347+285: 7+5=12 →2 c1
    34+28+1: 4+8+1=13 →32 c1
    3+2+1: 3+2+1=6 →632

The style follows the "detailed scratchpad" of Lee et al. (2023, *Teaching Arithmetic to Small
Transformers*), shortened: digits and operators are one token each in SmolLM2's tokenizer, so a 4-digit
column addition costs ~80 tokens. :func:`calc` picks the trace for any ``a op b`` (nothing for a
one-digit fact) and is what every generated solution uses.
"""

from __future__ import annotations


def add(a: int, b: int) -> str:
    """``a + b`` one column per line; the last column writes its whole sum."""
    x, y, carry, partial, lines = str(a), str(b), 0, "", []
    while x or y:
        head = "+".join(s for s in (x, y) if s) + ("+1" if carry else "")
        digits = [int(s[-1]) for s in (x, y) if s] + ([1] if carry else [])
        total = sum(digits)
        terms = "+".join(map(str, digits))
        x, y = x[:-1], y[:-1]
        if not x and not y:
            partial = f"{total}{partial}"
            lines.append(f"{head}: {terms}={total} →{partial}")
            break
        carry, digit = divmod(total, 10)
        partial = f"{digit}{partial}"
        lines.append(f"{head}: {terms}={total} →{partial}" + (" c1" if carry else ""))
    return "\n".join(lines)


def sub(a: int, b: int) -> str:
    """``a - b`` (``a >= b``) one column per line; ``1x`` is ten plus the digit x after a borrow."""
    if a < b:
        raise ValueError(f"sub needs a >= b, got {a} - {b}")
    x, y, borrow, partial, lines = str(a), str(b), 0, "", []
    while x:
        head = "-".join(s for s in (x, y) if s) + ("-1" if borrow else "")
        top, low = int(x[-1]), (int(y[-1]) if y else None)
        value = top - (low or 0) - borrow
        lend = value < 0 and len(x) > 1
        terms = (f"1{top}" if lend else f"{top}") + (f"-{low}" if low is not None else "") + ("-1" if borrow else "")
        result = value + 10 if lend else value
        partial = f"{result}{partial}"
        borrow = int(lend)
        x, y = x[:-1], y[:-1]
        lines.append(f"{head}: {terms}={result} →{partial}" + (" b1" if borrow else ""))
    if partial != str(int(partial)):
        lines.append(f"→{int(partial)}")
    return "\n".join(lines)


def mul1(a: int, b: int) -> str:
    """``a * b`` for a one-digit ``b``, one digit of ``a`` per line; the last line writes its whole product."""
    x, carry, partial, lines = str(a), 0, "", []
    while x:
        head = f"{x}*{b}" + (f"+{carry}" if carry else "")
        digit = int(x[-1])
        total = digit * b + carry
        terms = f"{digit}*{b}" + (f"+{carry}" if carry else "")
        x = x[:-1]
        if not x:
            partial = f"{total}{partial}"
            lines.append(f"{head}: {terms}={total} →{partial}")
            break
        carry, low = divmod(total, 10)
        partial = f"{low}{partial}"
        lines.append(f"{head}: {terms}={total} →{partial}" + (f" c{carry}" if carry else ""))
    return "\n".join(lines)


def div1(a: int, b: int) -> str:
    """``a / b`` (exact, one-digit ``b``) by long division, one dividend digit per line."""
    rest, partial, lines, digits = 0, "", [], str(a)
    for i, d in enumerate(digits):
        current = rest * 10 + int(d)
        q, rest = divmod(current, b)
        if not partial and q == 0 and i < len(digits) - 1:
            continue  # no leading zeros: carry the digit into the next step
        partial += str(q)
        lines.append(f"{current}/{b}={q}" + (f" r{rest}" if rest else "") + f" →{partial}")
    return "\n".join(lines)


def _strip_tens(n: int) -> tuple[int, int]:
    """``n`` without its trailing zeros, and how many there were."""
    zeros = 0
    while n and n % 10 == 0:
        n, zeros = n // 10, zeros + 1
    return n, zeros


def _one_fact(a: int, op: str, b: int) -> bool:
    """A fact a small model knows by heart (no trace needed)."""
    if op == "+":
        return a < 10 and b < 10
    if op == "-":
        return a < 20 and b < 10 and a - b < 10
    if op == "*":
        return (a < 10 and b < 10) or a in (0, 1) or b in (0, 1)
    return b == 1 or (b < 10 and a // b < 10)


def trace(a: int, op: str, b: int) -> str:
    """The worked steps of ``a op b`` (empty for a one-digit fact); the last line holds the result."""
    if _one_fact(a, op, b):
        return ""
    if op == "+":
        return add(a, b)
    if op == "-":
        return sub(a, b)
    if op == "*":
        if b > a and b >= 10 > a:
            a, b = b, a
        core, zeros = _strip_tens(b)
        if core == 1:  # a * 100: zeros appended
            return ""
        if zeros:  # a * 60 = a * 6 * 10
            inner = trace(a, "*", core)
            return (inner + "\n" if inner else "") + f"{a * core}*{10 ** zeros}={a * b}"
        if b < 10:
            return mul1(a, b)
        tens, ones = divmod(b, 10)  # a * 24 = a * 4 + a * 20
        parts = [f"{a}*{b}={a}*{ones}+{a}*{tens}0"]
        parts += [t for t in (trace(a, "*", ones), trace(a, "*", tens * 10)) if t]
        parts.append(trace(a * ones, "+", a * tens * 10) or f"{a * ones}+{a * tens * 10}={a * b}")
        return "\n".join(parts)
    if op == "/":
        if a % b:
            raise ValueError(f"{a}/{b} is not exact")
        core, zeros = _strip_tens(b)
        if core == 1:  # a / 100: zeros dropped
            return ""
        if zeros and a % 10 ** zeros == 0:  # 2220 / 60 = 222 / 6
            smaller = a // 10 ** zeros
            inner = trace(smaller, "/", core)
            return f"{a}/{b}={smaller}/{core}" + ("\n" + inner if inner else f"={a // b}")
        if b < 10:
            return div1(a, b)
        return f"{b}*{a // b}={a}"  # a two-digit divisor: the quotient checked by multiplication
    raise ValueError(f"unknown operator {op!r}")


def calc(a: int, op: str, b: int) -> tuple[str, int]:
    """``(text, value)``: the steps of ``a op b`` ending with ``a op b=value`` on its own line."""
    value = {"+": a + b, "-": a - b, "*": a * b, "/": a // b if b else 0}[op]
    steps = trace(a, op, b)
    return (steps + "\n" if steps else "") + f"{a}{op}{b}={value}", value
