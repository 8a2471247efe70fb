"""Rerank the hybrid top-k with a cross-encoder that reads the question and the passage together.

The cross-encoder is a MiniLM trained here (`retriever.rerank_train`, run once by
`corecover index build --rerank`), exported to ONNX with int8 weights, and run with onnxruntime
and tokenizers: the query path imports no torch. A reranked hit's score is

    final = cross-encoder logit - prior * log(hybrid rank)

over the hybrid's `depth` best candidates: the hybrid order stays as a soft prior.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from retriever.errors import RetrieverError
from retriever.storage import MANIFEST, write_atomic

ENV_VAR = "CORECOVER_RERANK_DIR"
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
CONFIG_FILE = MANIFEST
FORMAT = "corecover-reranker"
FORMAT_VERSION = 1


@dataclass
class RerankSettings:
    """How the reranker is applied: candidates read, passage window, weight of the hybrid rank."""

    depth: int = 20          # hybrid candidates the cross-encoder reads
    max_tokens: int = 64     # question + passage window, in MiniLM tokens
    prior: float = 0.0       # weight of -log(hybrid rank) added to the cross-encoder logit
    window: int = 40         # words of the passage read: the sentences nearest the question's words (0: all)

    def __post_init__(self) -> None:
        if self.depth < 1 or self.max_tokens < 16 or self.prior < 0:
            raise RetrieverError(f"bad rerank settings {self}: depth >= 1, max_tokens >= 16, prior >= 0")


def default_rerank_dir() -> Path:
    """$CORECOVER_RERANK_DIR, else <user cache>/corecover/rerank/default."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("corecover")) / "rerank" / "default"


def is_built(path: str | Path | None = None) -> bool:
    path = Path(path).expanduser() if path else default_rerank_dir()
    return all((path / name).is_file() for name in (MODEL_FILE, TOKENIZER_FILE, CONFIG_FILE))


_WORD = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_STOP = frozenset("a an the of in on at to for by with from and or is was were are be been it its as that this "
                  "who whom whose what when where which why how many much did do does has have had".split())


def window(question: str, title: str, text: str, words: int) -> str:
    """What the cross-encoder reads of a passage: its title, then (when `words` > 0) the sentence
    sharing most words with the question and its neighbours, up to about `words` words."""
    if words <= 0 or len(text.split()) <= words:
        return f"{title}\n{text}" if title else text
    sentences = _SENTENCE_END.split(text)
    query = {w for w in _WORD.findall(question.lower()) if w not in _STOP}
    overlap = [len(query.intersection(_WORD.findall(s.lower()))) for s in sentences]
    best = max(range(len(sentences)), key=lambda i: (overlap[i], -i))
    lo, hi, size = best, best + 1, len(sentences[best].split())
    while True:  # grow towards the neighbour sharing more words (the earlier one on ties)
        sides = [j for j in (lo - 1, hi) if 0 <= j < len(sentences) and size + len(sentences[j].split()) <= words]
        if not sides:
            break
        j = max(sides, key=lambda j: (overlap[j], -j))
        size += len(sentences[j].split())
        lo, hi = min(lo, j), max(hi, j + 1)
    body = " ".join(sentences[lo:hi])
    return f"{title}\n{body}" if title else body


def combine(logits: np.ndarray, settings: RerankSettings) -> np.ndarray:
    """Final scores of candidates given in hybrid order (rank 1 first)."""
    ranks = np.arange(1, len(logits) + 1, dtype=np.float64)
    return np.asarray(logits, dtype=np.float64) - settings.prior * np.log(ranks)


