"""Greedy accuracy of a checkpoint on generated problems, per problem kind (eval's strict scorer):
the benches' before/after measure. ``heldout_records`` is eval's held-back set, asked as eval asks it."""

from __future__ import annotations

from typing import Any

from training.records import Record


def heldout_records(limit: int | None = None) -> list[Record]:
    """eval's held-back generated problems (the hypothesis grid's ``arithmetic`` row), first ``limit``."""
    from eval.benchmarks import BOXED_SUFFIX
    from eval.hypothesis import heldout_rows
    from reasoner.presets import PRESETS

    rows = heldout_rows()[:limit] if limit else heldout_rows()
    system = [{"role": "system", "content": PRESETS["smollm2-135m"].system}]  # what the llamacpp backend sends
    return [Record(messages=[*system, {"role": "user", "content": f"{row['prompt']}\n{BOXED_SUFFIX}"}],
                   reward={"kind": "math", "answer": row["gold"]}, id=row["id"], meta={"kind": row["kind"]})
            for row in rows]


def greedy_accuracy(model: Any, records: list[Record], max_new_tokens: int = 192, batch_size: int = 48,
                    tokenizer: Any = None) -> dict[str, float]:
    """Greedy accuracy per ``meta["kind"]`` and over all records (``"all"``); ``model`` is a checkpoint
    path or a loaded model (with its ``tokenizer``)."""
    from training.config import SamplingConfig
    from training.rewards import is_correct
    from training.sampling import sample

    outputs = sample(model, [r.prompt for r in records], 1,
                     SamplingConfig(max_new_tokens=max_new_tokens, temperature=0, batch_size=batch_size),
                     tokenizer=tokenizer)
    hits: dict[str, list[bool]] = {}
    for record, (text,) in zip(records, outputs, strict=True):
        hits.setdefault(record.meta.get("kind", "all"), []).append(is_correct(text, record.reward))
    table = {kind: sum(v) / len(v) for kind, v in sorted(hits.items())}
    table["all"] = sum(sum(v) for v in hits.values()) / max(1, len(records))
    return table
