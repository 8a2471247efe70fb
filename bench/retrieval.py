"""Retrieval benchmark on NQ-open dev over the default index (embedded corpus + MiniLM).

Answer-recall@1/5/20 for bm25, dense and hybrid side by side, on the NQ-open dev questions
whose gold answer occurs in the corpus; query latency (p50/p95, with and without the query
embedding); index build passages/s; index load time. With --tune, the fusion settings are
grid-searched on the even-numbered questions and reported on the odd-numbered ones (held out).

    .venv/bin/python bench/retrieval.py [--limit N] [--tune] [--json out.json]

Needs the default index (built on first use, ~5 min) and ../shared/data/knowledge/nq_open_dev.jsonl.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import statistics
import string
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from retriever import Fusion, Index, default_index_dir, load_default_index  # noqa: E402
from retriever.dense import search_faiss  # noqa: E402
from retriever.fusion import reciprocal_rank_fusion  # noqa: E402

NQ = Path(os.environ.get("CORECOVER_SHARED_DATA", ROOT.parent / "shared" / "data")) / "knowledge" / "nq_open_dev.jsonl"
MODES = ("bm25", "dense", "hybrid")
KS = (1, 5, 20)
DEPTH = 100
COLD_LOAD = ("import sys, time; t = time.perf_counter(); from retriever import Index; "
             "Index.load(sys.argv[1]); print(time.perf_counter() - t)")  # candidates kept per retriever for the fusion grid


def normalize(text: str) -> str:
    """SQuAD/DPR-style: lower case, no punctuation, no articles, single spaces."""
    text = text.lower()
    text = "".join(" " if ch in string.punctuation else ch for ch in text)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def has_answer(passage: str, answers: list[str]) -> bool:
    return any(f" {a} " in passage for a in answers)


def eligible_questions(index: Index, limit: int | None) -> tuple[list[dict], list[str]]:
    """NQ-open dev questions with a gold answer found (normalised, whole words) in some passage."""
    norm = [f" {normalize(p.title + ' ' + p.text)} " for p in index.passages]
    corpus = " | ".join(norm)
    rows = [json.loads(line) for line in NQ.read_text(encoding="utf-8").splitlines() if line.strip()]
    questions = []
    for row in rows:
        answers = [a for a in (normalize(x) for x in row["answer"]) if a]
        if answers and any(f" {a} " in corpus for a in answers):
            questions.append({"question": row["question"], "answers": answers})
    print(f"NQ-open dev: {len(rows)} questions, {len(questions)} with a gold answer in the corpus", flush=True)
    return questions[:limit] if limit else questions, norm


def recall(rankings: list[list[int]], questions: list[dict], norm: list[str]) -> dict[int, float]:
    return {k: 100 * statistics.fmean(any(has_answer(norm[i], q["answers"]) for i in ids[:k])
                                      for ids, q in zip(rankings, questions, strict=True)) for k in KS}


def percentiles(samples: list[float]) -> tuple[float, float]:
    ms = np.array(samples) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, help="use only the first N eligible questions")
    parser.add_argument("--tune", action="store_true", help="grid-search fusion on even questions, report on odd")
    parser.add_argument("--latency-queries", type=int, default=100)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--index", type=Path, help="an index folder [default: the default index]")
    args = parser.parse_args()
    if not NQ.is_file():
        sys.exit(f"missing {NQ}; set CORECOVER_SHARED_DATA")

    import torch

    index = Index.load(args.index) if args.index else load_default_index()
    path = args.index or default_index_dir()
    loads = {}
    for verify in (True, False):
        times = []
        for _ in range(5):
            started = time.perf_counter()
            Index.load(path, index.embedder, verify=verify)
            times.append(time.perf_counter() - started)
        loads[verify] = statistics.median(times)
    cold = subprocess.run([sys.executable, "-c", COLD_LOAD, str(path)], capture_output=True, text=True, check=True)
    loads["cold process"] = float(cold.stdout)
    started = time.perf_counter()
    index.embedder.st  # noqa: B018 - the model loads on first use; time it apart from the index
    model_load = time.perf_counter() - started
    print(f"index: {index!r} at {path}; torch threads {torch.get_num_threads()}", flush=True)

    questions, norm = eligible_questions(index, args.limit)
    texts = [q["question"] for q in questions]
    started = time.perf_counter()
    vectors = index.embedder.encode(texts)
    print(f"embedded {len(texts)} questions in {time.perf_counter() - started:.1f} s", flush=True)

    dense_lists, bm25_lists = [], []
    for text, vector in zip(texts, vectors, strict=True):
        dense_lists.append(search_faiss(index.dense, vector, DEPTH)[0].tolist())
        bm25_lists.append(index.bm25.search(text, DEPTH)[0].tolist())

    def fused(fusion: Fusion, rows: range | list[int]) -> list[list[int]]:
        return [[d for d, _ in reciprocal_rank_fusion(
            {"dense": dense_lists[i][:fusion.depth], "bm25": bm25_lists[i][:fusion.depth]},
            fusion.weights, fusion.k)][:20] for i in rows]

    figures: dict = {"questions": len(questions), "index": {"passages": len(index), **index.manifest["build"]}}
    fusion_in_use = index.fusion
    if args.tune:
        even, odd = list(range(0, len(questions), 2)), list(range(1, len(questions), 2))
        grid = [Fusion({"dense": 1.0, "bm25": w}, k, depth)
                for w, k, depth in itertools.product((0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5), (1, 5, 10, 20, 60),
                                                     (10, 20, 50, 100))]
        qs_even = [questions[i] for i in even]
        scored = [(recall(fused(f, even), qs_even, norm)[5], recall(fused(f, even), qs_even, norm)[20], f)
                  for f in grid]
        best = max(scored, key=lambda s: (s[0], s[1]))[2]
        print(f"tuned on {len(even)} even questions: best {best} (recall@5 {max(scored, key=lambda s: s[:2])[0]:.1f})")
        held = [questions[i] for i in odd]
        table = {"bm25": recall([bm25_lists[i] for i in odd], held, norm),
                 "dense": recall([dense_lists[i] for i in odd], held, norm),
                 f"hybrid (in use: {fusion_in_use})": recall(fused(fusion_in_use, odd), held, norm),
                 f"hybrid (tuned: {best})": recall(fused(best, odd), held, norm)}
        print(f"\nheld-out odd questions (n={len(held)}): answer recall@k, %")
        for name, row in table.items():
            print(f"  {name:<80} " + "  ".join(f"@{k} {row[k]:5.1f}" for k in KS))
        figures["tuning"] = {"best": best.__dict__, "held_out": {n: r for n, r in table.items()}}

    # the real search path, with the fusion settings in use, over all eligible questions
    rankings = {mode: [] for mode in MODES}
    for text, vector in zip(texts, vectors, strict=True):
        for mode in MODES:
            hits = index.search(text, k=20, mode=mode, query_vector=vector)
            rankings[mode].append([_row(index, h.id) for h in hits])
    table = {mode: recall(rankings[mode], questions, norm) for mode in MODES}
    best_single = max(table["bm25"][5], table["dense"][5])
    print(f"\nall {len(questions)} eligible questions, Index.search, fusion {fusion_in_use}: answer recall@k, %")
    print(f"  {'mode':<8} " + "  ".join(f"{'@' + str(k):>6}" for k in KS))
    for mode in MODES:
        print(f"  {mode:<8} " + "  ".join(f"{table[mode][k]:6.1f}" for k in KS))
    print(f"  hybrid@5 minus best single@5: {table['hybrid'][5] - best_single:+.1f} points (target >= +3)")
    figures["recall"] = table

    # latency: fresh queries one at a time (cache cleared), the full path including the query embedding
    sample = texts[: args.latency_queries]
    latency = {}
    for mode in MODES:
        index.embedder.encode_query.cache_clear()
        index.search(sample[0], k=5, mode=mode)
        index.embedder.encode_query.cache_clear()
        times = []
        for text in sample:
            started = time.perf_counter()
            index.search(text, k=5, mode=mode)
            times.append(time.perf_counter() - started)
        latency[f"search {mode}, end to end"] = percentiles(times)
    def embed_fresh(text: str, _vector) -> None:
        index.embedder.encode_query.cache_clear()
        index.embedder.encode_query(text)

    for name, run in (("query embedding alone", embed_fresh),
                      ("FAISS search alone", lambda t, v: search_faiss(index.dense, v, 5)),
                      ("BM25 search alone", lambda t, v: index.bm25.search(t, 5)),
                      ("hybrid search, vector given", lambda t, v: index.search(t, 5, "hybrid", query_vector=v))):
        times = []
        for text, vector in zip(sample, vectors, strict=False):
            started = time.perf_counter()
            run(text, vector)
            times.append(time.perf_counter() - started)
        latency[name] = percentiles(times)
    print(f"\nlatency over {len(sample)} queries, k=5, {len(index)} passages (ms)")
    for name, (p50, p95) in latency.items():
        print(f"  {name:<40} p50 {p50:7.2f}   p95 {p95:7.2f}")
    figures["latency_ms"] = {n: {"p50": a, "p95": b} for n, (a, b) in latency.items()}

    batch = [index.passages[i].title + "\n" + index.passages[i].text for i in range(0, len(index), len(index) // 256)]
    started = time.perf_counter()
    index.embedder.encode(batch)
    now = len(batch) / (time.perf_counter() - started)
    build = index.manifest["build"]
    print(f"\nbuild: {build.get('passages_per_second')} passages/s embedding when the default index was built "
          f"({build['embedded']} embedded, {build['reused']} reused, {build['embed_seconds']} s; FAISS + BM25 "
          f"{build['index_seconds']} s); {now:.1f} passages/s embedding {len(batch)} passages now")
    print(f"load: Index.load {loads[True] * 1000:.0f} ms with checksums, {loads[False] * 1000:.0f} ms without, "
          f"{loads['cold process'] * 1000:.0f} ms in a fresh process (imports included, checksums on); "
          f"the embedding model loads lazily on the first query: {model_load:.2f} s")
    print(f"machine load average now: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    figures.update(build_now_passages_per_s=now, load_s={"verified": loads[True], "unverified": loads[False], "cold": loads["cold process"]},
                   model_load_s=model_load, loadavg=os.getloadavg()[0])
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))


_ROWS: dict[str, int] = {}


def _row(index: Index, passage_id: str) -> int:
    if not _ROWS:
        _ROWS.update({p.id: i for i, p in enumerate(index.passages)})
    return _ROWS[passage_id]


if __name__ == "__main__":
    main()
