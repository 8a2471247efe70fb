"""The hybrid index: passages + FAISS (dense) + BM25 (sparse), fused by reciprocal rank fusion."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from retriever.bm25 import BM25
from retriever.corpus import Passage, corpus_hash
from retriever.dense import build_faiss, choose_kind, load_faiss, save_faiss, search_faiss
from retriever.documents import (
    Document,
    check_model,
    chunk_documents,
    model_fingerprint,
    same_model,
    text_hash,
)
from retriever.embedder import Embedder
from retriever.errors import RetrieverError, rebuild_hint
from retriever.fusion import reciprocal_rank_fusion
from retriever.phases import phase
from retriever.rerank import active_reranker, rerank_candidates
from retriever.shards import EmbedStats, drop_shards, embed_resumable, model_work_dir, text_key
from retriever.storage import read_manifest, write_atomic

MODES = ("hybrid", "dense", "bm25")
PASSAGES_FILE = "passages.jsonl"
DOCUMENTS_FILE = "documents.jsonl"
DENSE_FILE = "dense.faiss"
BM25_DIR = "bm25"


@dataclass
class Hit:
    """One retrieved passage. `score` is the mode's score (cosine, BM25 or fused); `rank` starts at 1.

    `scores` holds what each retriever said about it: `dense` (cosine), `bm25`, and their ranks
    `dense_rank`, `bm25_rank` (from 1; absent when the passage was not among that retriever's candidates).
    """

    id: str
    title: str
    text: str
    source: str
    score: float
    rank: int
    scores: dict[str, float | int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Fusion:
    """Hybrid settings: RRF weight per retriever, the RRF constant k, and candidates taken from each."""

    # Tuned by `bench/retrieval.py --tune` on NQ-open dev (even questions; held-out odd ones:
    # recall@5 32.5 vs dense 31.5, bm25 25.1). BM25 is the weaker retriever on this corpus, so it
    # gets a small weight; the usual k=60 with equal weights scored below dense alone (30.5).
    weights: dict[str, float] = field(default_factory=lambda: {"dense": 1.0, "bm25": 0.3})
    k: float = 5.0
    depth: int = 20


def embedding_text(passage: Passage) -> str:
    """What gets embedded and BM25-indexed: the title, then the text."""
    return f"{passage.title}\n{passage.text}" if passage.title else passage.text


def default_work_dir() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("corecover")) / "embeddings"


def _progress_callback(progress: bool | Callable[[int, int], None]):
    """(callback, closer) for a progress option: True draws a tqdm bar on stderr once there is work."""
    if callable(progress):
        return progress, lambda: None
    if not progress:
        return None, lambda: None
    from tqdm.auto import tqdm

    bars = []

    def update(done: int, total: int) -> None:
        if not bars:
            bars.append(tqdm(total=total, desc="embedding passages", unit="passage", smoothing=0.1))
        bars[0].update(done - bars[0].n)

    return update, lambda: bars and bars[0].close()


class Index:
    """Passages searchable by dense vectors (FAISS), BM25, or both fused ("hybrid")."""

    rerank: bool = False  # hybrid search reranks by default (off: no measured gain within the latency budget)
    reranker = None  # the retriever.rerank.Reranker in use, loaded on first use

    def __init__(self, passages: list[Passage], dense, bm25: BM25, embedder: Embedder, manifest: dict,
                 fusion: Fusion | None = None, documents: list[Document] | None = None):
        self.passages = passages
        self.dense = dense
        self.bm25 = bm25
        self.embedder = embedder
        self.manifest = manifest
        self.fusion = fusion or Fusion()  # a search setting: change it freely on a loaded index
        self.documents = documents        # None for a format-1 index (read-only)
        self.shards: list[Path] = []      # embedding shards to drop once this index is saved
        self.skipped: list[tuple[str, str]] = []  # (document id, why) left out by `build`

    def __len__(self) -> int:
        return len(self.passages)

    def __repr__(self) -> str:
        return (f"Index({len(self)} passages, {self.manifest['embedding_model']}, "
                f"{self.manifest.get('faiss', {}).get('kind')})")

    @classmethod
    def build(cls, passages: Iterable[Passage | dict], embedder: Embedder | None = None, *,
              work_dir: str | Path | None = None, progress: bool | Callable[[int, int], None] = True,
              chunk_tokens: int = 200, chunk_overlap: int = 40, index_type: str = "auto",
              stemmer: str | None = "english", fusion: Fusion | None = None,
              corpus: str = "custom", corpus_version: str | None = None, shard_size: int = 256,
              reuse: Index | None = None) -> Index:
        """Chunk, embed (resumably, in shards under `work_dir`), and index `passages`.

        `progress`: True for a progress bar, False for none, or a callable(done, total).
        Documents whose text repeats an earlier one are skipped (`index.skipped` says which).
        Vectors come from `reuse` (an index built with the same model, e.g. the one being
        rebuilt), then from shards an interrupted build left in `work_dir`, and only then from
        the model. Shards are dropped once the index is saved. `index_type`: auto (flat up to
        100k chunks, then HNSW, IVF beyond 5M), flat, hnsw or ivf.
        """
        embedder = embedder or Embedder()
        if reuse is not None and not same_model(reuse.manifest, embedder):
            reuse = None  # another model's vectors: nothing to reuse
        docs, seen, skipped = [], {}, []
        for p in map(Passage.coerce, passages):
            digest = text_hash(p.text)
            if digest in seen:
                skipped.append((p.id, f"duplicate of {seen[digest]}"))
            else:
                seen[digest] = p.id
                docs.append(p)
        if not docs:
            raise RetrieverError("no passages to index")
        if len({p.id for p in docs}) != len(docs):
            dupe = next(i for i, n in Counter(p.id for p in docs).items() if n > 1)
            raise RetrieverError(f"passage ids must be unique; {dupe!r} occurs more than once")
        chunking = {"max_tokens": chunk_tokens, "overlap": chunk_overlap}
        groups = chunk_documents(docs, embedder, chunking)
        records = [Document(d.id, d.title, d.source, text_hash(d.text), len(g)) for d, g in zip(docs, groups, strict=True)]
        chunks = [c for g in groups for c in g]
        settings = {"corpus": corpus, "corpus_version": corpus_version, "chunking": chunking,
                    "kind": choose_kind(len(chunks), index_type), "stemmer": stemmer}
        index = cls.assemble(records, chunks, embedder, settings, reuse=reuse, work_dir=work_dir,
                             progress=progress, shard_size=shard_size, fusion=fusion)
        index.skipped = skipped
        return index

    @classmethod
    def assemble(cls, documents: list[Document], chunks: list[Passage], embedder: Embedder, settings: dict, *,
                 reuse: Index | None = None, work_dir: str | Path | None = None,
                 progress: bool | Callable[[int, int], None] = True, shard_size: int = 256,
                 fusion: Fusion | None = None, history: list | None = None) -> Index:
        """The index of `chunks` (grouped by `documents`): vectors reused or embedded, FAISS and BM25 built.

        `settings`: corpus, corpus_version, chunking, kind (FAISS) and stemmer. `reuse` must hold
        vectors of `embedder`'s model (see documents.check_model).
        """
        texts = [embedding_text(c) for c in chunks]
        known = reuse.vector_map() if reuse is not None else None
        dim = reuse.manifest["dimension"] if reuse is not None else embedder.dim
        shard_dir = model_work_dir(Path(work_dir or default_work_dir()).expanduser(), embedder.name)
        stats = EmbedStats()
        callback, close = _progress_callback(progress)
        try:
            vectors, shards = embed_resumable(texts, embedder.encode, dim, shard_dir, known=known,
                                              shard_size=shard_size, progress=callback, stats=stats)
        finally:
            close()
        started = time.perf_counter()
        dense = build_faiss(vectors, settings["kind"])
        bm25 = BM25.build(texts, stemmer_language=settings["stemmer"])
        index_seconds = time.perf_counter() - started
        manifest = {
            "embedding_model": embedder.name,
            "embedding_fingerprint": (reuse.manifest.get("embedding_fingerprint") if reuse is not None else None)
            or model_fingerprint(embedder),
            "dimension": dim,
            "count": len(chunks),
            "documents": len(documents),
            "corpus": settings["corpus"],
            "corpus_version": settings["corpus_version"],
            "corpus_hash": corpus_hash(chunks),
            "chunking": {**settings["chunking"], "encoder_max_tokens": embedder.max_tokens},
            "faiss": {"kind": settings["kind"], "ntotal": int(dense.ntotal)},
            "bm25": bm25.params,
            "build": {"embedded": stats.embedded, "reused": stats.reused, "resumed": stats.resumed,
                      "embed_seconds": round(stats.seconds, 2), "index_seconds": round(index_seconds, 2),
                      "passages_per_second": round(stats.embedded / stats.seconds, 1) if stats.embedded else None},
            "updates": history or [],
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        index = cls(chunks, dense, bm25, embedder, manifest, fusion, documents)
        index.shards = shards
        phase("indexed")
        return index

    def settings(self) -> dict:
        """What `assemble` needs to index more passages the way this index was built."""
        m = self.manifest
        return {"corpus": m.get("corpus"), "corpus_version": m.get("corpus_version"),
                "chunking": m.get("chunking") or {"max_tokens": 200, "overlap": 40},
                "kind": m.get("faiss", {}).get("kind", "flat"), "stemmer": self.bm25.stemmer_language}

    def vector_map(self) -> dict[bytes, np.ndarray]:
        """Each passage's vector, by the hash of its embedding text (see shards.text_key)."""
        vectors = faiss_vectors(self.dense)
        return {text_key(embedding_text(p)): vectors[i] for i, p in enumerate(self.passages)}

    def rows_of(self) -> dict[str, range]:
        """The passage rows of each document."""
        if self.documents is None:
            raise RetrieverError("this index has format version 1, which `index add/remove` cannot update; "
                                 f"{rebuild_hint()} (its vectors are reused: nothing is embedded again)")
        rows, start = {}, 0
        for d in self.documents:
            rows[d.id] = range(start, start + d.chunks)
            start += d.chunks
        return rows

    def save(self, path: str | Path) -> None:
        """Write the index to the folder `path` durably and atomically (a temp folder swapped into place).

        Embedding shards that fed this index are deleted only once it is in place on disk.
        """
        self.rows_of()  # a format-1 index (no documents) is read-only

        def fill(tmp: Path) -> dict:
            _write_jsonl(tmp / PASSAGES_FILE, (p.to_dict() for p in self.passages))
            _write_jsonl(tmp / DOCUMENTS_FILE, (asdict(d) for d in self.documents))
            save_faiss(self.dense, tmp / DENSE_FILE)
            self.bm25.save(tmp / BM25_DIR)
            return {k: v for k, v in self.manifest.items() if k not in ("files", "format", "format_version")}

        shards, self.shards = self.shards, []
        write_atomic(path, fill, after=lambda: drop_shards(shards))
        self.manifest = read_manifest(path, verify=False)

    @classmethod
    def load(cls, path: str | Path, embedder: Embedder | None = None, *, verify: bool = True) -> Index:
        """Open the index at `path`. The manifest is checked (format, files, checksums with `verify`,
        counts, embedding model); anything wrong raises RetrieverError naming the rebuild command."""
        path = Path(path).expanduser()
        manifest = read_manifest(path, verify=verify)
        hint = rebuild_hint(path)
        if embedder is None:
            embedder = Embedder(manifest["embedding_model"])
        else:
            check_model(manifest, embedder, path, versions=False)
        try:
            passages = [Passage(**row) for row in _read_jsonl(path / PASSAGES_FILE)]
            documents = None
            if manifest["format_version"] >= 2:
                documents = [Document(**row) for row in _read_jsonl(path / DOCUMENTS_FILE)]
            dense = load_faiss(path / DENSE_FILE)
            bm25 = BM25.load(path / BM25_DIR, stemmer_language=manifest.get("bm25", {}).get("stemmer"))
        except (OSError, ValueError, TypeError, RuntimeError, KeyError) as e:
            raise RetrieverError(f"{path}: cannot read the index ({type(e).__name__}: {e}); {hint}") from None
        n = manifest["count"]
        sizes = {"passages": len(passages), "vectors": dense.ntotal, "bm25 documents": bm25.model.scores["num_docs"]}
        if documents is not None:
            sizes["document passages"] = sum(d.chunks for d in documents)
        if any(size != n for size in sizes.values()) or dense.d != manifest["dimension"] or (
                documents is not None and len({d.id for d in documents}) != len(documents)):
            raise RetrieverError(f"{path}: index parts disagree (manifest count {n}, "
                                 f"{', '.join(f'{k} {v}' for k, v in sizes.items())}); {hint}")
        return cls(passages, dense, bm25, embedder, manifest, documents=documents)

    def search(self, query: str, k: int = 5, mode: str = "hybrid",
               query_vector: np.ndarray | None = None, rerank: bool | None = None) -> list[Hit]:
        """The `k` best passages for `query`, best first. `mode`: hybrid, dense or bm25.

        `query_vector` (shape (dim,), unit norm) skips embedding the query when the caller has it.
        `rerank` (hybrid only; None: the index's `rerank` setting) reorders the hybrid candidates
        with the cross-encoder of retriever.rerank.
        """
        reranker, depth = search_plan(self, query, k, mode, rerank)
        dense_ids = dense_scores = bm25_ids = bm25_scores = None
        if mode in ("dense", "hybrid"):
            vector = self._query_vector(query, query_vector)
            dense_ids, dense_scores = search_faiss(self.dense, vector, min(depth, len(self)))
        if mode in ("bm25", "hybrid"):
            bm25_ids, bm25_scores = self.bm25.search(query, depth)

        if mode == "dense":
            ranked = list(zip(dense_ids.tolist(), dense_scores.tolist(), strict=True))
        elif mode == "bm25":
            ranked = list(zip(bm25_ids.tolist(), bm25_scores.tolist(), strict=True))
        else:
            ranked = reciprocal_rank_fusion({"dense": dense_ids.tolist(), "bm25": bm25_ids.tolist()},
                                            self.fusion.weights, self.fusion.k)
        notes: dict[int, dict] = {}
        if reranker is not None:
            ranked, notes = rerank_candidates(reranker, query, ranked, k, self.passages.__getitem__)
        ranked = ranked[:k]
        known = {}
        if dense_ids is not None:
            for r, (i, s) in enumerate(zip(dense_ids.tolist(), dense_scores.tolist(), strict=True), 1):
                known.setdefault(i, {}).update(dense=float(s), dense_rank=r)
        if bm25_ids is not None:
            for r, (i, s) in enumerate(zip(bm25_ids.tolist(), bm25_scores.tolist(), strict=True), 1):
                known.setdefault(i, {}).update(bm25=float(s), bm25_rank=r)
        hits = []
        for rank, (i, score) in enumerate(ranked, 1):
            p = self.passages[i]
            hits.append(Hit(id=p.id, title=p.title, text=p.text, source=p.source, score=float(score),
                            rank=rank, scores={**known.get(i, {}), **notes.get(i, {})}))
        return hits

    def _query_vector(self, query: str, query_vector: np.ndarray | None) -> np.ndarray:
        if query_vector is None:
            return self.embedder.encode_query(query)
        vector = np.asarray(query_vector, dtype=np.float32).reshape(-1)
        if vector.shape[0] != self.manifest["dimension"]:
            raise RetrieverError(f"query_vector has {vector.shape[0]} dimensions but the index has "
                                 f"{self.manifest['dimension']}; embed it with index.embedder.encode_query")
        return vector


def faiss_vectors(dense) -> np.ndarray:
    """All vectors stored in a FAISS index, in row order (flat and HNSW directly, IVF by its direct map)."""
    try:
        return dense.reconstruct_n(0, dense.ntotal)
    except RuntimeError:
        import faiss

        faiss.extract_index_ivf(dense).make_direct_map()
        return dense.reconstruct_n(0, dense.ntotal)


def _write_jsonl(path: Path, rows: Iterable[dict]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def _read_jsonl(path: Path) -> list[dict]:
    lines = path.read_text(encoding="utf-8").strip().replace("\n", ",")
    return json.loads(f"[{lines}]")  # one parse: ~5x faster than per line


def search_plan(index: Any, query: str, k: int, mode: str, rerank: bool | None) -> tuple[Any, int]:
    """Check a search's arguments (a clear error for each); the active reranker and how many
    candidates to fetch. Shared by :class:`Index` and the vector-database backends."""
    if not isinstance(query, str) or not query.strip():
        raise RetrieverError("the query is empty; pass a question or some keywords")
    if mode not in MODES:
        raise RetrieverError(f"unknown search mode {mode!r}; choose hybrid, dense or bm25")
    if k < 1:
        raise RetrieverError(f"k must be at least 1, got {k}")
    reranker = active_reranker(index, rerank) if mode == "hybrid" else None
    depth = max(k, index.fusion.depth, reranker.settings.depth if reranker else 0) if mode == "hybrid" else k
    return reranker, depth
