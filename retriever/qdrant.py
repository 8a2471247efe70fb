"""The index in Qdrant, behind the same `search(query, k, mode, query_vector)` contract as `Index`.

    store = QdrantIndex.export(Index.load(path), "http://qdrant:6333")  # the vectors as they are
    store = QdrantIndex.open("http://qdrant:6333")                      # any replica, any machine
    store.search("who painted the Mona Lisa", k=5)                      # hybrid, as Index does

The location is a URL (a Qdrant server or cluster: production), a folder (qdrant-client's local
mode: tests and laptops) or ":memory:". One collection holds, per passage, its dense vector, its
BM25 sparse vector and the passage itself. The sparse vectors are the index's own BM25 (bm25s)
term scores, keyed by a 32-bit hash of each stemmed term: a query's inner product with them is the
same BM25 score `Index` computes, and a replica needs no vocabulary file. Hybrid runs both searches
in one request and fuses them client-side with the index's weighted RRF (`retriever.fusion`), so
each hit keeps its dense cosine, which the agent's grade step reads.
"""

from __future__ import annotations

import contextlib
import time
import uuid
import zlib
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from retriever.bm25 import BM25
from retriever.corpus import Passage
from retriever.embedder import Embedder
from retriever.errors import RetrieverError
from retriever.fusion import reciprocal_rank_fusion
from retriever.index import Fusion, Hit, Index, faiss_vectors, search_plan
from retriever.rerank import rerank_candidates

DEFAULT_COLLECTION = "corecover"
QUANTIZE_ABOVE = 100_000  # int8 vectors in RAM and originals on disk past this many passages
SEARCH_EF = 128           # HNSW candidates per search on a server (default); ~4096 at 1M passages (bench/retrieval_scale.py)
PAYLOAD = ["id", "title", "text", "source"]


class RetrievalUnavailable(RetrieverError):
    """The vector database did not answer: the caller may answer without retrieval, or say so."""


def masked(location: str) -> str:
    """The location with any password in it replaced by ****."""
    parts = urlsplit(location)
    if parts.password is None:
        return location
    netloc = f"{parts.username}:****@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def is_url(location: str) -> bool:
    return location.startswith(("http://", "https://"))


def term_id(term: str) -> int:
    """A term's sparse-vector index: crc32 of its UTF-8 bytes (stable across processes and machines)."""
    return zlib.crc32(term.encode("utf-8"))


