"""Multiple-choice items: parse the options out of a prompt and re-shuffle them, seeded per sample.

The shared GPQA-Diamond parquet lists the correct option first in every row, so a model
that always answers "A" would score 100%. :func:`shuffle_item` re-renders the prompt with a
seeded permutation and moves the gold letter with it; the permutation is recorded as the
original letters in their new order (``"CADB"``: the new A is the original C).
"""

from __future__ import annotations

import random
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from eval.benchmarks import Item

LETTERS = "ABCDEFGHIJ"


def parse_options(prompt: str) -> tuple[str, list[str], str]:
    """Split ``question \\nA. … \\nB. … \\n\\nsuffix`` into ``(head, options, tail)``.

    ``render_options(head, options, tail)`` gives the prompt back unchanged.
    """
    starts = []
    for letter in LETTERS:
        pos = prompt.rfind(f"\n{letter}. ")
        if pos < 0 or (starts and pos < starts[-1]):
            break
        starts.append(pos)
    if len(starts) < 2:
        raise ValueError("no lettered options (lines starting 'A. ', 'B. ', …) found in the prompt")
    last = starts[-1] + 4
    end = prompt.find("\n\n", last)
    end = len(prompt) if end < 0 else end
    bounds = [*starts, end]
    options = [prompt[bounds[i] + 4:bounds[i + 1]] for i in range(len(starts))]
    return prompt[:starts[0]], options, prompt[end:]


def render_options(head: str, options: list[str], tail: str) -> str:
    """The prompt with ``options`` lettered A, B, … in the given order."""
    return head + "".join(f"\n{LETTERS[i]}. {text}" for i, text in enumerate(options)) + tail


def permutation(item_id: str, sample: int, seed: int, size: int) -> str:
    """The original letters in their shuffled order, deterministic in ``(seed, item_id, sample)``."""
    order = list(LETTERS[:size])
    random.Random(f"{seed}:{item_id}:{sample}").shuffle(order)
    return "".join(order)


def shuffle_item(item: Item, sample: int, seed: int = 0) -> Item:
    """A copy of an MCQ item with its options permuted for this sample; gold letter remapped."""
    head, options, tail = item.metadata["question"], item.metadata["options"], item.metadata["suffix"]
    order = permutation(item.id, sample, seed, len(options))
    shuffled = [options[LETTERS.index(letter)] for letter in order]
    gold = LETTERS[order.index(item.gold)]
    return replace(item, prompt=render_options(head, shuffled, tail), gold=gold,
                   metadata={**item.metadata, "permutation": order, "shipped_gold": item.gold})


def original_letter(letter: str | None, order: str | None) -> str | None:
    """Map an answered letter back to the option's letter in the shipped order."""
    if letter is None or not order:
        return letter
    index = LETTERS.find(letter)
    return order[index] if 0 <= index < len(order) else None

