"""SIGKILL a real `index build` / `index add` process in each phase (retriever/phases.py).

While it is stopped, and after the kill, the old index is byte-identical and loads; the rerun
embeds nothing it already had (only what the killed run had not finished), and it removes the
dead run's temp folder and, once saved, the embedding shards.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from retriever import Index, add_documents, build_index, read_paths
from retriever.phases import PAUSE_AT, PAUSE_FILE, PHASES

ROOT = Path(__file__).resolve().parents[2]
SHARD = 4
# `add` runs the same embed-and-save code as `build`: it is killed mid-embedding, before and after the swap
CASES = [*(("build", p) for p in PHASES), *(("add", p) for p in ("embedding", "save-synced", "swapped"))]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


class Run:
    """One CLI process started on its own copy of the old index, to be stopped at `phase`."""

    def __init__(self, base: Path, command: str, phase: str, corpus: dict[str, Path], old_index: Path):
        import shutil

        self.command, self.phase = command, phase
        self.home = base / f"{command}-{phase}"
        self.idx, self.cache, self.marker = self.home / "idx", self.home / "cache", self.home / "paused.jsonl"
        shutil.copytree(old_index, self.idx)
        self.before = snapshot(self.idx)
        args = (["build", "--corpus", str(corpus["all"]), "--out", str(self.idx)] if command == "build" else
                ["add", str(corpus["extra"]), "--index", str(self.idx)])
        env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
               "XDG_CACHE_HOME": str(self.cache), "HF_HUB_OFFLINE": "1", PAUSE_AT: phase, PAUSE_FILE: str(self.marker)}
        self.log = self.home / "stderr.txt"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "retriever.cli", *args, "--shard-size", str(SHARD)],
                                         env=env, cwd=self.home, stdout=log, stderr=subprocess.STDOUT)

    @property
    def work(self) -> Path:
        return self.cache / "corecover" / "embeddings"

    def wait_paused(self, timeout: float = 600) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.marker.exists() and self.marker.read_text().strip():
                return json.loads(self.marker.read_text().splitlines()[0])
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.command} ended before {self.phase}: {self.log.read_text()[-600:]}")
            time.sleep(0.2)
        raise AssertionError(f"{self.command} never reached {self.phase}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=60)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, slice_passages):
    """.txt folders: `old` (10 documents), `extra` (8 more) and `all` (both)."""
    root = tmp_path_factory.mktemp("corpus")
    docs = slice_passages[60:78]
    folders = {name: root / name for name in ("old", "extra", "all")}
    for name, chosen in (("old", docs[:10]), ("extra", docs[10:]), ("all", docs)):
        folders[name].mkdir()
        for n, p in enumerate(chosen):
            (folders[name] / f"{n:02d}-{p.title.replace('/', ' ')}.txt").write_text(p.text, encoding="utf-8")
    return folders


@pytest.fixture(scope="module")
def runs(tmp_path_factory, corpus, embedder):
    """All killed runs, started at once (their cold starts overlap); every one is killed at the end."""
    base = tmp_path_factory.mktemp("kill")
    old_index = base / "old-index"
    build_index(corpus["old"], old_index, embedder=embedder, work_dir=base / "work", progress=False)
    started = {(c, p): Run(base, c, p, corpus, old_index) for c, p in CASES}
    yield started
    for run in started.values():
        run.kill()


@pytest.mark.slow
@pytest.mark.parametrize(("command", "phase"), CASES)
def test_kill_in_each_phase(runs, corpus, command, phase, counting_embedder):
    run = runs[(command, phase)]
    paused = run.wait_paused()
    assert paused["phase"] == phase
    readable = Index.load(run.idx)  # readable while the writer is stopped (checksums verified)
    assert readable.search("history", k=1)
    if phase == "swapped":
        assert len(readable.documents) == 18  # the new index is whole and in place
    else:
        assert snapshot(run.idx) == run.before
    run.kill()
    if phase != "swapped":
        assert snapshot(run.idx) == run.before
    dead = list(run.idx.parent.glob(".idx.tmp-*"))
    assert bool(dead) == (phase in ("save-files", "save-synced", "swapped"))

    counting = counting_embedder
    if command == "build":
        index = build_index(corpus["all"], run.idx, embedder=counting, work_dir=run.work, progress=False,
                            shard_size=SHARD)
        stats = index.manifest["build"]
        assert stats["embedded"] + stats["reused"] + stats["resumed"] == len(index)
    else:
        add_documents(run.idx, read_paths([corpus["extra"]]).passages, embedder=counting, work_dir=run.work,
                      progress=False, shard_size=SHARD)
    unfinished = paused["total"] - paused["embedded"] if phase == "embedding" else 0
    print(f"killed {command} at {phase}: old index identical {phase != 'swapped'}, "
          f"re-embedded {counting.encoded} of {len(Index.load(run.idx))} passages on rerun")
    assert counting.encoded == unfinished  # nothing the killed run had embedded is embedded again
    final = Index.load(run.idx)
    assert len(final.documents) == 18 and final.manifest["format_version"] == 2
    assert not list(run.idx.parent.glob(".idx.tmp-*"))  # the dead run's temp folder is gone
    assert not list(run.work.glob("*/shard-*.npz")) and not list(run.work.glob("*/.shard-*"))