def bm25_rows(bm25: BM25) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The BM25 term scores per passage as CSR (indptr, term ids, scores); term ids hashed by `term_id`."""
    import scipy.sparse as sp

    scores = bm25.model.scores
    width = len(scores["indptr"]) - 1  # bm25s's vocabulary may hold one more term (""), scored nowhere
    terms = np.zeros(max(width, len(bm25.model.vocab_dict)), dtype=np.uint32)
    for term, i in bm25.model.vocab_dict.items():
        terms[i] = term_id(term)
    csc = sp.csc_matrix((scores["data"], scores["indices"], scores["indptr"]),
                        shape=(scores["num_docs"], width))
    csr = csc.tocsr()
    csr.sort_indices()
    return csr.indptr, terms[csr.indices], csr.data.astype(np.float32)


def connect(location: str, api_key: str | None = None, timeout: float = 5.0):
    """A qdrant-client for a URL, a local folder or ":memory:"."""
    try:
        from qdrant_client import QdrantClient
    except ImportError:
        raise RetrieverError("the Qdrant backend needs qdrant-client; run `pip install 'corecover[vectordb]'`") from None
    if location == ":memory:":
        return QdrantClient(location=":memory:")
    if is_url(location):
        return QdrantClient(url=location, api_key=api_key, timeout=max(1, round(timeout)), check_compatibility=False)
    return QdrantClient(path=location)


class QdrantIndex:
    """Passages in a Qdrant collection, searchable by dense vectors, BM25, or both fused ("hybrid")."""

    def __init__(self, client, location: str, collection: str, manifest: dict, embedder: Embedder | None = None,
                 fusion: Fusion | None = None):
        self.client = client
        self.location = location
        self.collection = collection
        self.manifest = manifest
        self.fusion = fusion or Fusion(**manifest.get("fusion", {}))
        self._embedder = embedder
        self.rerank, self.reranker = False, None  # as on Index: the cross-encoder over hybrid candidates
        self.search_ef = SEARCH_EF  # hnsw_ef of dense searches on a server: raise it for large collections
        bm25 = manifest.get("bm25", {})
        self._tokenizer = BM25(None, bm25.get("stemmer"), bm25.get("stopwords", "en"))

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = Embedder(self.manifest["embedding_model"])
        return self._embedder

    @embedder.setter
    def embedder(self, embedder: Embedder) -> None:
        self._embedder = embedder

    def __len__(self) -> int:
        return int(self.manifest["count"])

    def __repr__(self) -> str:
        return f"QdrantIndex({len(self)} passages in {self.collection!r} at {masked(self.location)})"

    def _call(self, what: str, fn: Callable, *args, **kwargs):
        """Run one client call; a dead or unreachable database becomes RetrievalUnavailable (one line)."""
        try:
            return fn(*args, **kwargs)
        except RetrieverError:
            raise
        except Exception as e:
            detail = " ".join(str(e).split())[:200] or type(e).__name__
            raise RetrievalUnavailable(f"retrieval unavailable: Qdrant at {masked(self.location)} failed to "
                                       f"{what} ({type(e).__name__}: {detail})") from None

    @classmethod
    def open(cls, location: str, collection: str = DEFAULT_COLLECTION, embedder: Embedder | None = None, *,
             api_key: str | None = None, timeout: float = 5.0, client=None) -> QdrantIndex:
        """Open an exported collection; checks it holds a corecover index made with `embedder`'s model."""
        client = client or connect(location, api_key, timeout)
        store = cls(client, location, collection, {"count": 0})
        if not store._call("find the collection", client.collection_exists, collection):
            raise RetrieverError(f"no collection {collection!r} at {masked(location)}; export one with "
                                 f"`corecover index build --backend qdrant --url {masked(location)}`")
        info = store._call("describe the collection", client.get_collection, collection)
        manifest = (info.config.metadata or {}).get("corecover")
        if not manifest:
            raise RetrieverError(f"collection {collection!r} at {masked(location)} is not a corecover index; "
                                 f"export one with `corecover index build --backend qdrant`")
        if embedder is not None and embedder.name != manifest["embedding_model"]:
            raise RetrieverError(f"collection {collection!r} was built with embedding model "
                                 f"{manifest['embedding_model']!r} but the embedder is {embedder.name!r}")
        return cls(client, location, collection, manifest, embedder)

    @classmethod
    def export(cls, index: Index, location: str, collection: str = DEFAULT_COLLECTION, *,
               api_key: str | None = None, timeout: float = 30.0, batch: int = 256, quantize: bool | None = None,
               progress: bool | Callable[[int, int], None] = False, client=None) -> QdrantIndex:
        """Copy `index` (passages, its dense vectors, its BM25 term scores) into `collection`; nothing is
        re-embedded. The data goes into a fresh collection that the name (an alias) is switched to only
        when it is complete, so readers see the old index or the new one, never half of one."""
        from qdrant_client import models

        client = client or connect(location, api_key, timeout)
        store = cls(client, location, collection, {"count": len(index)})
        n, dim = len(index), index.manifest["dimension"]
        quantize = n > QUANTIZE_ABOVE if quantize is None else quantize
        manifest = {k: index.manifest.get(k) for k in ("embedding_model", "dimension", "count", "documents", "corpus",
                                                      "corpus_version", "corpus_hash", "chunking", "bm25")}
        manifest.update(fusion={"weights": index.fusion.weights, "k": index.fusion.k, "depth": index.fusion.depth},
                        sparse="crc32 of the stemmed term; values: bm25s term scores",
                        exported=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        old = [a.collection_name for a in store._call("list aliases", client.get_aliases).aliases
               if a.alias_name == collection]
        if not old and store._call("find the collection", client.collection_exists, collection):
            raise RetrieverError(f"{collection!r} at {masked(location)} is a collection, not an alias made by an "
                                 f"export; delete it or export under another name")
        target = f"{collection}-{uuid.uuid4().hex[:8]}"
        store._call("create a collection", client.create_collection, target,
                    vectors_config={"dense": models.VectorParams(size=dim, distance=models.Distance.DOT,
                                                                 on_disk=quantize or None)},
                    sparse_vectors_config={"bm25": models.SparseVectorParams()},
                    quantization_config=models.ScalarQuantization(scalar=models.ScalarQuantizationConfig(
                        type=models.ScalarType.INT8, quantile=0.99, always_ram=True)) if quantize else None,
                    metadata={"corecover": manifest})
        try:
            vectors = faiss_vectors(index.dense)
            indptr, terms, values = bm25_rows(index.bm25)
            report = progress if callable(progress) else None
            bar = None
            if progress is True:
                from tqdm.auto import tqdm

                bar = tqdm(total=n, desc=f"exporting to Qdrant {target}", unit="passage")
            for start in range(0, n, batch):
                points = []
                for row in range(start, min(n, start + batch)):
                    p, a, b = index.passages[row], indptr[row], indptr[row + 1]
                    points.append(models.PointStruct(
                        id=row, payload={"id": p.id, "title": p.title, "text": p.text, "source": p.source},
                        vector={"dense": vectors[row].tolist(),
                                "bm25": models.SparseVector(indices=terms[a:b].tolist(), values=values[a:b].tolist())}))
                store._call("store passages", client.upsert, target, points, wait=True)
                done = min(n, start + batch)
                if bar is not None:
                    bar.update(done - bar.n)
                if report:
                    report(done, n)
            if bar is not None:
                bar.close()
            switch = [models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=collection))] if old else []
            switch.append(models.CreateAliasOperation(create_alias=models.CreateAlias(collection_name=target,
                                                                                      alias_name=collection)))
            store._call("switch the alias", client.update_collection_aliases, switch)  # one atomic change
        except BaseException:
            with contextlib.suppress(Exception):  # the database may be what failed: its error matters more
                client.delete_collection(target)
            raise
        for name in old:
            if name != target:
                store._call("drop the previous collection", client.delete_collection, name)
        return cls(client, location, collection, manifest, index.embedder)

    def search(self, query: str, k: int = 5, mode: str = "hybrid",
               query_vector: np.ndarray | None = None, rerank: bool | None = None) -> list[Hit]:
        """The `k` best passages for `query`, best first; `mode` hybrid, dense or bm25, `rerank` (hybrid
        only) as `Index.search`."""
        from qdrant_client import models

        reranker, depth = search_plan(self, query, k, mode, rerank)
        params = None
        if is_url(self.location):  # local mode searches exactly and ignores these
            params = models.SearchParams(hnsw_ef=max(self.search_ef, depth), quantization=models.QuantizationSearchParams(
                rescore=True, oversampling=2.0))
        requests, names = [], []
        if mode in ("dense", "hybrid"):
            vector = self._query_vector(query, query_vector)
            requests.append(models.QueryRequest(query=vector.tolist(), using="dense", limit=depth, params=params,
                                                with_payload=PAYLOAD))
            names.append("dense")
        if mode in ("bm25", "hybrid"):
            sparse = self._query_terms(query)
            if sparse is not None:
                requests.append(models.QueryRequest(query=sparse, using="bm25", limit=depth, with_payload=PAYLOAD))
                names.append("bm25")
        results = self._call("search", self.client.query_batch_points, self.collection, requests) if requests else []
        lists = {name: result.points for name, result in zip(names, results, strict=True)}
        lists.setdefault("dense", [])
        lists.setdefault("bm25", [])

        payloads, known = {}, {}
        for name, points in lists.items():
            for rank, point in enumerate(points, 1):
                payloads[point.id] = point.payload
                known.setdefault(point.id, {}).update({name: float(point.score), f"{name}_rank": rank})
        if mode == "hybrid":
            ranked = reciprocal_rank_fusion({name: [p.id for p in points] for name, points in lists.items()},
                                            self.fusion.weights, self.fusion.k)
        else:
            ranked = [(p.id, p.score) for p in lists[mode]]
        notes: dict[int, dict] = {}
        if reranker is not None:
            ranked, notes = rerank_candidates(reranker, query, ranked, k, lambda i: Passage(**payloads[i]))
        hits = []
        for rank, (i, score) in enumerate(ranked[:k], 1):
            p = payloads[i]
            hits.append(Hit(id=p["id"], title=p["title"], text=p["text"], source=p["source"], score=float(score),
                            rank=rank, scores={**known[i], **notes.get(i, {})}))
        return hits

    def _query_terms(self, query: str):
        """The query's BM25 sparse vector: its stemmed terms (stop words out), counted, hashed."""
        from qdrant_client import models

        counts: dict[int, float] = {}
        for term in self._tokenizer._tokenize([query], ids=False)[0]:
            counts[term_id(term)] = counts.get(term_id(term), 0.0) + 1.0
        if not counts:
            return None
        return models.SparseVector(indices=list(counts), values=list(counts.values()))

    _query_vector = Index._query_vector  # one implementation: embeds, or checks the caller's vector

    def close(self) -> None:
        self.client.close()
