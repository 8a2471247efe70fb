"""GSM8K-style word problems of 1, 2 or 3 arithmetic steps, drawn from templates with random names,
objects and numbers. Each worked solution states one equation per step, each preceded by its column steps
(:mod:`training.traces`), and ends with ``\\boxed{}``."""

from __future__ import annotations

import random
import re
from collections.abc import Callable

from training.tasks import Problem, boxed
from training.traces import trace

NAMES = [("Maria", "she"), ("Tom", "he"), ("Aisha", "she"), ("Carlos", "he"), ("Lena", "she"), ("Ravi", "he"),
         ("Sofia", "she"), ("Ben", "he"), ("Yuki", "she"), ("Omar", "he"), ("Grace", "she"), ("Liam", "he"),
         ("Nora", "she"), ("Diego", "he"), ("Emma", "she"), ("Kofi", "he")]
ITEMS = ["apples", "pencils", "stickers", "marbles", "cookies", "books", "stamps", "shells", "cards", "beads",
         "oranges", "muffins", "toy cars", "balloons"]
CONTAINERS = ["box", "bag", "pack", "jar", "basket", "crate"]
GOODS = [("notebook", "notebooks"), ("pen", "pens"), ("sandwich", "sandwiches"), ("ticket", "tickets"),
         ("plant", "plants"), ("toy", "toys"), ("cup of coffee", "cups of coffee"), ("shirt", "shirts")]

Template = Callable[[random.Random], tuple[str, list[str], int]]


def _who(rng: random.Random) -> tuple[str, str, str]:
    name, pronoun = rng.choice(NAMES)
    friend = rng.choice([n for n, _ in NAMES if n != name])
    return name, pronoun, friend


# -- one step --------------------------------------------------------------------------------
def buys_more(rng: random.Random) -> tuple[str, list[str], int]:
    name, he, _ = _who(rng)
    item, a, b = rng.choice(ITEMS), rng.randint(5, 60), rng.randint(3, 40)
    q = f"{name} has {a} {item}. {he.capitalize()} gets {b} more {item}. How many {item} does {name} have now?"
    return q, [f"{a} + {b} = {a + b}."], a + b


def gives_away(rng: random.Random) -> tuple[str, list[str], int]:
    name, _he, friend = _who(rng)
    item, a = rng.choice(ITEMS), rng.randint(10, 80)
    b = rng.randint(2, a - 1)
    q = f"{name} had {a} {item} and gave {b} of them to {friend}. How many {item} does {name} have left?"
    return q, [f"{a} - {b} = {a - b}."], a - b


def containers(rng: random.Random) -> tuple[str, list[str], int]:
    item, box = rng.choice(ITEMS), rng.choice(CONTAINERS)
    a, b = rng.randint(3, 12), rng.randint(2, 9)
    q = f"Each {box} holds {a} {item}. How many {item} are in {b} {box}{'es' if box.endswith('x') else 's'}?"
    return q, [f"{b} * {a} = {a * b}."], a * b


def share(rng: random.Random) -> tuple[str, list[str], int]:
    name, _, _ = _who(rng)
    item, each, friends = rng.choice(ITEMS), rng.randint(2, 12), rng.randint(2, 8)
    q = f"{name} shares {each * friends} {item} equally among {friends} friends. How many {item} does each friend get?"
    return q, [f"{each * friends} / {friends} = {each}."], each


# -- two steps -------------------------------------------------------------------------------
def change(rng: random.Random) -> tuple[str, list[str], int]:
    name, he, _ = _who(rng)
    _one, many = rng.choice(GOODS)
    price, count = rng.randint(2, 9), rng.randint(2, 6)
    bill = next(b for b in (10, 20, 50, 100) if b > price * count)
    q = (f"{name} buys {count} {many} at ${price} each and pays with a ${bill} bill. "
         f"How much change does {he} get, in dollars?")
    return q, [f"The {many} cost {count} * {price} = {count * price} dollars.",
               f"The change is {bill} - {count * price} = {bill - count * price} dollars."], bill - count * price


def pages(rng: random.Random) -> tuple[str, list[str], int]:
    name, he, _ = _who(rng)
    a, days, extra = rng.randint(5, 25), rng.randint(2, 7), rng.randint(3, 30)
    q = (f"{name} reads {a} pages every day for {days} days. Then {he} reads {extra} more pages. "
         f"How many pages does {name} read in all?")
    return q, [f"{a} * {days} = {a * days} pages in {days} days.", f"{a * days} + {extra} = {a * days + extra}."], \
        a * days + extra


def packs(rng: random.Random) -> tuple[str, list[str], int]:
    name, he, _ = _who(rng)
    item, box = rng.choice(ITEMS), rng.choice(CONTAINERS)
    a, b, c = rng.randint(2, 30), rng.randint(2, 6), rng.randint(3, 12)
    q = (f"{name} has {a} {item}. {he.capitalize()} buys {b} {box}s with {c} {item} in each {box}. "
         f"How many {item} does {he} have now?")
    return q, [f"The {box}s hold {b} * {c} = {b * c} {item}.", f"{a} + {b * c} = {a + b * c}."], a + b * c


