"""Index folders on disk: durable atomic writes, a lock per index, and a manifest checked at load.

A write fills a temp folder beside the index (`.NAME.tmp-PID-XXXX`), fsyncs every file and folder
in it, then swaps it with the index in one step (Linux `renameat2(RENAME_EXCHANGE)`), so a reader,
or a kill at any moment, sees the whole old index or the whole new one. Writers hold the index's
lock (`.NAME.lock`, flock): a temp folder found while holding it belongs to a dead writer and is
removed.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import json
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from retriever.errors import RetrieverError, rebuild_hint
from retriever.phases import phase

FORMAT = "corecover-index"
FORMAT_VERSION = 2      # 2 added documents.jsonl (what `index add/remove` work on)
READABLE_VERSIONS = (1, 2)
MANIFEST = "manifest.json"
STALE_SECONDS = 3600    # a temp folder whose owner pid still runs is removed once this old


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def list_files(root: Path) -> dict[str, dict]:
    """Every file under `root` except the manifest, with its size and sha256."""
    return {f.relative_to(root).as_posix(): {"bytes": f.stat().st_size, "sha256": file_digest(f)}
            for f in sorted(root.rglob("*")) if f.is_file() and f.name != MANIFEST}


def fsync_path(path: Path) -> None:
    """Flush a file or a folder entry to disk."""
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(root: Path) -> None:
    for p in sorted(root.rglob("*"), reverse=True):
        fsync_path(p)
    fsync_path(root)


# --- the lock ---------------------------------------------------------------------------------

_held: dict[tuple[Path, int], int] = {}  # (index, thread) -> depth: re-entrant within one thread


def lock_path(path: Path) -> Path:
    return path.parent / f".{path.name}.lock"


@contextlib.contextmanager
def index_lock(path: str | Path) -> Iterator[None]:
    """Exclusive lock on the index at `path` across processes and threads, re-entrant in one thread.

    The lock file records the owner's pid. flock dies with its process, so a crash never leaves
    the index locked.
    """
    import fcntl

    key = (Path(path).expanduser().resolve(), threading.get_ident())
    if _held.get(key):
        _held[key] += 1
        try:
            yield
        finally:
            _held[key] -= 1
        return
    file = lock_path(key[0])
    file.parent.mkdir(parents=True, exist_ok=True)
    with file.open("a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            f.seek(0)
            f.truncate()
            f.write(f"{os.getpid()}\n")
            f.flush()
            _held[key] = 1
            yield
        finally:
            _held.pop(key, None)
            fcntl.flock(f, fcntl.LOCK_UN)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale(path: Path) -> list[Path]:
    """Remove temp folders left beside `path` by dead writers. Call it holding the index lock.

    A folder named with a pid that no longer runs is stale; so is any temp folder older than
    STALE_SECONDS (a pid reused by another process, or a writer that never took the lock).
    """
    removed = []
    for tmp in path.parent.glob(f".{path.name}.tmp-*"):
        owner = tmp.name.split(".tmp-", 1)[1].split("-")[0]
        dead = owner.isdigit() and int(owner) != os.getpid() and not pid_alive(int(owner))
        try:
            old = time.time() - tmp.stat().st_mtime > STALE_SECONDS
        except FileNotFoundError:
            continue
        if dead or old:
            shutil.rmtree(tmp, ignore_errors=True)
            removed.append(tmp)
    if path.is_dir():  # what corecover before format 2 left when killed between its two renames
        for old in path.parent.glob(f".{path.name}.old-*"):
            with contextlib.suppress(FileNotFoundError):
                if time.time() - old.stat().st_mtime > STALE_SECONDS:
                    shutil.rmtree(old, ignore_errors=True)
                    removed.append(old)
    return removed


# --- the swap ---------------------------------------------------------------------------------

def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE). False where unsupported."""
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(a))


def write_atomic(path: str | Path, fill: Callable[[Path], dict], after: Callable[[], None] | None = None) -> None:
    """Call `fill(tmp_dir)` to write the index files and return the manifest, then swap the folder in.

    Readers see the old folder or the new one, never a half-written one: the new folder is
    complete and on disk (manifest last, everything fsynced) before it takes the index's place.
    `after()` runs once the new index is durably in place (e.g. to drop embedding shards).
    """
    path = Path(path).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    with index_lock(path):
        clean_stale(path)
        tmp = path.parent / f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        try:
            manifest = fill(tmp)
            phase("save-files")
            manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, **manifest, "files": list_files(tmp)}
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
            fsync_tree(tmp)
            phase("save-synced")
            if not path.exists():
                os.rename(tmp, path)
            elif not _exchange(tmp, path):  # not Linux: two renames (a short window without `path`)
                old = path.parent / f".{path.name}.tmp-{os.getpid()}-old{uuid.uuid4().hex[:6]}"
                os.rename(path, old)
                try:
                    os.rename(tmp, path)
                except BaseException:
                    os.rename(old, path)
                    raise
                tmp = old
            fsync_path(path.parent)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        phase("swapped")
        shutil.rmtree(tmp, ignore_errors=True)  # the old index, now under the temp name
        if after:
            after()


def read_manifest(path: str | Path, verify: bool = True) -> dict:
    """The manifest of the index at `path`, after checking format and (with `verify`) every file."""
    path = Path(path).expanduser()
    hint = rebuild_hint(path)
    file = path / MANIFEST
    if not file.is_file():
        if not path.exists():
            raise RetrieverError(f"{path}: no index there; {hint.replace('rebuild', 'build')}")
        raise RetrieverError(f"{path}: no manifest.json (not an index, or an interrupted write); {hint}")
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RetrieverError(f"{file} is corrupt ({e}); {hint}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise RetrieverError(f"{file} is not a corecover index manifest; {hint}")
    if manifest.get("format_version") not in READABLE_VERSIONS:
        raise RetrieverError(f"{path}: index format version {manifest.get('format_version')} but this "
                             f"corecover reads versions {', '.join(map(str, READABLE_VERSIONS))}; {hint}")
    missing = [k for k in ("embedding_model", "dimension", "count", "corpus_hash", "files") if k not in manifest]
    if missing:
        raise RetrieverError(f"{file} lacks {', '.join(missing)}; {hint}")
    for name, meta in manifest["files"].items():
        f = path / name
        if not f.is_file():
            raise RetrieverError(f"{path}: file {name} is missing; {hint}")
        if f.stat().st_size != meta["bytes"] or (verify and file_digest(f) != meta["sha256"]):
            raise RetrieverError(f"{path}: file {name} is corrupt (size or checksum differs from the manifest); {hint}")
    return manifest
