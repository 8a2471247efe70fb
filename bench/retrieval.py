"""Retrieval benchmark on NQ-open dev: bm25, dense, hybrid and hybrid+rerank over the default index.

Protocol: the NQ-open dev questions whose gold answer occurs in the corpus ("answerable"), split by
0-based line number. Even lines are for training and tuning (the reranker trains on
retriever/data/rerank_questions.jsonl, even lines only: checked here), odd lines are reported.
Prints answer-recall@1/5/20 per mode on the odd half (the even half for reference), query latency
p50/p95 end to end (fresh queries, query embedding included), the reranker's build cost, and load
times. With --tune, the fusion settings are grid-searched on the even half and reported on the odd.

    python bench/retrieval.py [--index DIR] [--reranker DIR] [--build-reranker] [--limit N] [--json out.json]
    python bench/retrieval.py --export-train retriever/data/rerank_questions.jsonl

Needs the default index (built on first use, ~5 min) and ../shared/data/knowledge/nq_open_dev.jsonl.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from retriever import Fusion, Index, default_index_dir, load_default_index  # noqa: E402
from retriever.answers import has_answer, normalize, padded  # noqa: E402
from retriever.dense import search_faiss  # noqa: E402
from retriever.fusion import reciprocal_rank_fusion  # noqa: E402
from retriever.rerank import Reranker, default_rerank_dir, is_built  # noqa: E402
from retriever.rerank_train import QUESTIONS  # noqa: E402

NQ = Path(os.environ.get("CORECOVER_SHARED_DATA", ROOT.parent / "shared" / "data")) / "knowledge" / "nq_open_dev.jsonl"
MODES = ("bm25", "dense", "hybrid", "hybrid+rerank")
KS = (1, 5, 20)
DEPTH = 100  # candidates kept per retriever for the fusion grid
COLD_LOAD = "import sys, time; t = time.perf_counter(); from retriever import Index; Index.load(sys.argv[1]); print(time.perf_counter() - t)"


def nq_rows() -> list[dict]:
    return [json.loads(line) for line in NQ.read_text(encoding="utf-8").splitlines() if line.strip()]


def answerable(index: Index, limit: int | None) -> tuple[list[dict], list[str]]:
    """NQ-open dev questions (with their line number) whose normalised answer occurs in some passage."""
    norm = [padded(p.title + " " + p.text) for p in index.passages]
    corpus = " | ".join(norm)
    rows = nq_rows()
    questions = []
    for line, row in enumerate(rows):
        answers = [a for a in (normalize(x) for x in row["answer"]) if a]
        if answers and any(f" {a} " in corpus for a in answers):
            questions.append({"line": line, "question": row["question"], "answers": answers})
    print(f"NQ-open dev: {len(rows)} questions, {len(questions)} answerable from the corpus", flush=True)
    return questions[:limit] if limit else questions, norm


def check_no_leak(questions: list[dict]) -> None:
    """The shipped training questions are even lines only and share no text with an odd question."""
    train = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    odd_lines = {q["line"] for q in questions if q["line"] % 2}
    odd_text = {q["question"].strip().lower() for q in questions if q["line"] % 2}
    leaks = [t for t in train if t["nq_line"] % 2 or t["nq_line"] in odd_lines or t["question"].strip().lower() in odd_text]
    print(f"leak check: {len(train)} training questions, {len(leaks)} of them odd-numbered or equal to an odd question")
    if leaks:
        sys.exit(f"the reranker's training questions overlap the held-out half: {leaks[:3]}")


def recall(rankings: list[list[int]], questions: list[dict], norm: list[str]) -> dict[int, float]:
    return {k: 100 * statistics.fmean(any(has_answer(norm[i], q["answers"]) for i in ids[:k])
                                      for ids, q in zip(rankings, questions, strict=True)) for k in KS}


def percentiles(samples: list[float]) -> tuple[float, float]:
    ms = np.array(samples) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


def print_table(title: str, table: dict[str, dict[int, float]]) -> None:
    print(f"\n{title}: answer recall@k, %")
    print(f"  {'mode':<14} " + "  ".join(f"{'@' + str(k):>6}" for k in KS))
    for mode, row in table.items():
        print(f"  {mode:<14} " + "  ".join(f"{row[k]:6.1f}" for k in KS))
    if "hybrid+rerank" in table:
        print(f"  hybrid+rerank@5 minus dense@5: {table['hybrid+rerank'][5] - table['dense'][5]:+.1f} points (target >= +3)")


def tune_fusion(index: Index, questions: list[dict], texts: list[str], vectors: np.ndarray, norm: list[str]) -> dict:
    """Grid-search the fusion settings on even lines; report them on odd lines."""
    dense_lists = [search_faiss(index.dense, v, DEPTH)[0].tolist() for v in vectors]
    bm25_lists = [index.bm25.search(t, DEPTH)[0].tolist() for t in texts]

    def fused(fusion: Fusion, rows: list[int]) -> list[list[int]]:
        return [[d for d, _ in reciprocal_rank_fusion({"dense": dense_lists[i][:fusion.depth], "bm25": bm25_lists[i][:fusion.depth]},
                                                      fusion.weights, fusion.k)][:20] for i in rows]

    even = [i for i, q in enumerate(questions) if q["line"] % 2 == 0]
    odd = [i for i, q in enumerate(questions) if q["line"] % 2]
    grid = [Fusion({"dense": 1.0, "bm25": w}, k, d) for w, k, d in
            itertools.product((0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5), (1, 5, 10, 20, 60), (10, 20, 50, 100))]
    scored = [(recall(fused(f, even), [questions[i] for i in even], norm), f) for f in grid]
    best = max(scored, key=lambda s: (s[0][5], s[0][20]))[1]
    held = [questions[i] for i in odd]
    table = {"in use": recall(fused(index.fusion, odd), held, norm), "tuned": recall(fused(best, odd), held, norm)}
    print(f"\nfusion tuned on {len(even)} even questions: {best}; on the odd half: " +
          "; ".join(f"{n} @5 {r[5]:.1f}" for n, r in table.items()))
    return {"best": best.__dict__, "odd": table}


def export_train(path: Path) -> None:
    with path.open("w", encoding="utf-8") as f:
        for line, row in enumerate(nq_rows()):
            if line % 2 == 0:
                f.write(json.dumps({"nq_line": line, "question": row["question"], "answer": row["answer"]},
                                   ensure_ascii=False) + "\n")
    print(f"wrote the even-numbered NQ-open dev questions to {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, help="use only the first N answerable questions")
    parser.add_argument("--tune", action="store_true", help="also grid-search fusion on even questions, report on odd")
    parser.add_argument("--latency-queries", type=int, default=100)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--index", type=Path, help="an index folder [default: the default index]")
    parser.add_argument("--reranker", type=Path, help="a reranker folder [default: the default one]")
    parser.add_argument("--build-reranker", action="store_true", help="train the reranker first if it is missing (timed)")
    parser.add_argument("--export-train", type=Path, help="write the even-numbered questions (training set) and stop")
    args = parser.parse_args()
    if not NQ.is_file():
        sys.exit(f"missing {NQ}; set CORECOVER_SHARED_DATA")
    if args.export_train:
        return export_train(args.export_train)

    import torch

    path = args.index or default_index_dir()
    index = Index.load(args.index) if args.index else load_default_index()
    index.rerank = False
    rerank_dir = args.reranker or default_rerank_dir()
    figures: dict = {}
    if args.build_reranker and not is_built(rerank_dir):
        from retriever.rerank_train import build_reranker

        started = time.perf_counter()
        build_reranker(index, rerank_dir)
        figures["rerank_build_s"] = time.perf_counter() - started
        print(f"trained the reranker in {figures['rerank_build_s']:.0f} s", flush=True)
    reranker = Reranker(rerank_dir) if is_built(rerank_dir) else None
    modes = MODES if reranker else MODES[:3]
    if reranker is None:
        print(f"no reranker at {rerank_dir}: hybrid+rerank skipped (pass --build-reranker)")
    index.reranker = reranker

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
    print(f"index: {index!r} at {path}; torch threads {torch.get_num_threads()}; reranker: {reranker!r}", flush=True)

    questions, norm = answerable(index, args.limit)
    check_no_leak(questions)
    texts = [q["question"] for q in questions]
    started = time.perf_counter()
    vectors = index.embedder.encode(texts)
    print(f"embedded {len(texts)} questions in {time.perf_counter() - started:.1f} s", flush=True)
    if args.tune:
        figures["fusion_tuning"] = tune_fusion(index, questions, texts, vectors, norm)

    # the real search path (Index.search) over every answerable question
    rows = {p.id: i for i, p in enumerate(index.passages)}
    rankings: dict[str, list[list[int]]] = {mode: [] for mode in modes}
    for text, vector in zip(texts, vectors, strict=True):
        for mode in modes:
            hits = index.search(text, 20, mode.split("+")[0], query_vector=vector, rerank=mode == "hybrid+rerank")
            rankings[mode].append([rows[h.id] for h in hits])
    figures["recall"] = {}
    for half, parity in (("odd", 1), ("even", 0)):
        keep = [i for i, q in enumerate(questions) if q["line"] % 2 == parity]
        table = {m: recall([rankings[m][i] for i in keep], [questions[i] for i in keep], norm) for m in modes}
        label = "held out, reported" if half == "odd" else "reference only: the reranker trained and tuned on it"
        print_table(f"{half}-numbered answerable questions (n={len(keep)}; {label})", table)
        figures["recall"][half] = {"n": len(keep), **table}

    # latency: fresh odd questions one at a time (query-vector cache cleared), k=5, end to end
    sample = [q["question"] for q in questions if q["line"] % 2][: args.latency_queries]
    latency = {}
    for mode in modes:
        base, rerank = mode.split("+")[0], mode == "hybrid+rerank"
        index.embedder.encode_query.cache_clear()
        index.search(sample[0], k=5, mode=base, rerank=rerank)
        times = []
        for text in sample:
            index.embedder.encode_query.cache_clear()
            started = time.perf_counter()
            index.search(text, k=5, mode=base, rerank=rerank)
            times.append(time.perf_counter() - started)
        latency[f"search {mode}, end to end"] = percentiles(times)
    probes = [("query embedding alone", lambda t, v: (index.embedder.encode_query.cache_clear(), index.embedder.encode_query(t))),
              ("hybrid search, vector given", lambda t, v: index.search(t, 5, "hybrid", query_vector=v, rerank=False))]
    if reranker:
        probes.append(("hybrid+rerank, vector given", lambda t, v: index.search(t, 5, "hybrid", query_vector=v, rerank=True)))
        one = Reranker(rerank_dir, threads=1)
        candidates = {t: [index.passages[rows[h.id]] for h in index.search(t, reranker.settings.depth, "hybrid", rerank=False)]
                      for t in sample}
        for name, model in ((f"cross-encoder alone ({reranker.settings.depth} passages, 2 threads)", reranker),
                            (f"cross-encoder alone ({reranker.settings.depth} passages, 1 thread)", one)):
            probes.append((name, lambda t, v, m=model: m.score(t, [m.read(t, p) for p in candidates[t]])))
    odd_vectors = [v for v, q in zip(vectors, questions, strict=True) if q["line"] % 2]
    for name, run in probes:
        times = []
        for text, vector in zip(sample, odd_vectors, strict=False):
            started = time.perf_counter()
            run(text, vector)
            times.append(time.perf_counter() - started)
        latency[name] = percentiles(times)
    print(f"\nlatency over {len(sample)} odd questions, k=5, {len(index)} passages (ms)")
    for name, (p50, p95) in latency.items():
        print(f"  {name:<48} p50 {p50:7.2f}   p95 {p95:7.2f}")
    figures["latency_ms"] = {n: {"p50": a, "p95": b} for n, (a, b) in latency.items()}

    build = index.manifest["build"]
    print(f"\nbuild: index {build.get('passages_per_second')} passages/s embedding ({build['embedded']} embedded, "
          f"{build['embed_seconds']} s; FAISS + BM25 {build['index_seconds']} s)")
    if reranker:
        t = reranker.config.get("training", {})
        print(f"reranker: {t.get('seconds')} s to build once ({t.get('train_seconds')} s mining + training; "
              f"{t.get('pairs')} pairs from {t.get('train_questions')} questions), settings {reranker.settings}, "
              f"tuned on {t.get('tune_questions')} held-back even questions: recall@5 {t.get('tune_recall_at_5')}")
        figures["reranker"] = {"settings": reranker.config.get("settings"), "training": t}
    print(f"load: Index.load {loads[True] * 1000:.0f} ms with checksums, {loads[False] * 1000:.0f} ms without, "
          f"{loads['cold process'] * 1000:.0f} ms in a fresh process (imports included, checksums on); "
          f"the embedding model loads lazily on the first query: {model_load:.2f} s")
    print(f"machine load average now: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    figures.update(questions=len(questions), load_s={"verified": loads[True], "unverified": loads[False],
                   "cold": loads["cold process"]}, model_load_s=model_load, loadavg=os.getloadavg()[0])
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))


if __name__ == "__main__":
    main()
