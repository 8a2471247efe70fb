"""Resumable embedding: vectors are written in shards to a work dir keyed by corpus and model."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

Progress = Callable[[int, int], None]


@dataclass
class EmbedStats:
    """How many chunks a build embedded now and how many it took from earlier shards."""

    embedded: int = 0
    reused: int = 0
    seconds: float = 0.0


def embed_resumable(texts: list[str], encode: Callable[[list[str]], np.ndarray], dim: int, work_dir: Path,
                    shard_size: int = 256, progress: Progress | None = None,
                    stats: EmbedStats | None = None) -> np.ndarray:
    """Embed `texts` shard by shard into `work_dir`; shards already there are loaded, not recomputed.

    Texts are embedded in order of length (less padding per batch); the result is in input order.
    `progress(done, total)` is called after each shard; an exception from it stops the work,
    and the next call with the same `work_dir` resumes after the last finished shard.
    """
    import time

    stats = stats if stats is not None else EmbedStats()
    work_dir.mkdir(parents=True, exist_ok=True)
    meta = {"count": len(texts), "shard_size": shard_size, "dim": dim}
    meta_file = work_dir / "work.json"
    if meta_file.exists() and json.loads(meta_file.read_text()) != meta:
        shutil.rmtree(work_dir)
        work_dir.mkdir(parents=True)
    meta_file.write_text(json.dumps(meta))

    order = np.argsort([len(t) for t in texts], kind="stable")
    out = np.zeros((len(texts), dim), dtype=np.float32)
    total = len(texts)
    start_time = time.perf_counter()
    for start in range(0, total, shard_size):
        rows = order[start:start + shard_size]
        shard = work_dir / f"shard-{start // shard_size:06d}.npy"
        vectors = _read_shard(shard, (len(rows), dim))
        if vectors is None:
            vectors = encode([texts[i] for i in rows]).astype(np.float32, copy=False)
            tmp = shard.with_suffix(".tmp.npy")
            np.save(tmp, vectors)
            os.replace(tmp, shard)
            stats.embedded += len(rows)
        else:
            stats.reused += len(rows)
        out[rows] = vectors
        if progress:
            progress(min(start + shard_size, total), total)
    stats.seconds += time.perf_counter() - start_time
    return out


def _read_shard(path: Path, shape: tuple[int, int]) -> np.ndarray | None:
    if not path.exists():
        return None
    try:
        vectors = np.load(path)
    except (ValueError, OSError):
        return None
    return vectors if vectors.shape == shape else None
