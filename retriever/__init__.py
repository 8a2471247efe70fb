"""The retriever: corpus loading, chunking, embeddings, a FAISS + BM25 hybrid index on disk.

    from retriever import load_default_index
    index = load_default_index()            # embedded corpus + MiniLM, built once into the cache
    for hit in index.search("who painted the Mona Lisa", k=3):
        print(hit.rank, round(hit.score, 4), hit.title)

`Index.build(passages)`, `save(dir)` (durable and atomic), `Index.load(dir)` (checks the manifest),
`search(query, k, mode="hybrid"|"dense"|"bm25", query_vector=None) -> list[Hit]`;
`add_documents(dir, passages)` and `remove_documents(dir, ids)` update a saved index in place,
embedding only new passages; `read_paths([...])` reads .txt/.md/.pdf/.html/.jsonl files and folders.
This package imports nothing from the other corecover packages; torch, faiss and
sentence-transformers are imported only when an index is built, loaded or searched.
"""

from retriever.corpus import Loaded, Passage, corpus_hash, load_corpus, load_folder, load_jsonl, read_paths
from retriever.default import build_index, default_index_dir, load_default_index
from retriever.documents import Document
from retriever.embedder import Embedder
from retriever.errors import RetrieverError
from retriever.index import Fusion, Hit, Index
from retriever.update import Changes, add_documents, remove_documents

__all__ = [
    "Changes",
    "Document",
    "Embedder",
    "Fusion",
    "Hit",
    "Index",
    "Loaded",
    "Passage",
    "RetrieverError",
    "add_documents",
    "build_index",
    "corpus_hash",
    "default_index_dir",
    "load_corpus",
    "load_default_index",
    "load_folder",
    "load_jsonl",
    "read_paths",
    "remove_documents",
]
