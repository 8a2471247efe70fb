"""Verification on the reason route: what backs an answer's ``status`` (the trust contract).

API (stable; the agent's reason node calls it)::

    verdict = verify(question, answer_text, final_answer, tts=None)
    verdict.status     # "verified" | "unverified" | "contradicted"
    verdict.checks     # list[Check]; Check(name, outcome, detail), outcome "passed"|"failed"|"skipped"
    verdict.corrected  # the exact answer when an exact check computed it itself, else None
    verdict.basis      # what the status rests on: "exact" | "agreement" | "none"
    verdict.as_dict()  # {"status", "checks": [...], "corrected", "basis"}
    check_steps(text)  # list[Check] named "step": each written calculation recomputed (flag mode)

``verified`` means an exact check confirmed the final answer:

- ``arithmetic``: the question is a formal expression ("What is 17 * 23?", "Compute 3/4 + 1/8",
  "15% of 240", "What is 17 times 23?") and nothing else but known instructions ("Put the final
  answer in \\boxed{}."): it is computed exactly (:mod:`reasoner.calculator`) and compared;
- ``equation``: one equation in one variable ("Solve 2x + 3 = 11"): the answer is substituted
  back, and the solution set (sympy, on a tree built from a whitelisted parse) must be complete;
- ``code_tests``: the question gives tests (``assert f(2) == 4`` lines or ``>>>`` examples) that
  call a function the answer's code block defines: code and tests run in the kernel-isolated
  sandbox (:mod:`reasoner.sandbox`), and a random marker printed after the last test proves
  they all ran (code that exits early does not pass).

In the agent's reason node (``verify`` blocks: ~1 s on the first equation, which imports sympy,
and a sandbox run for code, so call it with ``await asyncio.to_thread(verify, ...)``)::

    verdict = verify(question, completion.text, final, tts=tts_field)
    # verified     -> status "verified"
    # contradicted -> the model's answer is wrong; verdict.corrected is the exact answer
    # unverified   -> "unverified" (or "low_confidence" when the agreement check failed);
    #                 any failed "step" check is a flagged calculation
    answer["checks"] = [c.as_dict() for c in verdict.checks]

The calculator modes of generation (``flag``: steps listed in ``Completion.extra["calculator"]``;
``inject``: exact values written into the stream) live in :mod:`reasoner.control` and :mod:`reasoner.calculator_stream`
(``control.wrap(backend, calculator="off"|"flag"|"inject")``); numbers in any format are read
by :func:`reasoner.calculator.parse_number`. On the mixed route, :func:`reasoner.calculator.operands`
lists the numbers the calculations take as inputs (each must come from the question or a cited
passage; that match is the agent's), and the ``step`` checks here check the computation.

``contradicted`` means such a check computed a different answer (``corrected`` holds it).
Anything else is ``unverified``: written steps that recompute correctly (``step`` checks) do
not verify a word problem, whose set-up may be wrong; sample agreement (``tts=``, the agent's
test-time-scaling field) is shown as an ``agreement`` check and the basis says so. The model's
own words are never read as evidence. Every check is guarded: bad input gives a ``skipped``
check, never an exception and never a false ``verified``.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from reasoner.calculator import (
    EXPRESSION,
    CalcError,
    bad_start,
    check_chain,
    close_enough,
    evaluate,
    exact_text,
    find_chains,
    fold,
    has_operator,
    normalise,
    parse_number,
)
from reasoner.parsing import last_code_block

MAX_STEPS = 64
CODE_TIMEOUT = 10.0  # seconds for the answer's code and the question's tests together
MAX_QUESTION = 600

# Instructions that do not change the value asked for (removed before the question is read).
_INSTRUCTIONS = re.compile(
    r"(?:please\s+)?(?:put|write|give|place)\s+(?:the|your)\s+(?:final\s+)?answer\s+(?:in|within|inside)\s+"
    r"(?:a\s+)?\\boxed\{\s*\}\s*\.?"
    r"|(?:please\s+)?(?:show\s+your\s+(?:work|steps|reasoning)|(?:think|reason)\s+step\s+by\s+step"
    r"|explain\s+your\s+reasoning)\s*\.?"
    r"|(?:give|write|express|state)\s+(?:the|your)\s+(?:final\s+)?answer\s+as\s+an?\s+"
    r"(?:fraction|decimal|integer|number|whole\s+number)\s*\.?"
    r"|answer\s+with\s+(?:a|the|one)\s+number(?:\s+only)?\s*\.?", re.I)
_FRAME = {"what", "what's", "whats", "is", "compute", "calculate", "evaluate", "find", "simplify", "the",
          "value", "of", "work", "out", "how", "much", "determine", "result", "please", "exactly", "exact",
          "give", "tell", "me"}
_EQUATION_FRAME = _FRAME | {"solve", "for", "if", "then", "equation", "that", "such", "where", "given",
                            "satisfies", "and", "real", "solution", "solutions", "number", "unknown"}
_WORD_OPS = [
    (r"\bto\s+the\s+power\s+of\b", "^"), (r"\bmultiplied\s+by\b", "*"), (r"\bdivided\s+by\b", "/"),
    (r"\btimes\b", "*"), (r"\bplus\b", "+"), (r"\bminus\b", "-"), (r"\bsquared\b", "^2"),
    (r"\bcubed\b", "^3"), (r"\s*\bper\s*cent\b|\s*\bpercent\b", "%")]


@dataclass(frozen=True)
class Check:
    """One thing that was tested: ``outcome`` is ``passed``, ``failed`` or ``skipped``."""

    name: str
    outcome: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "outcome": self.outcome, "detail": self.detail}


@dataclass
class Verdict:
    """The status an answer earned, the checks behind it, and the exact answer when one was computed."""

    status: str
    checks: list[Check] = field(default_factory=list)
    corrected: str | None = None
    basis: str = "none"

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.outcome == "failed"]

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "checks": [c.as_dict() for c in self.checks],
                "corrected": self.corrected, "basis": self.basis}


# -- reading the question -----------------------------------------------------------------
def _prepare(question: str) -> str:
    """The question without known instructions, number words as digits, word operators as symbols."""
    text = _INSTRUCTIONS.sub(" ", question[:MAX_QUESTION].replace("’", "'"))
    try:
        from text_to_num import alpha2digit

        text = alpha2digit(text, "en")
    except Exception:  # a declared dependency; odd input only loses number words
        pass
    for pattern, symbol in _WORD_OPS:
        text = re.sub(pattern, symbol, text, flags=re.I)
    return text


def _only_frame(rest: str, words: set[str]) -> bool:
    """True when ``rest`` holds nothing but frame words and sentence punctuation."""
    if re.search(r"[^A-Za-z'\s?.:,!]", rest):
        return False
    return all(w.lower() in words for w in re.findall(r"[A-Za-z']+", rest))


def formal_expression(question: str) -> str | None:
    """The arithmetic expression a question consists of ("What is 17 * 23?" → ``17 * 23``), else None."""
    text = re.sub(r"=\s*\?|=\s*$|=(?=\s*\?)", " ", _prepare(question).strip())
    found = [m for m in EXPRESSION.finditer(text) if m.group().strip()]
    if len(found) != 1 or not has_operator(found[0].group()) or bad_start(text, found[0].start()):
        return None
    match = found[0]
    if not _only_frame(text[:match.start()] + " " + text[match.end():], _FRAME):
        return None
    return match.group().strip()


_EQ_TOKEN = re.compile(r"\d+(?:\.\d+)?|[A-Za-z]+|\s+|[-+*/^×÷·−()=%]|.")


def formal_equation(question: str) -> tuple[str, str, str] | None:
    """``(left side, right side, variable)`` of the one equation a question asks to solve, else None."""
    text = _prepare(question)
    if len(re.findall(r"(?<![=<>!])=(?!=)", text)) != 1:
        return None
    tokens = _EQ_TOKEN.findall(text)
    at = tokens.index("=")

    def part(token: str) -> bool:
        return bool(re.fullmatch(r"\d+(?:\.\d+)?|[A-Za-z]|\s+|[-+*/^×÷·−()%]", token))

    lo, hi = at, at + 1
    while lo > 0 and part(tokens[lo - 1]):
        lo -= 1
    while hi < len(tokens) and part(tokens[hi]):
        hi += 1
    lhs, rhs = "".join(tokens[lo:at]).strip(), "".join(tokens[at + 1:hi]).strip()
    letters = set(re.findall(r"[A-Za-z]", lhs + rhs))
    if len(letters) != 1 or not re.search(r"\d", lhs + rhs) or not lhs or not rhs:
        return None
    variable = letters.pop()
    rest = "".join([*tokens[:lo], " ", *tokens[hi:]])
    if not _only_frame(rest, _EQUATION_FRAME | {variable.lower()}):
        return None
    return lhs, rhs, variable


def _python(side: str, variable: str) -> str:
    """An equation side as Python syntax with explicit products (``2x`` → ``2*x``)."""
    text = normalise(side)
    text = re.sub(rf"(\d|\))\s*(?=[{variable}(])", r"\1*", text)
    return re.sub(rf"({variable})\s*(?=[\d(])", r"\1*", text)


# -- exact checks -------------------------------------------------------------------------
def check_arithmetic(question: str, final_answer: str | None) -> tuple[Check, str | None] | None:
    """Recompute a formal arithmetic question and compare; None when the question is not one."""
    expression = formal_expression(question)
    if expression is None:
        return None
    try:
        exact = evaluate(expression)
    except CalcError as exc:
        return Check("arithmetic", "skipped", f"{expression}: not computed ({exc})"), None
    value, shown = exact_text(exact), expression
    given = parse_number(final_answer) if final_answer else None
    if given is None:
        why = "no final answer" if not final_answer else f"the final answer {final_answer!r} is not a number"
        return Check("arithmetic", "skipped", f"{shown} = {value} exactly; {why} to compare"), value
    if given == exact:
        return Check("arithmetic", "passed", f"{shown} = {value} exactly, as answered"), value
    if close_enough(exact, final_answer or ""):
        return Check("arithmetic", "skipped", f"{shown} = {value} exactly; the answer {final_answer} "
                     "is that value rounded"), value
    return Check("arithmetic", "failed", f"{shown} = {value} exactly, not {final_answer}"), value


def _answer_values(final_answer: str, variable: str) -> list[Fraction] | None:
    text = re.sub(r"\\left|\\right|\\[{}]|[{}$]|\\quad|\\text\{[^{}]*\}", " ", final_answer)
    text = re.sub(rf"\b{variable}\s*=", " ", text)
    values: list[Fraction] = []
    for piece in re.split(r",|;|\bor\b|\band\b", text):
        piece = piece.strip()
        if not piece:
            continue
        plus_minus = re.fullmatch(r"(?:\\pm|±)\s*(.+)", piece)
        value = parse_number(plus_minus.group(1) if plus_minus else piece)
        if value is None:
            return None
        values += [value, -value] if plus_minus else [value]
    return values or None


def _solutions(lhs: str, rhs: str, variable: str) -> list[Fraction] | None:
    """The real solutions, all rational, of ``lhs = rhs`` (None when unknown, irrational or infinite)."""
    import sympy

    symbol = sympy.Symbol(variable)

    def constant(text: str) -> Any:
        value = Fraction(text)
        return sympy.Rational(value.numerator, value.denominator)

    left = fold(_python(lhs, variable), constant, {variable: symbol})
    right = fold(_python(rhs, variable), constant, {variable: symbol})
    numerator, denominator = sympy.fraction(sympy.together(left - right))
    if numerator.has(sympy.zoo, sympy.nan) or denominator.has(sympy.zoo, sympy.nan):
        return None
    poly = sympy.Poly(numerator, symbol)
    if not 1 <= poly.degree() <= 6:
        return None
    roots = []
    for factor, _ in sympy.factor_list(poly)[1]:
        if factor.degree() == 1:
            coeffs = factor.all_coeffs()
            root = -coeffs[1] / coeffs[0]
            if denominator.subs(symbol, root) != 0:
                roots.append(Fraction(int(root.p), int(root.q)))
    if len(set(roots)) != poly.count_roots():  # an irrational root too: the set is not all rational
        return None
    return sorted(set(roots))


def check_equation(question: str, final_answer: str | None) -> tuple[Check, str | None] | None:
    """Substitute the answer back into a one-variable equation and compare with its solution set."""
    found = formal_equation(question)
    if found is None:
        return None
    lhs, rhs, variable = found
    shown = f"{lhs} = {rhs}"
    try:
        solutions = _solutions(lhs, rhs, variable)
    except (CalcError, ValueError, TypeError, ArithmeticError) as exc:
        return Check("equation", "skipped", f"{shown}: not solved exactly ({exc})"), None
    except Exception as exc:  # sympy's own errors: never a crash, never a verdict
        return Check("equation", "skipped", f"{shown}: not solved exactly ({type(exc).__name__})"), None
    if not solutions:
        why = "no real solution" if solutions == [] else "no finite set of rational solutions"
        return Check("equation", "skipped", f"{shown}: {why} to compare"), None
    corrected = " or ".join(f"{variable} = {exact_text(s)}" for s in solutions)
    values = _answer_values(final_answer, variable) if final_answer else None
    if values is None:
        return Check("equation", "skipped", f"{shown}: solutions {corrected}; no numeric answer to "
                     "substitute"), corrected
    substituted = []
    for value in values:
        try:
            left = evaluate(_python(lhs, variable), {variable: value})
            right = evaluate(_python(rhs, variable), {variable: value})
        except CalcError as exc:
            return Check("equation", "failed", f"{shown}: {variable} = {exact_text(value)} gives "
                         f"{exc}"), corrected
        substituted.append(f"{variable} = {exact_text(value)}: {exact_text(left)} vs {exact_text(right)}")
        if left != right:
            return Check("equation", "failed", f"{shown}: substituted back, {substituted[-1]} (not equal); "
                         f"the solutions are {corrected}"), corrected
    if sorted(set(values)) != solutions:
        return Check("equation", "failed", f"{shown}: the answer is incomplete; the solutions are "
                     f"{corrected}"), corrected
    return Check("equation", "passed", f"{shown}: substituted back, {'; '.join(substituted)} (equal); "
                 "no other solution"), corrected


_ASSERT = re.compile(r"^[ \t]*(assert\s.+)$", re.M)
_EXAMPLE = re.compile(r"^[ \t]*>>> .+(?:\n(?![ \t]*>>>)(?![ \t]*```)[ \t]*\S.*)*", re.M)


def question_tests(question: str, code: str) -> str | None:
    """The tests a question gives, as a program to run after ``code``; None when there are none or
    none of them calls a function that ``code`` defines."""
    names = set(re.findall(r"^[ \t]*def\s+([A-Za-z_]\w*)", code, re.M))
    asserts, examples = _ASSERT.findall(question), _EXAMPLE.findall(question)
    if not any(re.search(rf"\b{re.escape(n)}\s*\(", t) for n in names for t in asserts + examples):
        return None
    parts = [a.strip() for a in asserts]
    if examples:
        text = "\n".join(e.strip() for e in examples)
        parts.append("import doctest as _doctest\n"
                     f"_test = _doctest.DocTestParser().get_doctest({text!r}, globals(), 'question', None, 0)\n"
                     "_runner = _doctest.DocTestRunner(verbose=False)\n_runner.run(_test)\n"
                     "assert _runner.failures == 0, 'an example of the question fails'")
    return "\n".join(parts)


def check_code(question: str, answer_text: str, timeout: float | None = None) -> tuple[Check, str | None] | None:
    """Run the answer's code against the tests the question gives, in the sandbox; None without tests."""
    code = last_code_block(answer_text or "")
    tests = question_tests(question, code) if code else None
    if code is None or tests is None:
        return None
    count = len(_ASSERT.findall(question)) + len(_EXAMPLE.findall(question))
    marker = f"corecover-tests-ran-{secrets.token_hex(8)}"
    try:
        from reasoner.sandbox import SandboxUnavailable, run_code
    except ImportError:
        return Check("code_tests", "skipped", "no sandbox module to run the tests in"), None
    try:
        result = run_code(code, f"{tests}\nprint({marker!r})", timeout=timeout or CODE_TIMEOUT,
                          memory_mb=512)
    except SandboxUnavailable as exc:
        return Check("code_tests", "skipped", f"not run: {exc}"), None
    if result.passed and marker in result.stdout:
        return Check("code_tests", "passed", f"the answer's code passes the {count} test(s) of the question "
                     f"(sandbox: {result.isolation}, {result.seconds:.2f} s)"), None
    why = result.status if not result.passed else "the tests did not all run (the code ended early)"
    last = (result.stderr.strip().splitlines() or [""])[-1][:160]
    return Check("code_tests", "failed", f"the answer's code fails the question's test(s): {why}"
                 + (f" ({last})" if last else "")), None