def wages(rng: random.Random) -> tuple[str, list[str], int]:
    name, he, _ = _who(rng)
    rate, hours = rng.randint(8, 20), rng.randint(2, 8)
    spent = rng.randint(5, rate * hours - 1)
    q = (f"{name} earns ${rate} per hour and works for {hours} hours. Then {he} spends ${spent}. "
         f"How many dollars does {name} have left?")
    return q, [f"{name} earns {rate} * {hours} = {rate * hours} dollars.",
               f"{rate * hours} - {spent} = {rate * hours - spent}."], rate * hours - spent


# -- three steps -----------------------------------------------------------------------------
def two_goods(rng: random.Random) -> tuple[str, list[str], int]:
    name, he, _ = _who(rng)
    (_, many1), (_, many2) = rng.sample(GOODS, 2)
    a, p, b, r = rng.randint(2, 5), rng.randint(2, 9), rng.randint(2, 5), rng.randint(2, 9)
    total = a * p + b * r
    bill = next(x for x in (20, 50, 100) if x > total)
    q = (f"{name} buys {a} {many1} for ${p} each and {b} {many2} for ${r} each. {he.capitalize()} pays "
         f"with a ${bill} bill. How much change does {he} get, in dollars?")
    return q, [f"The {many1} cost {a} * {p} = {a * p} dollars.", f"The {many2} cost {b} * {r} = {b * r} dollars.",
               f"Together {a * p} + {b * r} = {total} dollars, so the change is {bill} - {total} = {bill - total}."], \
        bill - total


def half_left(rng: random.Random) -> tuple[str, list[str], int]:
    name, he, friend = _who(rng)
    item, box = rng.choice(ITEMS), rng.choice(CONTAINERS)
    b, c = rng.randint(2, 6), rng.randint(2, 10)
    a = rng.randint(2, 30)
    if (a + b * c) % 2:
        a += 1
    total = a + b * c
    q = (f"{name} has {a} {item} and buys {b} {box}s of {c} {item} each. Then {he} gives half of "
         f"all {his(he)} {item} to {friend}. How many {item} does {name} keep?")
    return q, [f"The {box}s hold {b} * {c} = {b * c} {item}.", f"{a} + {b * c} = {total} in all.",
               f"Half of {total} is {total} / 2 = {total // 2}."], total // 2


def his(pronoun: str) -> str:
    return "her" if pronoun == "she" else "his"


def rows(rng: random.Random) -> tuple[str, list[str], int]:
    name, _, _ = _who(rng)
    r, per = rng.randint(2, 9), rng.randint(3, 12)
    total = r * per
    options = [(dead, d) for dead in range(1, min(10, total - 2) + 1) for d in range(2, 10) if (total - dead) % d == 0]
    dead, baskets = rng.choice(options)
    left = total - dead
    q = (f"{name} plants {r} rows of tomatoes with {per} plants in each row. {dead} plants die. "
         f"{name} puts the rest into {baskets} equal groups. How many plants are in each group?")
    return q, [f"{r} * {per} = {total} plants.", f"{total} - {dead} = {left} plants live.",
               f"{left} / {baskets} = {left // baskets}."], left // baskets


def savings(rng: random.Random) -> tuple[str, list[str], int]:
    name, he, _ = _who(rng)
    start, weekly, weeks, cost = rng.randint(5, 40), rng.randint(3, 15), rng.randint(2, 8), rng.randint(5, 30)
    total = start + weekly * weeks
    cost = min(cost, total - 1)
    q = (f"{name} has ${start} saved. {he.capitalize()} saves ${weekly} every week for {weeks} weeks, then "
         f"buys a game for ${cost}. How many dollars does {name} have now?")
    return q, [f"{name} saves {weekly} * {weeks} = {weekly * weeks} dollars.",
               f"{start} + {weekly * weeks} = {total} dollars.", f"{total} - {cost} = {total - cost}."], total - cost


TEMPLATES: dict[int, list[Template]] = {
    1: [buys_more, gives_away, containers, share],
    2: [change, pages, packs, wages],
    3: [two_goods, half_left, rows, savings],
}


def word_problem(rng: random.Random, steps: int) -> Problem:
    """One word problem of ``steps`` (1–3) arithmetic steps."""
    if steps not in TEMPLATES:
        raise ValueError(f"word problems have 1, 2 or 3 steps, not {steps}")
    question, lines, answer = rng.choice(TEMPLATES[steps])(rng)
    return Problem(question, str(answer), "\n".join(map(worked, lines)) + "\n" + boxed(answer), f"word{steps}")


EQUATION = re.compile(r"(\d+) ([-+*/]) (\d+) = (\d+)")


def worked(line: str) -> str:
    """A solution line preceded by the column steps of each of its equations that is not a one-digit fact."""
    steps = [trace(int(a), op, int(b)) for a, op, b, _ in EQUATION.findall(line)]
    return "\n".join([s for s in steps if s] + [line])
