"""BM25 through bm25s, with English stop words and a Snowball stemmer (PyStemmer)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from retriever.errors import RetrieverError


def _stemmer(language: str | None):
    if not language:
        return None
    try:
        import Stemmer
    except ImportError:
        raise RetrieverError("BM25 stemming needs PyStemmer; run `pip install PyStemmer`") from None
    return Stemmer.Stemmer(language)


class BM25:
    """A bm25s index over passage texts; `search` returns row ids and scores, best first."""

    def __init__(self, model, stemmer_language: str | None = "english", stopwords: str = "en"):
        self.model = model
        self.stemmer_language = stemmer_language
        self.stopwords = stopwords
        self._stem = _stemmer(stemmer_language)

    @property
    def params(self) -> dict:
        return {"stemmer": self.stemmer_language, "stopwords": self.stopwords,
                "k1": self.model.k1, "b": self.model.b, "method": self.model.method}

    def _tokenize(self, texts: list[str], ids: bool):
        import bm25s

        return bm25s.tokenize(texts, stopwords=self.stopwords, stemmer=self._stem, return_ids=ids,
                              show_progress=False)

    @classmethod
    def build(cls, texts: list[str], stemmer_language: str | None = "english", k1: float = 1.5,
              b: float = 0.75, method: str = "lucene") -> BM25:
        import bm25s

        bm25 = cls(bm25s.BM25(k1=k1, b=b, method=method), stemmer_language)
        bm25.model.index(bm25._tokenize(texts, ids=True), show_progress=False)
        return bm25

    def save(self, folder: Path) -> None:
        self.model.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder: Path, stemmer_language: str | None = "english") -> BM25:
        import bm25s

        return cls(bm25s.BM25.load(str(folder), show_progress=False), stemmer_language)

    def search(self, query: str, depth: int) -> tuple[np.ndarray, np.ndarray]:
        tokens = [t for t in self._tokenize([query], ids=False)[0] if t in self.model.vocab_dict]
        if not tokens:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores = self.model.get_scores(tokens)
        depth = min(depth, len(scores))
        top = np.argpartition(-scores, depth - 1)[:depth]
        top = top[np.argsort(-scores[top], kind="stable")]
        top = top[scores[top] > 0]
        return top, scores[top]