def check_steps(text: str) -> list[Check]:
    """Calculator flag mode: every written calculation (``a op b = c``, chains, percentages)
    recomputed exactly, one ``step`` check each (at most :data:`MAX_STEPS`)."""
    checks = []
    for chain in find_chains(text or "")[:MAX_STEPS]:
        result = check_chain(chain)
        checks.append(Check("step", result.outcome, result.detail))
    return checks


def agreement_check(tts: dict[str, Any]) -> Check:
    """Sample agreement from the agent's test-time-scaling field: evidence, not verification."""
    k, share, winner = tts.get("k") or 0, float(tts.get("share") or 0), tts.get("winner")
    votes = round(share * k)
    detail = f"{votes} of {k} samples agree on {winner!r} (vote share {share:.2f}"
    if tts.get("method") == "clr" and tts.get("reliability") is not None:
        detail += f", CLR reliability {float(tts['reliability']):.2f}"
    if tts.get("threshold") is not None:
        detail += f", threshold {tts['threshold']}"
    detail += "); agreement is not proof"
    confident = tts.get("confident")
    return Check("agreement", "skipped" if confident is None else "passed" if confident else "failed", detail)


# -- the verdict --------------------------------------------------------------------------
def _guarded(name: str, check: Any, *args: Any) -> tuple[Check, str | None] | None:
    try:
        return check(*args)
    except Exception as exc:  # a checker bug must never crash an answer or verify it
        return Check(name, "skipped", f"check error: {type(exc).__name__}: {str(exc)[:120]}"), None


def verify(question: str, answer_text: str, final_answer: str | None, *,
           tts: dict[str, Any] | None = None) -> Verdict:
    """The status an answer earns from exact checks (see the module docstring)."""
    question, answer_text = question or "", answer_text or ""
    final_answer = final_answer.strip() if isinstance(final_answer, str) and final_answer.strip() else None
    verdict = Verdict("unverified")
    checkers = (("arithmetic", check_arithmetic, final_answer), ("equation", check_equation, final_answer),
                ("code_tests", check_code, answer_text))
    for name, checker, given in checkers:
        found = _guarded(name, checker, question, given)
        if found is None:
            continue
        check, corrected = found
        verdict.checks.append(check)
        verdict.corrected = corrected
        if check.outcome == "passed":
            verdict.status, verdict.basis = "verified", "exact"
        elif check.outcome == "failed":
            verdict.status, verdict.basis = "contradicted", "exact"
        break
    try:
        verdict.checks += check_steps(answer_text)
    except Exception as exc:
        verdict.checks.append(Check("step", "skipped", f"check error: {type(exc).__name__}"))
    if tts:
        verdict.checks.append(agreement_check(tts))
        if verdict.basis == "none":
            verdict.basis = "agreement"
    return verdict
