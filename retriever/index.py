"""The hybrid index: passages + FAISS (dense) + BM25 (sparse), fused by reciprocal rank fusion."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from retriever.bm25 import BM25
from retriever.chunking import chunk_passages
from retriever.corpus import Passage, corpus_hash
from retriever.dense import build_faiss, choose_kind, load_faiss, save_faiss, search_faiss
from retriever.embedder import Embedder
from retriever.errors import RetrieverError, rebuild_hint
from retriever.fusion import reciprocal_rank_fusion
from retriever.rerank import active_reranker, rerank_candidates
from retriever.shards import EmbedStats, embed_resumable
from retriever.storage import read_manifest, write_atomic

MODES = ("hybrid", "dense", "bm25")
PASSAGES_FILE = "passages.jsonl"
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


def _progress_callback(progress: bool | Callable[[int, int], None], total: int):
    """(callback, closer) for a progress option: True draws a tqdm bar on stderr."""
    if callable(progress):
        return progress, lambda: None
    if not progress:
        return None, lambda: None
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc="embedding passages", unit="passage", smoothing=0.1)

    def update(done: int, _total: int) -> None:
        bar.update(done - bar.n)

    return update, bar.close


class Index:
    """Passages searchable by dense vectors (FAISS), BM25, or both fused ("hybrid")."""

    rerank: bool = False  # hybrid search reranks by default (off: no measured gain within the latency budget)
    reranker = None  # the retriever.rerank.Reranker in use, loaded on first use

    def __init__(self, passages: list[Passage], dense, bm25: BM25, embedder: Embedder, manifest: dict,
                 fusion: Fusion | None = None):
        self.passages = passages
        self.dense = dense
        self.bm25 = bm25
        self.embedder = embedder
        self.manifest = manifest
        self.fusion = fusion or Fusion()  # a search setting: change it freely on a loaded index

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
              corpus: str = "custom", corpus_version: str | None = None, shard_size: int = 256) -> Index:
        """Chunk, embed (resumably, in shards under `work_dir`), and index `passages`.

        `progress`: True for a progress bar, False for none, or a callable(done, total).
        An interrupted build (Ctrl-C, or an exception from the progress callable) leaves its
        finished shards in `work_dir`; building the same passages with the same model again
        embeds only what is missing. `index_type`: auto (flat up to 100k chunks, then HNSW,
        IVF beyond 5M), flat, hnsw or ivf.
        """
        embedder = embedder or Embedder()
        docs = [Passage.coerce(p) for p in passages]
        if not docs:
            raise RetrieverError("no passages to index")
        if len({p.id for p in docs}) != len(docs):
            raise RetrieverError("passage ids must be unique")
        chunks = chunk_passages(docs, embedder.tokenizer, max_tokens=min(chunk_tokens, embedder.max_tokens - 16),
                                overlap=chunk_overlap)
        texts = [embedding_text(c) for c in chunks]
        digest = corpus_hash(chunks)
        key = hashlib.sha256(f"{digest}\n{embedder.name}".encode()).hexdigest()[:24]
        shard_dir = Path(work_dir or default_work_dir()).expanduser() / key

        stats = EmbedStats()
        callback, close = _progress_callback(progress, len(texts))
        try:
            vectors = embed_resumable(texts, embedder.encode, embedder.dim, shard_dir, shard_size=shard_size,
                                      progress=callback, stats=stats)
        finally:
            close()
        kind = choose_kind(len(chunks), index_type)
        started = time.perf_counter()
        dense = build_faiss(vectors, kind)
        bm25 = BM25.build(texts, stemmer_language=stemmer)
        index_seconds = time.perf_counter() - started

        manifest = {
            "embedding_model": embedder.name,
            "dimension": embedder.dim,
            "count": len(chunks),
            "documents": len(docs),
            "corpus": corpus,
            "corpus_version": corpus_version,
            "corpus_hash": digest,
            "chunking": {"max_tokens": chunk_tokens, "overlap": chunk_overlap},
            "faiss": {"kind": kind, "ntotal": int(dense.ntotal)},
            "bm25": bm25.params,
            "build": {"embedded": stats.embedded, "reused": stats.reused,
                      "embed_seconds": round(stats.seconds, 2), "index_seconds": round(index_seconds, 2),
                      "passages_per_second": round(stats.embedded / stats.seconds, 1) if stats.embedded else None},
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        import shutil

        shutil.rmtree(shard_dir, ignore_errors=True)  # the vectors now live in the index
        return cls(chunks, dense, bm25, embedder, manifest, fusion)

    def save(self, path: str | Path) -> None:
        """Write the index to the folder `path`, atomically (a temp folder renamed into place)."""

        def fill(tmp: Path) -> dict:
            with (tmp / PASSAGES_FILE).open("w", encoding="utf-8") as f:
                for p in self.passages:
                    f.write(json.dumps(p.to_dict(), ensure_ascii=False) + "\n")
            save_faiss(self.dense, tmp / DENSE_FILE)
            self.bm25.save(tmp / BM25_DIR)
            return {k: v for k, v in self.manifest.items() if k not in ("files", "format", "format_version")}

        write_atomic(path, fill)
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
        elif embedder.name != manifest["embedding_model"]:
            raise RetrieverError(f"{path} was built with embedding model {manifest['embedding_model']!r} but "
                                 f"the embedder is {embedder.name!r}; load it without an embedder, or {hint}")
        try:
            lines = (path / PASSAGES_FILE).read_text(encoding="utf-8").strip().replace("\n", ",")
            passages = [Passage(**row) for row in json.loads(f"[{lines}]")]  # one parse: ~5x faster than per line
            dense = load_faiss(path / DENSE_FILE)
            bm25 = BM25.load(path / BM25_DIR, stemmer_language=manifest.get("bm25", {}).get("stemmer"))
        except (OSError, ValueError, TypeError, RuntimeError, KeyError) as e:
            raise RetrieverError(f"{path}: cannot read the index ({type(e).__name__}: {e}); {hint}") from None
        n = manifest["count"]
        sizes = {"passages": len(passages), "vectors": dense.ntotal, "bm25 documents": bm25.model.scores["num_docs"]}
        if any(size != n for size in sizes.values()) or dense.d != manifest["dimension"]:
            raise RetrieverError(f"{path}: index parts disagree (manifest count {n}, "
                                 f"{', '.join(f'{k} {v}' for k, v in sizes.items())}); {hint}")
        return cls(passages, dense, bm25, embedder, manifest)

    def search(self, query: str, k: int = 5, mode: str = "hybrid",
               query_vector: np.ndarray | None = None, rerank: bool | None = None) -> list[Hit]:
        """The `k` best passages for `query`, best first. `mode`: hybrid, dense or bm25.

        `query_vector` (shape (dim,), unit norm) skips embedding the query when the caller has it.
        `rerank` (hybrid only; None: the index's `rerank` setting) reorders the hybrid candidates
        with the cross-encoder of retriever.rerank.
        """
        if not isinstance(query, str) or not query.strip():
            raise RetrieverError("the query is empty; pass a question or some keywords")
        if mode not in MODES:
            raise RetrieverError(f"unknown search mode {mode!r}; choose hybrid, dense or bm25")
        if k < 1:
            raise RetrieverError(f"k must be at least 1, got {k}")
        reranker = active_reranker(self, rerank) if mode == "hybrid" else None
        depth = max(k, self.fusion.depth, reranker.settings.depth if reranker else 0) if mode == "hybrid" else k
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
