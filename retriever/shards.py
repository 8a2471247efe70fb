"""Resumable embedding: vectors cached by text hash in shard files, one work folder per model.

A build asks for the vector of each text. It takes them, in this order, from `known` (the index
being updated or rebuilt), from shard files an earlier, interrupted run left in the work folder,
and only then from the model, shard by shard, each shard written to disk (fsynced, renamed into
place) before the next starts. Shards are removed by `drop_shards` once the index holding their
vectors is durably saved; shards nobody claimed for MAX_AGE_DAYS go too.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retriever.phases import phase
from retriever.storage import pid_alive

Progress = Callable[[int, int], None]
MAX_AGE_DAYS = 14


@dataclass
class EmbedStats:
    """Where a build's vectors came from: embedded now, reused from the index, resumed from shards."""

    embedded: int = 0
    reused: int = 0
    resumed: int = 0
    seconds: float = 0.0


def text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def model_work_dir(base: Path, model_name: str) -> Path:
    """The work folder of one embedding model: vectors of different models never mix."""
    return base / hashlib.sha256(model_name.encode("utf-8")).hexdigest()[:16]


def _tidy(folder: Path) -> None:
    """Drop partial shards of dead processes and shards nobody claimed for MAX_AGE_DAYS."""
    cutoff = time.time() - MAX_AGE_DAYS * 86400
    for f in folder.glob(".shard-*.partial"):
        pid = f.name.split("-")[1]
        if pid.isdigit() and not pid_alive(int(pid)):
            f.unlink(missing_ok=True)
    for f in folder.glob("shard-*.npz"):
        with contextlib.suppress(FileNotFoundError):
            if f.stat().st_mtime < cutoff:
                f.unlink()


def _read_shard(path: Path, dim: int) -> tuple[np.ndarray, np.ndarray] | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            keys, vectors = data["keys"], data["vectors"]
    except (OSError, ValueError, KeyError, EOFError):
        return None  # gone, half-written by a crash, or not ours: its texts get embedded again
    if vectors.ndim != 2 or vectors.shape != (len(keys), dim):
        return None
    return keys, vectors.astype(np.float32, copy=False)


def _write_shard(folder: Path, keys: list[bytes], vectors: np.ndarray) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
    tmp, final = folder / f".shard-{name}.partial", folder / f"shard-{name}.npz"
    with tmp.open("wb") as f:
        np.savez(f, keys=np.array(keys, dtype="S32"), vectors=vectors)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, final)
    return final


def embed_resumable(texts: list[str], encode: Callable[[list[str]], np.ndarray], dim: int, work_dir: Path, *,
                    known: Mapping[bytes, np.ndarray] | None = None, shard_size: int = 256,
                    progress: Progress | None = None, stats: EmbedStats | None = None) -> tuple[np.ndarray, list[Path]]:
    """The (len(texts), dim) vectors of `texts`, embedding only those found nowhere else.

    Returns the vectors and the shard files that hold any of them (for `drop_shards` after the
    save). New texts are embedded by length (less padding per batch), `shard_size` at a time;
    `progress(done, total)` follows the new ones. An exception (Ctrl-C, or one raised by
    `progress`) stops the work, and the next call resumes after the last finished shard.
    """
    stats = stats if stats is not None else EmbedStats()
    _tidy(work_dir)
    keys = [text_key(t) for t in texts]
    out = np.zeros((len(texts), dim), dtype=np.float32)
    rows_of: dict[bytes, list[int]] = {}
    for i, key in enumerate(keys):
        vector = known.get(key) if known is not None else None
        if vector is not None:
            out[i] = vector
            stats.reused += 1
        else:
            rows_of.setdefault(key, []).append(i)

    found, used = scan_shards(work_dir, dim, set(keys))
    for key in list(rows_of):
        if key in found:
            rows = rows_of.pop(key)
            out[rows] = found[key]
            stats.resumed += len(rows)

    todo = sorted(rows_of, key=lambda k: len(texts[rows_of[k][0]]))
    started = time.perf_counter()
    if progress and todo:
        progress(0, len(todo))
    for start in range(0, len(todo), shard_size):
        batch = todo[start:start + shard_size]
        vectors = np.asarray(encode([texts[rows_of[k][0]] for k in batch]), dtype=np.float32)
        used.append(_write_shard(work_dir, batch, vectors))
        for key, vector in zip(batch, vectors, strict=True):
            out[rows_of[key]] = vector
        stats.embedded += len(batch)
        done = min(start + shard_size, len(todo))
        if progress:
            progress(done, len(todo))
        if done < len(todo):
            phase("embedding", embedded=done, total=len(todo))
    stats.seconds += time.perf_counter() - started
    return out, used


def scan_shards(work_dir: Path, dim: int, wanted: set[bytes]) -> tuple[dict[bytes, np.ndarray], list[Path]]:
    """Vectors of `wanted` texts found in shards, and the shards holding nothing else (droppable
    once an index with all of `wanted` is saved)."""
    found, covered = {}, []
    for shard in sorted(work_dir.glob("shard-*.npz")):
        read = _read_shard(shard, dim)
        if read is None:
            continue
        shard_keys = read[0].tolist()
        for key, vector in zip(shard_keys, read[1], strict=True):
            if key in wanted:
                found[key] = vector
        if wanted.issuperset(shard_keys):
            covered.append(shard)
    return found, covered


def drop_shards(shards: list[Path]) -> None:
    """Remove shards whose vectors are now inside a saved index."""
    for shard in shards:
        shard.unlink(missing_ok=True)
