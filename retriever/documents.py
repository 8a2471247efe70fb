"""Documents in an index: their records, their passages, and the model their vectors came from."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path

from retriever.chunking import chunk_passages
from retriever.corpus import Passage
from retriever.embedder import Embedder
from retriever.errors import RetrieverError, rebuild_hint


@dataclass(frozen=True)
class Document:
    """One indexed document (a row of documents.jsonl): its passages are `chunks` consecutive rows."""

    id: str
    title: str
    source: str
    sha256: str   # of the document's text: finds duplicates and unchanged documents
    chunks: int


def text_hash(text: str) -> str:
    return hashlib.sha256(text.strip().encode("utf-8")).hexdigest()


def model_fingerprint(embedder: Embedder) -> str | None:
    """Names and sizes of the model's files: tells two versions of one model name apart, cheaply."""
    from retriever.embedder import EMBEDDED, embedded_model_path

    try:
        folder = embedded_model_path() if embedder.model == EMBEDDED else Path(embedder.model).expanduser()
    except RetrieverError:
        return None
    if not folder.is_dir():
        return None
    files = sorted((f.relative_to(folder).as_posix(), f.stat().st_size) for f in folder.rglob("*") if f.is_file())
    return hashlib.sha256(json.dumps(files).encode()).hexdigest()[:16] if files else None


def check_model(manifest: dict, embedder: Embedder, path: object = None, versions: bool = True) -> None:
    """RetrieverError unless `embedder` is the model (and, with `versions`, the model version)
    the index was built with."""
    where = f"{path} was" if path else "the index was"
    if embedder.name != manifest["embedding_model"]:
        raise RetrieverError(f"{where} built with embedding model {manifest['embedding_model']!r} but the "
                             f"embedder is {embedder.name!r}; use that model, or {rebuild_hint(path)}")
    recorded = manifest.get("embedding_fingerprint")
    if versions and recorded and recorded != model_fingerprint(embedder):
        raise RetrieverError(f"{where} built with another version of embedding model {embedder.name!r} "
                             f"(its files differ); {rebuild_hint(path)}")


def same_model(manifest: dict, embedder: Embedder) -> bool:
    try:
        check_model(manifest, embedder)
    except RetrieverError:
        return False
    return True


def chunk_documents(docs: list[Passage], embedder: Embedder, chunking: dict) -> list[list[Passage]]:
    """The passages of each document, in order (see chunking.chunk_passages)."""
    numbered = [replace(doc, id=str(i)) for i, doc in enumerate(docs)]  # chunk ids "i" or "i#n": unambiguous
    groups: list[list[Passage]] = [[] for _ in docs]
    # title + window fit what the encoder reads: the vector sees every word BM25 indexes
    for chunk in chunk_passages(numbered, embedder.tokenizer, max_tokens=chunking["max_tokens"],
                                overlap=chunking["overlap"], limit=embedder.max_tokens):
        i, _, n = chunk.id.partition("#")
        doc = docs[int(i)]
        groups[int(i)].append(replace(chunk, id=f"{doc.id}#{n}" if n else doc.id))
    return groups
