"""The retriever: corpus loading, chunking, embeddings, a FAISS + BM25 hybrid index on disk.

This package imports nothing from the other corecover packages.
"""
