"""Index folders on disk: atomic writes (temp dir + rename) and a manifest checked at load."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from retriever.errors import RetrieverError, rebuild_hint

FORMAT = "corecover-index"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"


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


def write_atomic(path: str | Path, fill: Callable[[Path], dict]) -> None:
    """Call `fill(tmp_dir)` to write the index files and return the manifest, then swap the folder in.

    Readers see the old folder or the new one, never a half-written one: the new folder is
    complete (manifest last) before it is renamed into place.
    """
    path = Path(path).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        manifest = fill(tmp)
        manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, **manifest, "files": list_files(tmp)}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
        old = path.parent / f".{path.name}.old-{uuid.uuid4().hex[:8]}"
        if path.exists():
            os.rename(path, old)
        os.rename(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


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
    if manifest.get("format_version") != FORMAT_VERSION:
        raise RetrieverError(f"{path}: index format version {manifest.get('format_version')} but this "
                             f"corecover reads version {FORMAT_VERSION}; {hint}")
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


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock across processes (so two commands never build the same index at once)."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
