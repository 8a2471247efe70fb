"""FAISS inner-product index over unit vectors: exact for small corpora, HNSW or IVF for large ones."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from retriever.errors import RetrieverError

KINDS = ("auto", "flat", "hnsw", "ivf")
FLAT_MAX = 100_000       # exact search stays fast up to here (~10 ms per query at 100k x 384 on 2 cores)
HNSW_MAX = 5_000_000     # beyond that HNSW's graph costs too much memory; IVF takes over


def choose_kind(n: int, kind: str = "auto") -> str:
    """The FAISS index kind for `n` vectors: `kind` itself unless it is "auto"."""
    if kind not in KINDS:
        raise RetrieverError(f"unknown index type {kind!r}; choose one of {', '.join(KINDS)}")
    if kind != "auto":
        return kind
    return "flat" if n <= FLAT_MAX else "hnsw" if n <= HNSW_MAX else "ivf"


def build_faiss(vectors: np.ndarray, kind: str = "flat", hnsw_m: int = 32, ef_search: int = 128,
                nprobe: int = 16):
    """A FAISS index holding `vectors` (row i gets id i), searched by inner product."""
    import faiss

    n, dim = vectors.shape
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 2 * ef_search
        index.hnsw.efSearch = ef_search
    elif kind == "ivf":
        nlist = max(1, min(int(4 * math.sqrt(n)), n // 39))  # FAISS wants >= 39 training points per list
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        sample = vectors[np.random.default_rng(0).permutation(n)[: 256 * nlist]]
        index.train(sample)
        index.nprobe = min(nprobe, nlist)
    else:
        raise RetrieverError(f"unknown index type {kind!r}; choose flat, hnsw or ivf")
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def save_faiss(index, path: Path) -> None:
    import faiss

    faiss.write_index(index, str(path))


def load_faiss(path: Path):
    import faiss

    return faiss.read_index(str(path))


def search_faiss(index, vector: np.ndarray, depth: int) -> tuple[np.ndarray, np.ndarray]:
    """Row ids and inner products of the `depth` nearest vectors, best first (ids -1 dropped).

    One query runs on one OpenMP thread (restored after): on a busy 2-core machine, FAISS's
    threads spinning against each other made a 10k-vector search take ~60 ms instead of ~1 ms.
    """
    import faiss

    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        scores, ids = index.search(np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1), depth)
    finally:
        faiss.omp_set_num_threads(threads)
    keep = ids[0] >= 0
    return ids[0][keep], scores[0][keep]
