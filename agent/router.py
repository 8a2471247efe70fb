"""The verifiability router: ``reason`` / ``knowledge`` / ``mixed`` from a question's MiniLM embedding.

A multinomial logistic regression over the sentence embedding plus a few lexical cues (numbers, maths
symbols, code markers, computation words, proper nouns), trained with scikit-learn on the labelled
set of :mod:`agent.router_data`, served with numpy alone: the router file is an ``.npz`` of weights,
standardisation, the training vectors (for nearest-neighbour explanations) and JSON metadata.

With a threshold ``t`` (RouteLLM-style, see :func:`calibrate_threshold`) the route is ``reason`` when
P(reason) >= t, else the likelier of ``knowledge`` and ``mixed``; without one, the argmax.

``python -m agent.router train [--data agent/data/router_set.jsonl] [--out agent/data/router.npz]``
"""

from __future__ import annotations

import argparse
import json
import re
import time
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

CLASSES = ("reason", "knowledge", "mixed")
DATA_DIR = Path(__file__).parent / "data"
DEFAULT_PATH = DATA_DIR / "router.npz"
DEFAULT_SET = DATA_DIR / "router_set.jsonl"
FORMAT = "corecover-router/1"
NEIGHBOURS = 3

# ---------------------------------------------------------------- lexical cues (cheap, explainable)

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_YEAR = re.compile(r"\b(?:1\d{3}|20\d{2})\b")
_MATH = re.compile(r"[$^=+*/<>\\{}%]|\bsqrt\b|\bfrac\b")
_CODE = re.compile(r"\bdef |\breturn\b|```|>>>|\bpython\b|\bfunction\b|\bcode\b|\bsql\b|\bimport\b|\w\(\)",
                   re.IGNORECASE)
_COMPUTE = re.compile(r"\b(?:how many|how much|how old|how long|sum|total|times|twice|double[ds]?|difference|"
                      r"compute|calculate|solve|product|average|percent|remainder|probability|ratio|"
                      r"years? (?:after|before|between|apart|ago|passed)|century)\b", re.IGNORECASE)
_PROPER = re.compile(r"(?<![.?!]\s)(?<!^)\b[A-Z][a-z]+")
_LOOKUP = re.compile(r"^\s*(?:who|where|when|which|what (?:is|was|are|were|does)|tell me|describe|explain)\b",
                     re.IGNORECASE)
LEXICAL = ("numbers", "years", "math_symbols", "code_markers", "compute_words", "proper_nouns", "lookup_opening",
           "length")


def lexical_features(question: str) -> np.ndarray:
    """The cues in :data:`LEXICAL` order (counts are log1p-squashed)."""
    counts = [len(_NUMBER.findall(question)), len(_YEAR.findall(question)), len(_MATH.findall(question)),
              len(_CODE.findall(question)), len(_COMPUTE.findall(question)), len(_PROPER.findall(question)),
              1.0 if _LOOKUP.match(question) else 0.0, len(question)]
    return np.log1p(np.asarray(counts, dtype=np.float32))


# ---------------------------------------------------------------- the router


def _json_bytes(data: Any) -> np.ndarray:
    return np.frombuffer(json.dumps(data, ensure_ascii=False).encode("utf-8"), dtype=np.uint8)


class RouterError(RuntimeError):
    """A router file that is missing, corrupt or does not fit the embedder."""


@dataclass
class RouteDecision:
    """Where a question goes, with the class probabilities and why."""

    route: str
    scores: dict[str, float]
    threshold: float | None
    explanation: list[str] = field(default_factory=list)
    features: dict[str, float] = field(default_factory=dict)
    latency_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"route": self.route, "scores": self.scores, "threshold": self.threshold,
                "explanation": self.explanation, "features": self.features, "latency_ms": self.latency_ms}


