"""Metrics over per-sample records: avg@n, pass@k, cons@k, IFEval/NQ/GPQA extras, truncation, tokens, cost.

cons@1 equals pass@1 by construction: a sample votes with the answer it states, and the scorer calls
a sample correct only when it states one (``eval.scoring``), so a lone sample's vote wins iff it is right.
"""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any

from eval.scoring import pass_at_k, same_answer


def default_ks(n: int) -> list[int]:
    """1, 2, 4, … up to ``n``, and ``n`` itself."""
    ks, k = [], 1
    while k < n:
        ks.append(k)
        k *= 2
    return [*ks, n]


def vote_key(record: dict[str, Any]) -> str | None:
    """The answer a sample votes for: the shipped option letter for shuffled MCQ, else the extracted answer."""
    details = record.get("details") or {}
    if record["kind"] == "mcq":
        return details.get("shipped_letter") or record.get("extracted")
    return record.get("extracted")


def consensus_correct(records: list[dict[str, Any]], kind: str) -> bool:
    """Majority vote over clusters of equivalent answers; ties go to the cluster seen first. Samples
    stating no answer do not vote."""
    clusters: list[tuple[str, list[dict[str, Any]]]] = []
    for record in records:
        key = vote_key(record)
        if key is None:
            continue
        for rep, members in clusters:
            if same_answer(kind, rep, key):
                members.append(record)
                break
        else:
            clusters.append((key, [record]))
    if not clusters:
        return False
    _, members = max(clusters, key=lambda c: len(c[1]))  # max keeps the first of equal sizes
    return bool(members[0]["correct"])


def price_of(model: str, prices: dict[str, dict[str, float]]) -> dict[str, float] | None:
    """The price entry for ``model``: exact key, else a key contained in the model name."""
    if model in prices:
        return prices[model]
    for key, value in prices.items():
        if key and key.lower() in model.lower():
            return value
    return None


def cost_usd(model: str, prompt_tokens: int, completion_tokens: int, prices: dict[str, dict[str, float]]) -> float:
    """USD for one call from a table of USD per 1M ``input``/``output`` tokens (0 when unpriced)."""
    price = price_of(model, prices)
    if not price:
        return 0.0
    return (prompt_tokens * float(price.get("input", 0)) + completion_tokens * float(price.get("output", 0))) / 1e6


def item_metrics(records: list[dict[str, Any]], ks: list[int]) -> dict[str, Any]:
    """Metrics of one item from its sample records (sorted by sample index)."""
    records = sorted(records, key=lambda r: r["sample"])
    n, c = len(records), sum(bool(r["correct"]) for r in records)
    kind = records[0]["kind"]
    out: dict[str, Any] = {
        "id": records[0]["item_id"], "kind": kind, "n": n, "correct": c, "avg": c / n,
        "score": statistics.fmean(float(r["score"]) for r in records),
        "pass@k": {str(k): pass_at_k(n, c, k) for k in ks if k <= n},
        "prompt_tokens": sum(r["prompt_tokens"] for r in records),
        "completion_tokens": sum(r["completion_tokens"] for r in records),
        "seconds": sum(r["seconds"] for r in records),
        "cost_usd": sum(r.get("cost_usd", 0.0) for r in records),
        "truncated": sum(map(is_truncated, records)),
    }
    if kind in ("math", "mcq", "qa"):
        out["cons@k"] = {str(k): float(consensus_correct(records[:k], kind)) for k in ks if k <= n}
    return out


def is_truncated(record: dict[str, Any]) -> bool:
    """Was the sample cut at its token limit (``truncated``, or in older records ``extra.truncated``)?"""
    return bool(record.get("truncated", (record.get("extra") or {}).get("truncated")))


def _unanswered(record: dict[str, Any]) -> bool:
    """A math or mcq sample that states no final answer (scored wrong)."""
    return record["kind"] in ("math", "mcq") and vote_key(record) is None


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def summarize(records: list[dict[str, Any]], ks: list[int]) -> dict[str, Any]:
    """Benchmark-level summary and per-item metrics of a run's sample records."""
    by_item: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        by_item.setdefault(r["item_id"], []).append(r)
    items = [item_metrics(rs, ks) for rs in by_item.values()]
    if not items:
        return {"summary": {"items": 0, "samples": 0}, "items": []}
    kinds = {i["kind"] for i in items}
    summary: dict[str, Any] = {
        "items": len(items), "samples": len(records),
        "accuracy": _mean([i["avg"] for i in items]),  # avg@n: mean pass@1 over items
        "score": _mean([i["score"] for i in items]),
        "pass@k": {str(k): _mean([i["pass@k"][str(k)] for i in items if str(k) in i["pass@k"]]) for k in ks},
        "prompt_tokens": sum(i["prompt_tokens"] for i in items),
        "completion_tokens": sum(i["completion_tokens"] for i in items),
        "mean_completion_tokens": _mean([r["completion_tokens"] for r in records]),
        "mean_seconds": _mean([r["seconds"] for r in records]),
        "median_seconds": statistics.median(r["seconds"] for r in records),
        "cost_usd": sum(i["cost_usd"] for i in items),
        "cost_per_item_usd": sum(i["cost_usd"] for i in items) / len(items),
        "truncated": sum(map(is_truncated, records)),
        "unanswered": sum(map(_unanswered, records)),
        "truncated_unanswered": sum(is_truncated(r) and _unanswered(r) for r in records),
        "routes": dict(Counter(r.get("route") or "" for r in records)),
        "models": dict(Counter(r.get("model") or "" for r in records)),
    }
    if any("cons@k" in i for i in items):
        summary["cons@k"] = {str(k): _mean([i["cons@k"][str(k)] for i in items if str(k) in i.get("cons@k", {})])
                             for k in ks}
    for key in ("pass@k", "cons@k"):
        if key in summary:
            summary[key] = {k: v for k, v in summary[key].items() if v is not None}
    if "mcq" in kinds:
        summary["answer_letters"] = dict(sorted(Counter(
            (r.get("details") or {}).get("letter") or "none" for r in records).items()))
        summary["gold_letters"] = dict(sorted(Counter(str(r.get("gold")) for r in records).items()))
        summary["shipped_answer_letters"] = dict(sorted(Counter(
            (r.get("details") or {}).get("shipped_letter") or "none" for r in records).items()))
    if "ifeval" in kinds:
        strict = [r["details"]["strict"] for r in records if r["kind"] == "ifeval"]
        loose = [r["details"]["loose"] for r in records if r["kind"] == "ifeval"]
        summary["ifeval"] = {
            "prompt_strict": _mean([float(all(s)) for s in strict]),
            "prompt_loose": _mean([float(all(s)) for s in loose]),
            "instruction_strict": sum(map(sum, strict)) / max(1, sum(map(len, strict))),
            "instruction_loose": sum(map(sum, loose)) / max(1, sum(map(len, loose))),
        }
    if "qa" in kinds:
        summary["qa"] = {"exact_match": _mean([float(r["details"]["exact_match"]) for r in records if r["kind"] == "qa"]),
                         "f1": _mean([r["details"]["f1"] for r in records if r["kind"] == "qa"])}
    if "code" in kinds:
        summary["code_status"] = dict(Counter(r["details"]["status"] for r in records if r["kind"] == "code"))
    return {"summary": summary, "items": items}
