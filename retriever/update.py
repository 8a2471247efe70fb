"""Updating an index in place: add documents, replace changed ones, remove some, all or nothing.

Each update holds the index's lock, reads the index, builds the new one beside it (reusing every
vector it already has: only new passages are embedded) and swaps it in atomically (storage.py),
so readers and a kill at any moment see the old index or the new one, whole.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from retriever.corpus import Passage
from retriever.documents import Document, check_model, chunk_documents, text_hash
from retriever.embedder import Embedder
from retriever.errors import RetrieverError
from retriever.index import Index, default_work_dir
from retriever.shards import drop_shards, model_work_dir, scan_shards
from retriever.storage import clean_stale, index_lock

HISTORY = 50  # update records kept in the manifest


@dataclass
class Changes:
    """What an update did, by document id, and what it left out (id or file, one-line reason)."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{len(v)} {k}" for k, v in (("added", self.added), ("updated", self.updated),
                                                ("removed", self.removed)) if v]
        text = ", ".join(parts) or "nothing changed"
        if self.skipped:
            kinds: dict[str, int] = {}
            for _, why in self.skipped:
                kind = why.split(" (")[0].split(":")[0].split(" of ")[0]
                kinds[kind] = kinds.get(kind, 0) + 1
            text += f"; skipped {len(self.skipped)} (" + ", ".join(f"{n} {k}" for k, n in kinds.items()) + ")"
        return text


def _record(index: Index, changes: Changes) -> list[dict]:
    entry = {"at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "added": len(changes.added),
             "updated": len(changes.updated), "removed": len(changes.removed)}
    return [*index.manifest.get("updates", []), entry][-HISTORY:]


def plan_add(index: Index, docs: Iterable[Passage], update: bool = False) -> tuple[list[Passage], Changes]:
    """The documents to index (new or, with `update`, changed) and the Changes that says so."""
    index.rows_of()  # a format-1 index has no documents: it cannot be updated
    by_id = {d.id: d for d in index.documents}
    by_hash = {d.sha256: d.id for d in index.documents}
    changes, chosen, batch = Changes(), [], {}
    for doc in docs:
        digest = text_hash(doc.text)
        if doc.id in batch:
            raise RetrieverError(f"document id {doc.id!r} occurs twice in the input; nothing was added")
        batch[doc.id] = doc
        old = by_id.get(doc.id)
        if old is not None and (old.sha256, old.title, old.source) == (digest, doc.title, doc.source):
            changes.skipped.append((doc.id, "unchanged"))
        elif old is not None and not update:
            changes.skipped.append((doc.id, "changed: pass --update to replace it"))
        elif old is None and digest in by_hash:
            changes.skipped.append((doc.id, f"duplicate of {by_hash[digest]}"))
        else:
            (changes.updated if old is not None else changes.added).append(doc.id)
            by_hash[digest] = doc.id
            chosen.append(doc)
    return chosen, changes


def add_documents(path: str | Path, docs: Iterable[Passage | dict], *, embedder: Embedder | None = None,
                  update: bool = False, work_dir: str | Path | None = None,
                  progress: bool | Callable[[int, int], None] = True, shard_size: int = 256) -> tuple[Index, Changes]:
    """Add `docs` to the index at `path`, embedding only their passages; save it atomically.

    Unchanged documents and duplicates (the same text under another id) are skipped; a document
    whose id is indexed with other content is skipped too, or replaced with `update`.
    `embedder` must be the index's model (default: the index's own).
    """
    with index_lock(path):
        old = Index.load(path, embedder)
        old.rows_of()  # format 1 cannot be updated: say so before any work
        embedder = embedder or old.embedder
        check_model(old.manifest, embedder, path)
        chosen, changes = plan_add(old, map(Passage.coerce, docs), update)
        if not chosen:  # nothing to write; still clear what a killed earlier update left behind
            clean_stale(Path(path).expanduser().resolve())
            folder = model_work_dir(Path(work_dir or default_work_dir()).expanduser(), embedder.name)
            drop_shards(scan_shards(folder, old.manifest["dimension"], set(old.vector_map()))[1])
            return old, changes
        replaced = set(changes.updated)
        rows = old.rows_of()
        kept = [d for d in old.documents if d.id not in replaced]
        kept_chunks = [old.passages[i] for d in kept for i in rows[d.id]]
        settings = old.settings()
        groups = chunk_documents(chosen, embedder, settings["chunking"])
        records = [Document(d.id, d.title, d.source, text_hash(d.text), len(g)) for d, g in zip(chosen, groups, strict=True)]
        new = Index.assemble(kept + records, kept_chunks + [c for g in groups for c in g], embedder, settings,
                             reuse=old, work_dir=work_dir, progress=progress, shard_size=shard_size,
                             fusion=old.fusion, history=_record(old, changes))
        new.save(path)
    return new, changes


def remove_documents(path: str | Path, ids: Iterable[str]) -> tuple[Index, Changes]:
    """Remove the documents `ids` (all their passages) from the index at `path`, atomically.

    An unknown id removes nothing and raises RetrieverError. Nothing is embedded.
    """
    ids = list(dict.fromkeys(ids))
    with index_lock(path):
        old = Index.load(path)
        rows = old.rows_of()
        unknown = [i for i in ids if i not in rows]
        if unknown:
            first = unknown[0]
            doc = first.rpartition("#")[0]
            hint = (f"{first!r} is a passage of document {doc!r}: remove {doc!r}" if doc in rows else
                    "`corecover index docs` lists them")
            raise RetrieverError(f"unknown document id{'s' if len(unknown) > 1 else ''} "
                                 f"{', '.join(map(repr, unknown))}; nothing was removed ({hint})")
        if len(ids) == len(rows):
            raise RetrieverError("removing every document would leave an empty index; delete its folder instead")
        gone = set(ids)
        kept = [d for d in old.documents if d.id not in gone]
        chunks = [old.passages[i] for d in kept for i in rows[d.id]]
        changes = Changes(removed=ids)
        new = Index.assemble(kept, chunks, old.embedder, old.settings(), reuse=old, progress=False,
                             fusion=old.fusion, history=_record(old, changes))
        new.save(path)
    return new, changes