class Router:
    """Softmax regression on [embedding, standardised lexical cues]; see the module docstring."""

    def __init__(self, coef: np.ndarray, intercept: np.ndarray, lex_mean: np.ndarray, lex_scale: np.ndarray,
                 meta: dict[str, Any], neighbours: dict[str, list] | None = None,
                 neighbour_vectors: np.ndarray | None = None) -> None:
        self.coef = np.asarray(coef, dtype=np.float32)
        self.intercept = np.asarray(intercept, dtype=np.float32)
        self.lex_mean = np.asarray(lex_mean, dtype=np.float32)
        self.lex_scale = np.asarray(lex_scale, dtype=np.float32)
        self.meta = meta
        self.classes: tuple[str, ...] = tuple(meta["classes"])
        self.threshold: float | None = meta.get("threshold")
        self.neighbours = neighbours  # {"texts", "labels", "ids"} of the training questions
        self.neighbour_vectors = neighbour_vectors  # their embeddings (float16 on disk)
        self.dim = self.coef.shape[1] - len(LEXICAL)
        self._embedder: Any = None
        self._shared_vectors = True

    # -- persistence ---------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path | None = None) -> Router:
        """The router saved at ``path`` (None: the bundled ``agent/data/router.npz``)."""
        path = Path(path) if path is not None else DEFAULT_PATH
        if not path.is_file():
            raise RouterError(f"router file {path} not found: train one with `python -m agent.router train --out {path}`")
        try:
            with np.load(path, allow_pickle=False) as npz:
                meta = json.loads(npz["meta"].tobytes())
                if meta.get("format") != FORMAT:
                    raise ValueError(f"format {meta.get('format')!r}, expected {FORMAT!r}")
                neighbours = json.loads(npz["neighbours"].tobytes()) if "neighbours" in npz else None
                router = cls(npz["coef"], npz["intercept"], npz["lex_mean"], npz["lex_scale"], meta, neighbours,
                             npz.get("neighbour_vectors"))
            if router.coef.shape != (len(router.classes), router.dim + len(LEXICAL)) or router.dim <= 0:
                raise ValueError(f"weights of shape {router.coef.shape} do not fit {len(router.classes)} classes")
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise RouterError(f"router file {path} is corrupt or not a corecover router ({exc}); "
                              "retrain it with `python -m agent.router train`") from None
        return router

    def save(self, path: str | Path) -> Path:
        """Write the router atomically (temp file, then rename); uncompressed, so it loads fast."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {**self.meta, "threshold": self.threshold, "format": FORMAT}
        arrays = {"coef": self.coef, "intercept": self.intercept, "lex_mean": self.lex_mean,
                  "lex_scale": self.lex_scale, "meta": _json_bytes(meta)}
        if self.neighbours is not None and self.neighbour_vectors is not None:
            arrays["neighbours"] = _json_bytes(self.neighbours)
            arrays["neighbour_vectors"] = np.asarray(self.neighbour_vectors, dtype=np.float16)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, **arrays)
        tmp.replace(path)
        return path

    # -- embedding -------------------------------------------------------------------------
    @property
    def embedder(self) -> Any:
        """The :class:`retriever.Embedder` of the model the router was trained on (made on first use)."""
        if self._embedder is None:
            from retriever import Embedder

            self._embedder = Embedder(self.meta["embedding_model"])
        return self._embedder

    @embedder.setter
    def embedder(self, embedder: Any) -> None:
        """Share an embedder; one of a different model is refused quietly and shared vectors are then ignored."""
        name = getattr(embedder, "name", None)
        if name is None or name == self.meta["embedding_model"]:
            self._embedder, self._shared_vectors = embedder, True
        else:
            self._embedder, self._shared_vectors = None, False

    def _vector(self, question: str, vector: np.ndarray | None) -> np.ndarray:
        if vector is None or not self._shared_vectors:
            vector = self.embedder.encode_query(question)
        vector = np.asarray(vector, dtype=np.float32).reshape(-1)
        if vector.shape[0] != self.dim:
            raise RouterError(f"the question vector has {vector.shape[0]} dimensions but the router expects "
                              f"{self.dim} ({self.meta['embedding_model']}); pass its embedding or vector=None")
        return vector

    # -- prediction ------------------------------------------------------------------------
    def _standardised(self, question: str) -> np.ndarray:
        return (lexical_features(question) - self.lex_mean) / self.lex_scale

    def probabilities(self, questions: list[str], vectors: np.ndarray) -> np.ndarray:
        """(n, classes) probabilities for questions and their (n, dim) embeddings."""
        lex = np.stack([self._standardised(q) for q in questions]) if questions else np.zeros((0, len(LEXICAL)))
        logits = np.hstack([np.asarray(vectors, dtype=np.float32), lex]) @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def decide(self, probs: np.ndarray, threshold: float | None = None) -> list[str]:
        """Routes for rows of probabilities: reason when P(reason) >= threshold, else argmax of the rest."""
        threshold = self.threshold if threshold is None else threshold
        if threshold is None:
            return [self.classes[i] for i in probs.argmax(axis=1)]
        r = self.classes.index("reason")
        others = [i for i in range(len(self.classes)) if i != r]
        return ["reason" if p[r] >= threshold else self.classes[others[int(np.argmax(p[others]))]] for p in probs]

    def predict(self, question: str, vector: np.ndarray | None = None) -> RouteDecision:
        """Route one question; ``vector`` is its embedding when already computed (shared with dense search)."""
        started = time.perf_counter()
        vector = self._vector(question, vector)
        probs = self.probabilities([question], vector[None, :])
        route = self.decide(probs)[0]
        scores = {c: round(float(p), 4) for c, p in zip(self.classes, probs[0], strict=True)}
        summary = ", ".join(f"P({c})={scores[c]:.2f}" for c in self.classes)
        rule = f"P(reason) {'>=' if route == 'reason' else '<'} {self.threshold:.3f}" if self.threshold is not None \
            else "argmax"
        features = dict(zip(LEXICAL, np.expm1(lexical_features(question)).round(2).tolist(), strict=True))
        return RouteDecision(route, scores, self.threshold, [f"{route}: {summary} ({rule})"], features,
                             round((time.perf_counter() - started) * 1000, 3))

    def explain(self, question: str, vector: np.ndarray | None = None) -> list[str]:
        """The decision, the lexical cues that pushed it most, and the nearest labelled training questions."""
        vector = self._vector(question, vector)
        decision = self.predict(question, vector)
        lines = list(decision.explanation)
        k = self.classes.index(decision.route)
        lex_coef = self.coef[:, self.dim:]
        push = (lex_coef[k] - lex_coef.mean(axis=0)) * self._standardised(question)
        for j in np.argsort(-np.abs(push))[:3]:
            if abs(push[j]) >= 0.05:
                toward = "toward" if push[j] > 0 else "away from"
                lines.append(f"cue {LEXICAL[j]}={decision.features[LEXICAL[j]]:g} pushes {push[j]:+.2f} "
                             f"{toward} {decision.route}")
        if self.neighbours is not None and self.neighbour_vectors is not None:
            sims = self.neighbour_vectors.astype(np.float32) @ vector
            texts, labels = self.neighbours["texts"], self.neighbours["labels"]
            for i in np.argsort(-sims)[:NEIGHBOURS]:
                lines.append(f"similar training question ({labels[i]}, cos {sims[i]:.2f}): {texts[i]!r}")
        return lines


# ---------------------------------------------------------------- calibration and training


def calibrate_threshold(router: Router, questions: list[str], target_reason_share: float,
                        vectors: np.ndarray | None = None) -> float:
    """The P(reason) threshold at which ``target_reason_share`` of ``questions`` go to the reasoner (RouteLLM)."""
    if not 0.0 <= target_reason_share <= 1.0:
        raise ValueError(f"target_reason_share must be in [0, 1], got {target_reason_share}")
    if not questions:
        raise ValueError("calibration needs at least one question")
    if vectors is None:
        vectors = router.embedder.encode(list(questions))
    p = np.sort(router.probabilities(list(questions), vectors)[:, router.classes.index("reason")])[::-1]
    k = round(target_reason_share * len(p))
    if k == 0:
        return float(np.nextafter(p[0], np.inf))
    if k == len(p):
        return float(p[-1])
    return float((p[k - 1] + p[k]) / 2)  # between the k-th and (k+1)-th most reason-like


def encode_cached(embedder: Any, texts: list[str], cache: Path | None = None) -> np.ndarray:
    """``embedder.encode(texts)``, reusing vectors kept in ``cache`` (an .npz keyed by text hash) so retraining
    after a data change embeds only the new questions."""
    import hashlib

    if cache is None:
        return embedder.encode(texts)
    keys = [hashlib.sha1(t.encode("utf-8")).hexdigest() for t in texts]
    known: dict[str, np.ndarray] = {}
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as npz:
            known = dict(zip(npz["keys"].tolist(), npz["vectors"], strict=True))
    missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in known}.items())
    if missing:
        print(f"embedding {len(missing)} new questions ({len(texts) - len(missing)} cached) ...", flush=True)
        for (key, _), vector in zip(missing, embedder.encode([t for _, t in missing]), strict=True):
            known[key] = vector
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(cache.name + ".tmp.npz")
        np.savez(tmp, keys=np.asarray(list(known)), vectors=np.stack(list(known.values())))
        tmp.replace(cache)
    return np.stack([known[k] for k in keys]).astype(np.float32)


def _metrics(gold: list[str], predicted: list[str]) -> dict[str, Any]:
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    return {"accuracy": round(float(accuracy_score(gold, predicted)), 4),
            "macro_f1": round(float(f1_score(gold, predicted, labels=list(CLASSES), average="macro")), 4),
            "confusion": confusion_matrix(gold, predicted, labels=list(CLASSES)).tolist()}


def train_router(items: list[dict[str, Any]], embedder: Any = None, target_reason_share: float | None = None,
                 seed: int = 0, cache: Path | None = None, vectors: np.ndarray | None = None) -> Router:
    """Fit the router on ``split == "train"`` items, score it on ``heldout`` and calibrate its threshold there.

    ``target_reason_share`` None calibrates to the held-out share of ``reason`` items (the threshold then
    routes as many questions to the reasoner as the labels do). ``vectors``: the items' embeddings, row
    for row, when already computed; ``cache``: a vector cache file (see :func:`encode_cached`).
    """
    from sklearn.linear_model import LogisticRegressionCV

    if embedder is None:
        from retriever import Embedder

        embedder = Embedder("embedded")
    train = [it for it in items if it.get("split", "train") == "train"]
    if not train or {it["label"] for it in train} != set(CLASSES):
        raise ValueError(f"training needs items of every class {CLASSES} with split 'train'")
    x_all = encode_cached(embedder, [it["text"] for it in items], cache) if vectors is None \
        else np.asarray(vectors, dtype=np.float32)
    if len(x_all) != len(items):
        raise ValueError(f"{len(x_all)} vectors for {len(items)} items")
    x_train = x_all[[i for i, it in enumerate(items) if it.get("split", "train") == "train"]]

    lex_train = np.stack([lexical_features(it["text"]) for it in train])
    lex_mean, lex_scale = lex_train.mean(axis=0), lex_train.std(axis=0) + 1e-6
    features = np.hstack([x_train, (lex_train - lex_mean) / lex_scale])
    y = [it["label"] for it in train]
    with warnings.catch_warnings():  # scikit-learn 1.8+ announces attribute renames of LogisticRegressionCV
        warnings.simplefilter("ignore", FutureWarning)
        model = LogisticRegressionCV(Cs=[0.3, 1, 3, 10, 30, 100], cv=5, scoring="f1_macro", max_iter=5000,
                                     class_weight="balanced", random_state=seed).fit(features, y)
    order = [list(model.classes_).index(c) for c in CLASSES]
    meta: dict[str, Any] = {
        "classes": list(CLASSES), "embedding_model": getattr(embedder, "name", "embedded"),
        "lexical_features": list(LEXICAL), "C": float(np.atleast_1d(model.C_)[0]), "seed": seed,
        "train_size": len(train), "heldout_size": 0,
        "train_counts": {c: y.count(c) for c in CLASSES},
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    neighbours = {"texts": [it["text"][:160] for it in train], "labels": y, "ids": [it.get("id") for it in train]}
    router = Router(model.coef_[order], model.intercept_[order], lex_mean, lex_scale, meta, neighbours, x_train)
    router.embedder = embedder
    for split in ("heldout", "probe", "sealed"):
        rows = [i for i, it in enumerate(items) if it.get("split") == split]
        if not rows:
            continue
        questions, gold = [items[i]["text"] for i in rows], [items[i]["label"] for i in rows]
        probs = router.probabilities(questions, x_all[rows])
        if split == "heldout":
            meta["heldout_size"] = len(rows)
            meta["heldout_argmax"] = _metrics(gold, router.decide(probs, threshold=None))
            share = gold.count("reason") / len(gold) if target_reason_share is None else target_reason_share
            router.threshold = calibrate_threshold(router, questions, share, vectors=x_all[rows])
            meta["target_reason_share"] = round(share, 4)
        meta[split] = _metrics(gold, router.decide(probs))
        meta[f"{split}_reason_share"] = round(router.decide(probs).count("reason") / len(gold), 4)
    return router


# ---------------------------------------------------------------- the `corecover route` command


def route_command(question: str, explain: bool = False, path: str | Path | None = None,
                  router: Router | None = None) -> dict[str, Any]:
    """What ``corecover route "QUESTION" [--json] [--explain]`` prints: route, scores, threshold, timings."""
    if not question or not question.strip():
        raise ValueError('the question is empty: pass one, e.g. corecover route "What is 17 * 23?"')
    router = router or Router.load(path)
    started = time.perf_counter()
    vector = router.embedder.encode_query(question.strip())
    embed_ms = (time.perf_counter() - started) * 1000
    decision = router.predict(question.strip(), vector)
    result = {"question": question.strip(), "route": decision.route, "scores": decision.scores,
              "threshold": decision.threshold, "embed_ms": round(embed_ms, 2),
              "classify_ms": decision.latency_ms, "features": decision.features}
    if explain:
        result["explanation"] = router.explain(question.strip(), vector)
    return result


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)[-60:]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train the verifiability router.")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="fit on the labelled set, score on its held-out split, save")
    train.add_argument("--data", type=Path, default=DEFAULT_SET)
    train.add_argument("--out", type=Path, default=DEFAULT_PATH)
    train.add_argument("--target-reason-share", type=float, default=None,
                       help="share of questions the threshold sends to the reasoner (default: the labels' share)")
    train.add_argument("--embedding-model", default="embedded")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--no-cache", action="store_true", help="re-embed every question (no vector cache)")
    args = parser.parse_args(argv)

    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from platformdirs import user_cache_dir

    from agent.router_data import read_items
    from retriever import Embedder

    embedder = Embedder(args.embedding_model)
    cache = None if args.no_cache else Path(user_cache_dir("corecover")) / f"router-vectors-{_slug(embedder.name)}.npz"
    router = train_router(read_items(args.data), embedder, target_reason_share=args.target_reason_share,
                          seed=args.seed, cache=cache)
    path = router.save(args.out)
    report = {k: router.meta.get(k) for k in ("C", "train_size", "heldout_size", "heldout_argmax", "heldout",
                                              "target_reason_share", "heldout_reason_share", "probe", "sealed")}
    print(json.dumps({"saved": str(path), "threshold": router.threshold, **report}, indent=1))


if __name__ == "__main__":
    main()
