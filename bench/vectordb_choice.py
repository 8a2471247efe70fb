"""Which vector database: Milvus or Qdrant, measured through the modes that run on this machine.

For each engine and corpus size, in a fresh process: load time (insert + index), resident memory
added, recall@10 vs exact and p50/p95 of one dense query at a time. The vectors and NQ query vectors
are bench/retrieval_scale.py's (its cache; the first `n` rows). Engines, each skipped if not installed:

- milvus-lite: `pip install pymilvus milvus-lite` — Milvus's embedded mode (3.x: a Python engine
  over FAISS behind Milvus's gRPC API, so pymilvus talks to it exactly as to a Milvus cluster);
  HNSW M=16, ef 128.
- qdrant-local: qdrant-client's local mode (a Python engine behind qdrant-client's API, the same
  calls as against a Qdrant cluster), in memory; exact search.
- qdrant-edge: qdrant-edge-py, Qdrant's own engine (the server's segment, HNSW and quantization
  code) in-process; HNSW m=16, ef 128.

    flock /tmp/corecover-cpu.lock .venv/bin/python bench/vectordb_choice.py --sizes 10000,50000 \
        --cache /work/cache-w15v/scale --vectors-n 1000000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ENGINES = ("milvus-lite", "qdrant-local", "qdrant-edge")
K = 10


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 1e6


def load_engine(engine: str, vectors: np.ndarray, folder: str):
    """Insert and index `vectors`; returns search(vector) -> ids."""
    n, dim = vectors.shape
    if engine == "milvus-lite":
        from pymilvus import DataType, MilvusClient

        client = MilvusClient(f"{folder}/milvus.db")
        schema = client.create_schema(auto_id=False)
        schema.add_field("row", DataType.INT64, is_primary=True)
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
        params = client.prepare_index_params()
        params.add_index("dense", index_type="HNSW", metric_type="IP", params={"M": 16, "efConstruction": 100})
        client.create_collection("p", schema=schema, index_params=params)
        for start in range(0, n, 2000):
            client.insert("p", [{"row": start + i, "dense": v} for i, v in enumerate(vectors[start:start + 2000])])
        client.flush("p")
        client.load_collection("p")
        return lambda v: [h.get("row", h.get("id")) for h in client.search("p", data=[v], anns_field="dense", limit=K,
                                                         search_params={"params": {"ef": 128}})[0]]
    if engine == "qdrant-local":
        from qdrant_client import QdrantClient, models

        client = QdrantClient(location=":memory:")
        client.create_collection("p", vectors_config=models.VectorParams(size=dim, distance=models.Distance.DOT))
        for start in range(0, n, 2000):
            client.upsert("p", models.Batch(ids=list(range(start, min(n, start + 2000))),
                                            vectors=vectors[start:start + 2000].tolist()))
        return lambda v: [p.id for p in client.query_points("p", query=v.tolist(), limit=K).points]
    if engine == "qdrant-edge":
        import qdrant_edge as q

        shard = q.EdgeShard.create(folder, q.EdgeConfig(
            vectors=q.EdgeVectorParams(size=dim, distance=q.Distance.Dot),
            hnsw_config=q.HnswIndexConfig(m=16, ef_construct=100, full_scan_threshold=10_000),
            max_search_threads=1))
        for start in range(0, n, 2000):
            block = vectors[start:start + 2000].tolist()
            shard.update(q.UpdateOperation.upsert_points([q.Point(start + i, v) for i, v in enumerate(block)]))
        while shard.optimize():
            pass
        params = q.SearchParams(hnsw_ef=128)
        return lambda v: [p.id for p in shard.query(q.QueryRequest(limit=K, query=q.Query.Nearest(v.tolist()),
                                                                   params=params))]
    raise ValueError(engine)


def worker(engine: str, n: int, cache: Path, vectors_n: int, nq: int) -> dict:
    data = np.memmap(cache / f"vectors-{vectors_n}.f32", dtype=np.float32, mode="r").reshape(vectors_n, -1)
    vectors = np.ascontiguousarray(data[:n])
    qv = np.load(next(cache.glob("queries-*.npz")))["vectors"][:nq]
    scores = qv @ vectors.T
    truth = np.argsort(-scores, axis=1)[:, :K]
    del scores
    before = rss_mb()
    with tempfile.TemporaryDirectory() as folder:
        t = time.perf_counter()
        search = load_engine(engine, vectors, folder)
        load_s = time.perf_counter() - t
        mem = rss_mb() - before
        times, recall = [], []
        for i, v in enumerate(qv):
            t = time.perf_counter()
            ids = search(v)
            times.append(time.perf_counter() - t)
            recall.append(len(set(ids) & set(truth[i].tolist())) / K)
    ms = np.array(times[5:]) * 1000
    return {"engine": engine, "n": n, "load_s": round(load_s, 1), "rss_mb": round(mem),
            "recall": round(float(np.mean(recall)), 3), "p50_ms": round(float(np.percentile(ms, 50)), 2),
            "p95_ms": round(float(np.percentile(ms, 95)), 2)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="10000,50000")
    p.add_argument("--engines", default=",".join(ENGINES))
    p.add_argument("--cache", type=Path, required=True, help="bench/retrieval_scale.py's cache folder")
    p.add_argument("--vectors-n", type=int, default=1_000_000, help="the size of the cached vector file")
    p.add_argument("--queries", type=int, default=100)
    p.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], int(args.worker[1]), args.cache, args.vectors_n, args.queries)))
        return
    print(f"{'engine':<13} {'n':>7} {'load s':>7} {'recall@10':>9} {'p50 ms':>7} {'p95 ms':>7} {'RSS MB':>7}")
    for engine in args.engines.split(","):
        for n in map(int, args.sizes.split(",")):
            out = subprocess.run([sys.executable, __file__, "--worker", engine, str(n), "--cache", str(args.cache),
                                  "--vectors-n", str(args.vectors_n), "--queries", str(args.queries)],
                                 capture_output=True, text=True)
            if out.returncode != 0:
                last = (out.stderr.strip().splitlines() or ["failed"])[-1]
                print(f"{engine:<13} {n:>7} skipped: {last[:100]}", flush=True)
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{engine:<13} {n:>7} {r['load_s']:>7} {r['recall']:>9} {r['p50_ms']:>7} {r['p95_ms']:>7} "
                  f"{r['rss_mb']:>7}", flush=True)


if __name__ == "__main__":
    main()
