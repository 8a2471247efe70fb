"""Index updates in place vs a full rebuild, on a slice of the embedded corpus (run under the CPU lock).

    flock /tmp/corecover-cpu.lock python bench/index_update.py --docs 2000 --repeats 3
    flock /tmp/corecover-cpu.lock python bench/index_update.py --existing ~/.cache/corecover/index/default

Prints median seconds, beside the baseline measured in the same run (a full build from scratch,
everything embedded): a rebuild over the existing index (vectors reused), `add` of 1 and of 10
documents and `remove` of 1 (in-process, the model loaded), and `corecover index add` / `remove`
as processes (cold start included). `--existing DIR` times the updates on a copy of an index
already built, after rebuilding it over itself (format 1 -> 2); its baseline is the full build's
time recorded in that index's manifest, not one from this run.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from retriever import Embedder, Index, add_documents, load_corpus, remove_documents


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def median_of(repeats: int, make) -> float:
    """Median seconds of `make()()`: make() prepares untimed and returns the timed call."""
    return statistics.median(timed(make()) for _ in range(repeats))


def cli(*args: str, env: dict) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "retriever.cli", *args], env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def update_timers(tmp: Path, index_dir: Path, new: list, remove_id: str, embedder: Embedder):
    """``(copy, add, remove)``: a fresh copy of ``index_dir`` per run, and makers of timed
    ``add_documents`` (the first ``count`` of ``new``) and ``remove_documents`` calls on such a copy."""
    names = itertools.count()

    def copy() -> Path:
        target = tmp / f"copy{next(names)}"
        shutil.copytree(index_dir, target)
        return target

    def add(count: int):
        def make():
            target = copy()
            return lambda: add_documents(target, new[:count], embedder=embedder, work_dir=tmp / "wa", progress=False)
        return make

    def remove():
        target = copy()
        return lambda: remove_documents(target, [remove_id])

    return copy, add, remove


def on_existing(source: Path, repeats: int) -> None:
    """Copy the index at `source` (e.g. the default one, any format), rebuild it over itself (what
    moving a format-1 index to format 2 costs), then time add/remove on it."""
    from retriever import build_index
    from retriever.storage import read_manifest

    recorded = read_manifest(source, verify=False)
    tmp = Path(tempfile.mkdtemp(prefix="bench-index-update-"))
    shutil.copytree(source, tmp / "idx")
    embedder = Embedder(recorded["embedding_model"])
    embedder.encode(["warm up"])
    corpus = recorded.get("corpus") or "default"
    started = time.perf_counter()
    rebuilt = build_index(corpus, tmp / "idx", embedder=embedder, work_dir=tmp / "w", progress=False)
    migrate = time.perf_counter() - started
    new = [{"id": f"bench-new-{i}", "title": p.title, "text": p.text + " (a revised edition)"}
           for i, p in enumerate(rebuilt.passages[:10])]
    _copy, add, remove = update_timers(tmp, tmp / "idx", new, rebuilt.documents[len(rebuilt.documents) // 2].id,
                                      embedder)

    b = recorded.get("build", {})
    print(f"{source}: format {recorded['format_version']}, {rebuilt.manifest['documents']} documents / "
          f"{len(rebuilt)} passages; its own full build recorded {b.get('embed_seconds')} s of embedding "
          f"(not this run)")
    print(f"  rebuild over it (format {recorded['format_version']} -> 2): {migrate:.2f} s, embedded "
          f"{rebuilt.manifest['build']['embedded']}, reused {rebuilt.manifest['build']['reused']}")
    for name, make in (("add 1 document", add(1)), ("add 10 documents", add(10)), ("remove 1 document", remove)):
        print(f"  {name:<30} {median_of(repeats, make):8.2f} s (median of {repeats})")
    shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=2000, help="documents in the index")
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--existing", type=Path, help="instead: time updates on a copy of this index")
    args = parser.parse_args()
    if args.existing:
        return on_existing(args.existing.expanduser(), args.repeats)

    corpus = load_corpus("default")
    step = max(1, len(corpus) // args.docs)
    docs = corpus[::step][: args.docs]
    base, extra = docs[:-10], docs[-10:]
    embedder = Embedder()
    embedder.encode(["warm up"])
    tmp = Path(tempfile.mkdtemp(prefix="bench-index-update-"))
    n = iter(range(10**6))

    def fresh_build():
        k = next(n)
        return lambda: Index.build(docs, embedder, work_dir=tmp / f"w{k}", progress=False).save(tmp / f"full{k}")

    full = median_of(args.repeats, fresh_build)
    reference = Index.load(tmp / "full0", embedder)
    Index.build(base, embedder, work_dir=tmp / "wb", progress=False).save(tmp / "base")

    def rebuild():
        return lambda: Index.build(docs, embedder, work_dir=tmp / "wr", progress=False,
                                   reuse=Index.load(tmp / "full0", embedder)).save(tmp / "full0")

    copy_of_base, add, remove = update_timers(tmp, tmp / "base", extra, base[len(base) // 2].id, embedder)

    figures = {"full build (baseline)": full, "rebuild over the index": median_of(args.repeats, rebuild),
               "add 1 document": median_of(max(args.repeats, 5), add(1)),
               "add 10 documents": median_of(max(args.repeats, 5), add(10)),
               "remove 1 document": median_of(max(args.repeats, 5), remove)}

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "XDG_CACHE_HOME": str(tmp / "cache")}
    (tmp / "one").mkdir()
    (tmp / "one" / "new.txt").write_text(extra[0].text)
    figures["CLI: index add 1 file"] = statistics.median(
        cli("add", str(tmp / "one"), "--index", str(copy_of_base()), env=env) for _ in range(args.repeats))
    figures["CLI: index remove 1 document"] = statistics.median(
        cli("remove", base[0].id, "--index", str(copy_of_base()), env=env) for _ in range(args.repeats))

    print(f"index of {len(reference.documents)} documents / {len(reference)} passages; medians of "
          f"{args.repeats}+ runs, seconds (ratio to the full build)")
    for name, seconds in figures.items():
        print(f"  {name:<30} {seconds:8.2f} s  {seconds / full:6.3f}x")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
