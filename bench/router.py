"""Router benchmark: the trained verifiability router against a keyword router and a zero-shot LLM judge.

Accuracy and macro-F1 on the labelled set's held-out split (templated + benchmark questions), on the
hand-written probe and on the sealed hand-written probe; p50 latency per question of the classifier
alone and with the query embedding; router file load time. The LLM judge (the embedded reasoner,
temperature 0, one-word answer) runs on a stratified subset of the held-out split only (--llm-n,
default 60), because it costs a generation per question.

    .venv/bin/python bench/router.py [--llm-n 60] [--no-llm] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sklearn.metrics import accuracy_score, f1_score  # noqa: E402

from agent.router import CLASSES, DEFAULT_PATH, DEFAULT_SET, Router  # noqa: E402
from agent.router_data import read_items  # noqa: E402

# ---------------------------------------------------------------- keyword baseline

_CODE = re.compile(r"\b(?:def|return|function|python|javascript|java|c\+\+|rust|sql|bash|code|algorithm|implement|"
                   r"program|regex|regular expression|pseudocode|compile|debug)\b|```|>>>", re.IGNORECASE)
_MATH = re.compile(r"[=^*/+<>$\\]|\d\s*[-x×]\s*\d|\b(?:solve|prove|show that|compute|calculate|evaluate|simplify|"
                   r"derivative|integral|probability|equation|how many ways|remainder|prime|divisible|"
                   r"percent|%|average|expected)\b", re.IGNORECASE)
_COMPUTE = re.compile(r"\b(?:how many years|how old|how long|how many times|how much (?:older|bigger|longer)|"
                      r"twice|double|triple|difference|combined|sum of|total|in what century|which century|"
                      r"ratio|times (?:the|larger|bigger)|years? (?:after|before|between|apart|ago))\b", re.IGNORECASE)
_ENTITY = re.compile(r"(?<!^)(?<![.?!]\s)\b[A-Z][a-z]+")


def keyword_route(question: str) -> str:
    """A sensible hand-written router: code/maths markers -> reason; a computation about a named thing
    -> mixed; a computation over given numbers -> reason; everything else -> knowledge."""
    computes, entity = bool(_COMPUTE.search(question)), bool(_ENTITY.search(question))
    given_numbers = len(re.findall(r"\d+(?:\.\d+)?", question)) >= 2
    if _CODE.search(question):
        return "reason"
    if computes and entity and not given_numbers:
        return "mixed"
    if _MATH.search(question) or (computes and given_numbers):
        return "reason"
    return "knowledge"


# ---------------------------------------------------------------- zero-shot LLM judge

JUDGE_SYSTEM = ("You are a question classifier. You never answer questions. You reply with exactly one word: "
                "reason (maths, code, logic or a science calculation solvable from the question alone), "
                "knowledge (a fact about the world to look up), or mixed (a looked-up fact plus a calculation).")


def make_llm_judge() -> tuple[Callable[[str], str], dict[str, int]]:
    from reasoner import load_backend

    backend = load_backend("llamacpp:embedded")
    stats = {"unparsed": 0}

    def judge(question: str) -> str:
        messages = [{"role": "system", "content": JUDGE_SYSTEM},
                    {"role": "user", "content": f"Classify this question: {question[:1500]}\n"
                                                "One word (reason, knowledge or mixed):"}]
        text = backend.generate(messages, temperature=0.0, max_tokens=8)[0].text.lower()
        found = {"reason" if w.startswith("reason") else w
                 for w in re.findall(r"\b(reasoning|reason|knowledge|mixed)\b", text)}
        if len(found) != 1:  # no class word, or an echo of the whole list
            stats["unparsed"] += 1
            return "knowledge"  # the safe default route
        return found.pop()

    return judge, stats


# ---------------------------------------------------------------- measurement


def score(gold: list[str], predicted: list[str]) -> dict[str, float]:
    return {"acc": float(accuracy_score(gold, predicted)),
            "f1": float(f1_score(gold, predicted, labels=list(CLASSES), average="macro"))}


def timed(route: Callable[[str], str], questions: list[str]) -> tuple[list[str], float]:
    """Routes and the median milliseconds per question."""
    routes, times = [], []
    for q in questions:
        started = time.perf_counter()
        routes.append(route(q))
        times.append((time.perf_counter() - started) * 1000)
    return routes, statistics.median(times)


def stratified(items: list[dict], n: int) -> list[dict]:
    per = max(1, n // len(CLASSES))
    return [it for label in CLASSES for it in [x for x in items if x["label"] == label][:per]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--llm-n", type=int, default=60, help="held-out items the LLM judge classifies")
    parser.add_argument("--no-llm", action="store_true")
    parser.add_argument("--embed-n", type=int, default=100, help="questions timed with their embedding")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    loads = []
    for _ in range(5):
        started = time.perf_counter()
        router = Router.load(DEFAULT_PATH)
        loads.append((time.perf_counter() - started) * 1000)
    items = read_items(DEFAULT_SET)
    splits = {s: [it for it in items if it["split"] == s] for s in ("heldout", "probe", "sealed")}
    print(f"router file loads in {statistics.median(loads):.1f} ms (median of 5); splits: "
          + ", ".join(f"{s} {len(v)}" for s, v in splits.items()), flush=True)

    embedder = router.embedder
    vectors = {s: embedder.encode([it["text"] for it in v]) for s, v in splits.items()}
    rows: dict[str, dict] = {}

    # the router, classifier alone (vector given) and with the query embedding
    result = {}
    for s, v in splits.items():
        index = {it["text"]: i for i, it in enumerate(v)}
        routes, p50 = timed(lambda q, s=s, index=index: router.predict(q, vectors[s][index[q]]).route,
                            [it["text"] for it in v])
        result[s] = score([it["label"] for it in v], routes)
        if s == "heldout":
            result["p50_ms"] = p50
    sample = [it["text"] for it in splits["heldout"][:: max(1, len(splits["heldout"]) // args.embed_n)]]
    _, result["p50_embed_ms"] = timed(lambda q: router.predict(q, embedder.encode([q])[0]).route, sample)
    rows["router (MiniLM + logistic)"] = result
    import torch  # a busy CPU makes torch's spinning intra-op threads slow single-query encodes down a lot

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    _, one_thread = timed(lambda q: router.predict(q, embedder.encode([q])[0]).route, sample)
    torch.set_num_threads(threads)
    rows["router, query embedded on 1 torch thread"] = {"p50_embed_ms": one_thread}

    # keyword baseline
    result = {}
    for s, v in splits.items():
        routes, p50 = timed(keyword_route, [it["text"] for it in v])
        result[s] = score([it["label"] for it in v], routes)
        if s == "heldout":
            result["p50_ms"] = p50
    rows["keyword rules"] = result

    # zero-shot LLM judge on a subset
    if not args.no_llm:
        judge, stats = make_llm_judge()
        judge("What is 2 + 2?")  # warm-up
        subset = stratified(splits["heldout"], args.llm_n)
        result = {}
        for s, v in (("heldout", subset),):
            routes, p50 = timed(judge, [it["text"] for it in v])
            result[s] = score([it["label"] for it in v], routes)
            result[f"{s}_n"] = len(v)
            if s == "heldout":
                result["p50_ms"] = p50
            result["shares"] = {c: routes.count(c) for c in CLASSES}
        result["unparsed"] = stats["unparsed"]
        rows["LLM judge (SmolLM2-135M, 0-shot)"] = result
        # the router on the same subset, for a like-for-like figure
        index = {it["text"]: i for i, it in enumerate(splits["heldout"])}
        routes = [router.predict(it["text"], vectors["heldout"][index[it["text"]]]).route for it in subset]
        rows["router on the LLM subset"] = {"heldout": score([it["label"] for it in subset], routes),
                                            "heldout_n": len(subset)}

    def cell(result: dict, s: str) -> str:
        r = result.get(s)
        return f"{r['acc']:.3f} / {r['f1']:.3f}" if r else "—"

    header = f"{'router':34s} {'held-out acc / F1':>19s} {'probe acc / F1':>16s} {'sealed acc / F1':>17s} " \
             f"{'p50 ms':>8s} {'p50 ms +embed':>14s}"
    print(header)
    print("-" * len(header))
    for name, result in rows.items():
        p50 = f"{result['p50_ms']:.3f}" if "p50_ms" in result else "—"
        p50e = f"{result['p50_embed_ms']:.1f}" if "p50_embed_ms" in result else "—"
        label = name + (f" [n={result['heldout_n']}]" if "heldout_n" in result else "")
        print(f"{label:34s} {cell(result, 'heldout'):>19s} {cell(result, 'probe'):>16s} {cell(result, 'sealed'):>17s} "
              f"{p50:>8s} {p50e:>14s}")
    if "LLM judge (SmolLM2-135M, 0-shot)" in rows:
        judge_row = rows["LLM judge (SmolLM2-135M, 0-shot)"]
        print(f"LLM judge: {judge_row['unparsed']} of {judge_row['heldout_n']} answers unparsed (routed to "
              f"knowledge); its routes: {judge_row['shares']}")
    if args.json:
        args.json.write_text(json.dumps({"load_ms": statistics.median(loads), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