class Reranker:
    """A trained cross-encoder on onnxruntime. `score(query, texts)` gives one logit per text."""

    def __init__(self, path: str | Path | None = None, threads: int | None = None):
        self.path = Path(path).expanduser() if path else default_rerank_dir()
        if not is_built(self.path):
            raise RetrieverError(f"no reranker at {self.path}; build it with `corecover index build --rerank`")
        try:
            self.config = json.loads((self.path / CONFIG_FILE).read_text(encoding="utf-8"))
            if self.config.get("format") != FORMAT or self.config.get("format_version") != FORMAT_VERSION:
                raise ValueError(f"format {self.config.get('format')!r} v{self.config.get('format_version')}")
            self.settings = RerankSettings(**self.config["settings"])
            for name, meta in self.config.get("files", {}).items():
                if (self.path / name).stat().st_size != meta["bytes"]:
                    raise ValueError(f"{name} is {(self.path / name).stat().st_size} bytes, the manifest says {meta['bytes']}")
            import onnxruntime as ort
            from tokenizers import Tokenizer

            options = ort.SessionOptions()
            options.intra_op_num_threads = threads or self.config.get("threads", 2)
            options.inter_op_num_threads = 1
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # polite on a busy machine
            self.session = ort.InferenceSession(str(self.path / MODEL_FILE), options,
                                                providers=["CPUExecutionProvider"])
            self.tokenizer = Tokenizer.from_file(str(self.path / TOKENIZER_FILE))
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as e:
            raise RetrieverError(f"{self.path}: cannot load the reranker ({type(e).__name__}: {e}); "
                                 "rebuild it with `corecover index build --rerank`") from None
        self.tokenizer.enable_truncation(self.settings.max_tokens, strategy="longest_first")
        self.tokenizer.enable_padding(pad_id=self.tokenizer.token_to_id("[PAD]") or 0)
        self.inputs = {i.name for i in self.session.get_inputs()}

    def __repr__(self) -> str:
        return f"Reranker({str(self.path)!r}, {self.settings})"

    def read(self, query: str, passage) -> str:
        """What the cross-encoder reads of `passage` (anything with .title and .text) for `query`."""
        return window(query, passage.title, passage.text, self.settings.window)

    def score(self, query: str, texts: list[str]) -> np.ndarray:
        """The cross-encoder's relevance logit of each text for `query` (higher is more relevant)."""
        if not texts:
            return np.zeros(0, dtype=np.float32)
        encoded = self.tokenizer.encode_batch([(query, t) for t in texts])
        feed = {"input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in encoded], dtype=np.int64)}
        (logits,) = self.session.run(None, {k: v for k, v in feed.items() if k in self.inputs})
        return np.asarray(logits, dtype=np.float32).reshape(len(texts), -1)[:, 0]


def active_reranker(index, rerank: bool | None = None) -> Reranker | None:
    """The reranker a hybrid search on `index` uses when `rerank` (None: `index.rerank`) is on:
    `index.reranker`, loaded from default_rerank_dir() on first use (an error if none is built)."""
    if not (index.rerank if rerank is None else rerank):
        return None
    if index.reranker is None:
        index.reranker = Reranker()
    return index.reranker


def rerank_candidates(reranker: Reranker, query: str, ranked: list[tuple[int, float]], k: int,
                      passage: Callable[[int], object]) -> tuple[list[tuple[int, float]], dict[int, dict]]:
    """The hybrid's best max(k, depth) candidates reordered: (row, final score) pairs, and per row
    what the reranker said (`rerank`: its logit, `hybrid_rank`: the candidate's rank before)."""
    candidates = ranked[: max(k, reranker.settings.depth)]
    logits = reranker.score(query, [reranker.read(query, passage(i)) for i, _ in candidates])
    final = combine(logits, reranker.settings)
    order = np.argsort(-final, kind="stable")
    notes = {candidates[j][0]: {"rerank": float(logits[j]), "hybrid_rank": int(j) + 1} for j in order}
    return [(candidates[j][0], float(final[j])) for j in order], notes


def write_reranker(path: str | Path, fill: Callable[[Path], dict]) -> None:
    """Write a reranker folder atomically (the index's temp-folder-and-rename): `fill(tmp)` writes
    the model files and returns the manifest's fields."""
    write_atomic(path, lambda tmp: {"format": FORMAT, "format_version": FORMAT_VERSION, **fill(tmp)})


def settings_dict(settings: RerankSettings) -> dict:
    return {k: (round(v, 4) if isinstance(v, float) and math.isfinite(v) else v) for k, v in asdict(settings).items()}
