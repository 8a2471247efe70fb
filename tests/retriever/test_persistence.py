"""Atomic saves, manifest checks with clear errors, and resumable embedding."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from retriever import Embedder, Index, RetrieverError


@pytest.fixture
def copy(tmp_path, slice_dir):
    path = tmp_path / "index"
    shutil.copytree(slice_dir, path)
    return path


def test_save_replaces_atomically_and_leaves_no_temp(tmp_path, slice_index):
    path = tmp_path / "index"
    slice_index.save(path)
    slice_index.save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".index.lock", "index"]  # the lock stays, empty of meaning
    assert Index.load(path, slice_index.embedder).manifest["count"] == len(slice_index)


def test_stale_temp_folders_are_cleaned_by_owner_and_age(tmp_path, slice_index):
    path = tmp_path / "index"
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead, alive = int(finished.stdout), os.getpid()
    stale = [tmp_path / f".index.tmp-{dead}-aaaa", tmp_path / f".index.tmp-{alive}-old", tmp_path / ".index.tmp-1a2b3c4d"]
    live = tmp_path / f".index.tmp-{alive}-busy"  # a running writer's, and recent: kept
    for folder in [*stale, live]:
        (folder / "bm25").mkdir(parents=True)
        (folder / "passages.jsonl").write_text("half written")
    for folder in stale[1:]:
        os.utime(folder, (time.time() - 2 * 3600,) * 2)
    slice_index.save(path)
    assert [p for p in tmp_path.iterdir() if ".tmp-" in p.name] == [live]


def test_missing_index_names_the_build_command(tmp_path, embedder):
    with pytest.raises(RetrieverError, match=r"no index there.*corecover index build"):
        Index.load(tmp_path / "nowhere", embedder)


def test_corrupt_manifest(copy, embedder):
    (copy / "manifest.json").write_text("{not json")
    with pytest.raises(RetrieverError, match=r"manifest.json is corrupt.*corecover index build"):
        Index.load(copy, embedder)


def test_missing_manifest(copy, embedder):
    (copy / "manifest.json").unlink()
    with pytest.raises(RetrieverError, match=r"no manifest.json.*corecover index build"):
        Index.load(copy, embedder)


def test_missing_file(copy, embedder):
    (copy / "dense.faiss").unlink()
    with pytest.raises(RetrieverError, match=r"dense.faiss is missing.*corecover index build"):
        Index.load(copy, embedder)


def test_corrupt_file_fails_its_checksum(copy, embedder):
    data = bytearray((copy / "passages.jsonl").read_bytes())
    data[100] ^= 0xFF
    (copy / "passages.jsonl").write_bytes(bytes(data))
    with pytest.raises(RetrieverError, match=r"passages.jsonl is corrupt.*corecover index build"):
        Index.load(copy, embedder)


def test_old_format_version(copy, embedder):
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["format_version"] = 0
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(RetrieverError, match=r"format version 0.*corecover index build"):
        Index.load(copy, embedder)


def test_parts_that_disagree(copy, embedder):
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["count"] += 1
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(RetrieverError, match="index parts disagree"):
        Index.load(copy, embedder)


def test_embedder_mismatch(slice_dir, tmp_path):
    with pytest.raises(RetrieverError, match="built with embedding model 'embedded'"):
        Index.load(slice_dir, Embedder(str(tmp_path)))


class Interrupt(Exception):
    pass


def test_interrupted_build_resumes_without_recomputing(tmp_path, slice_passages, embedder, counting_embedder):
    passages = slice_passages[:24]
    counting = counting_embedder

    def stop_after_two_shards(done, total):
        if done >= 12:
            raise Interrupt

    with pytest.raises(Interrupt):
        Index.build(passages, counting, work_dir=tmp_path, progress=stop_after_two_shards, shard_size=6)
    assert counting.encoded == 12
    reference = Index.build(passages, embedder, work_dir=tmp_path / "fresh", progress=False, shard_size=6)
    total = len(reference)

    counting.encoded = 0
    resumed = Index.build(passages, counting, work_dir=tmp_path, progress=False, shard_size=6)
    assert counting.encoded == total - 12
    assert resumed.manifest["build"] == {**resumed.manifest["build"], "embedded": total - 12, "resumed": 12}
    assert len(list(tmp_path.glob("*/shard-*.npz"))) == 2 + -(-(total - 12) // 6)  # kept until saved
    resumed.save(tmp_path / "index")
    assert not list(tmp_path.glob("*/shard-*.npz"))  # dropped once the index is on disk
    query = passages[3].text[:80]
    assert [(h.id, round(h.score, 4)) for h in resumed.search(query, 5, "dense")] == \
           [(h.id, round(h.score, 4)) for h in reference.search(query, 5, "dense")]


def test_save_without_an_atomic_exchange(tmp_path, slice_index, monkeypatch):
    """Where renameat2 is missing (not Linux), two renames replace the folder; nothing is left over."""
    from retriever import storage

    monkeypatch.setattr(storage, "_exchange", lambda a, b: False)
    path = tmp_path / "index"
    slice_index.save(path)
    slice_index.save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".index.lock", "index"]
    assert Index.load(path).manifest["count"] == len(slice_index)
