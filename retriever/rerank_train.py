"""Train the cross-encoder reranker, once, into a cache folder (`corecover index build --rerank`).

Data: questions with answer strings (by default the even-numbered NQ-open dev questions shipped
in retriever/data; the odd-numbered ones are never read here), candidates mined from the index's
own hybrid search, labels by answer-string match (DPR-style distant supervision): a candidate
holding a gold answer is a positive, the others are hard negatives. Every `tune_every`-th
question is held back from training to choose how much the hybrid rank still counts.

Model: MiniLM (the embedder's own weights, first `layers` layers) with a one-logit head, trained
by sentence-transformers' CrossEncoderTrainer (seeded, checkpointed: a rerun resumes), exported
to ONNX with int8 weights for onnxruntime. torch and sentence-transformers load only here.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from retriever.answers import has_answer, normalize, padded
from retriever.errors import RetrieverError
from retriever.rerank import (
    CONFIG_FILE,
    FORMAT,
    FORMAT_VERSION,
    MODEL_FILE,
    TOKENIZER_FILE,
    Reranker,
    RerankSettings,
    combine,
    default_rerank_dir,
    settings_dict,
    window,
    write_reranker,
)

QUESTIONS = Path(__file__).parent / "data" / "rerank_questions.jsonl"


@dataclass
class RerankTrainConfig:
    """Everything that decides the trained reranker (its hash names the work folder)."""

    questions: str | None = None        # JSONL of {"question", "answers"}; None: the shipped NQ-open even half
    base_model: str = "embedded"        # MiniLM folder (the packaged all-MiniLM-L6-v2 by default)
    # the largest shape whose p50 fits 150 ms end to end on 2 cores (measured: 6 layers x 30 x 128
    # tokens 662 ms, 4 x 30 x 96 259 ms, 2 x 30 x 96 151 ms, 2 x 20 x 64 65 ms, + hybrid 16 ms)
    layers: int = 2                     # transformer layers kept (fewer: faster, weaker)
    max_tokens: int = 64                # question + passage, in tokens
    window: int = 40                    # passage words read around the question's words (0: all)
    depth: int = 20                     # hybrid candidates mined per question (and reranked at query time)
    positives: int = 2                  # per training question
    negatives: int = 6                  # hard negatives per training question
    epochs: float = 2.0
    batch_size: int = 16
    learning_rate: float = 5e-5
    warmup_ratio: float = 0.1
    seed: int = 0
    tune_every: int = 4                 # every 4th question tunes `prior` instead of training
    priors: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
    limit: int | None = None            # use only the first N questions (smoke runs, tests)
    save_steps: int = 100
    extra: dict = field(default_factory=dict)

    def key(self) -> str:
        data = {k: v for k, v in asdict(self).items() if k not in ("save_steps",)}
        data["questions_sha"] = hashlib.sha256(Path(self.questions or QUESTIONS).read_bytes()).hexdigest()
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def load_questions(path: str | Path | None = None, limit: int | None = None) -> list[dict]:
    """Questions with normalised answers from a JSONL file (`question`, `answers` or `answer`)."""
    path = Path(path or QUESTIONS).expanduser()
    try:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, ValueError) as e:
        raise RetrieverError(f"cannot read reranker training questions {path}: {e}") from None
    questions = []
    for n, row in enumerate(rows, 1):
        answers = row.get("answers", row.get("answer")) if isinstance(row, dict) else None
        if not isinstance(row, dict) or not isinstance(row.get("question"), str) or not isinstance(answers, list):
            raise RetrieverError(f"{path}:{n}: each line needs a question string and a list of answers")
        answers = [a for a in (normalize(str(x)) for x in answers) if a]
        if answers:
            questions.append({"question": row["question"], "answers": answers})
    if not questions:
        raise RetrieverError(f"{path}: no questions with answers")
    return questions[:limit] if limit else questions


def passage_text(index, question: str, row: int, words: int) -> str:
    """What the cross-encoder reads of passage `row` for `question` (as at query time)."""
    p = index.passages[row]
    return window(question, p.title, p.text, words)


def mine(index, questions: list[dict], depth: int, progress: bool = True) -> list[dict]:
    """Each question's hybrid top-`depth` passage rows and whether each holds a gold answer."""
    from tqdm.auto import tqdm

    from retriever.index import embedding_text

    rows_of = {p.id: i for i, p in enumerate(index.passages)}
    vectors = index.embedder.encode([q["question"] for q in questions])
    norm: dict[int, str] = {}
    mined = []
    for q, vector in tqdm(list(zip(questions, vectors, strict=True)), desc="mining candidates", unit="question",
                          disable=not progress):
        ids = [rows_of[h.id] for h in index.search(q["question"], depth, "hybrid", query_vector=vector, rerank=False)]
        for i in ids:
            norm.setdefault(i, padded(embedding_text(index.passages[i])))
        mined.append({**q, "rows": ids, "labels": [has_answer(norm[i], q["answers"]) for i in ids]})
    return mined


def examples(index, mined: list[dict], config: RerankTrainConfig) -> list[dict]:
    """(question, passage, label) rows: each question's first positives and its top hard negatives."""
    rng = random.Random(config.seed)
    out = []
    for m in mined:
        pos = [i for i, y in zip(m["rows"], m["labels"], strict=True) if y][: config.positives]
        neg = [i for i, y in zip(m["rows"], m["labels"], strict=True) if not y][: config.negatives]
        if not pos or not neg:
            continue
        out += [{"question": m["question"], "passage": passage_text(index, m["question"], i, config.window),
                 "label": float(i in pos)}
                for i in pos + neg]
    rng.shuffle(out)
    return out


def cross_encoder(config: RerankTrainConfig):
    """A fresh cross-encoder on the base MiniLM, cut to `config.layers` layers."""
    from sentence_transformers import CrossEncoder

    from retriever.embedder import embedded_model_path

    base = embedded_model_path() if config.base_model == "embedded" else Path(config.base_model).expanduser()
    model = CrossEncoder(str(base), num_labels=1, max_length=config.max_tokens, device="cpu")
    bert = model.model.base_model
    if config.layers < len(bert.encoder.layer):
        bert.encoder.layer = bert.encoder.layer[: config.layers]
        model.model.config.num_hidden_layers = config.layers
    return model


def train_model(config: RerankTrainConfig, rows: list[dict], work: Path, progress: bool = True):
    """Train (or resume training) the cross-encoder on `rows`; returns the trained CrossEncoder."""
    import transformers
    from datasets import Dataset
    from sentence_transformers.cross_encoder import CrossEncoderTrainer, CrossEncoderTrainingArguments
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss

    transformers.set_seed(config.seed)
    model = cross_encoder(config)
    data = Dataset.from_list(rows)
    args = CrossEncoderTrainingArguments(
        output_dir=str(work / "checkpoints"), num_train_epochs=config.epochs,
        per_device_train_batch_size=config.batch_size, learning_rate=config.learning_rate,
        warmup_steps=config.warmup_ratio, seed=config.seed, data_seed=config.seed, use_cpu=True,
        save_strategy="steps", save_steps=config.save_steps, save_total_limit=1, logging_steps=25,
        report_to="none", disable_tqdm=not progress, dataloader_num_workers=0)
    positives = sum(r["label"] for r in rows)
    loss = BinaryCrossEntropyLoss(model, pos_weight=_tensor((len(rows) - positives) / max(positives, 1)))
    trainer = CrossEncoderTrainer(model=model, args=args, train_dataset=data, loss=loss)
    resume = any((work / "checkpoints").glob("checkpoint-*"))
    trainer.train(resume_from_checkpoint=True if resume else None)
    return model


def _tensor(value: float):
    import torch

    return torch.tensor(value)


def export_onnx(model, folder: Path, max_tokens: int) -> None:
    """The cross-encoder as an int8 ONNX graph plus its tokenizer.json, into `folder`."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    net = model.model.eval()
    tokenizer = model.tokenizer
    sample = tokenizer(["a question"] * 2, ["a passage to read"] * 2, return_tensors="pt", padding=True)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    full = folder / "model-fp32.onnx"
    axes = {n: {0: "batch", 1: "tokens"} for n in names} | {"logits": {0: "batch"}}
    with torch.no_grad():
        torch.onnx.export(net, tuple(sample[n] for n in names), str(full), input_names=names,
                          output_names=["logits"], dynamic_axes=axes, opset_version=17, dynamo=False)
    check_export(net, tokenizer, full)
    quantize_dynamic(str(full), str(folder / MODEL_FILE), weight_type=QuantType.QInt8)
    full.unlink()
    tokenizer.backend_tokenizer.save(str(folder / TOKENIZER_FILE))


def check_export(net, tokenizer, path: Path) -> None:
    """The ONNX graph must give torch's logits on a padded batch of other lengths than the trace's."""
    import onnxruntime as ort
    import torch

    pairs = (["who wrote it?", "when did the war end and who signed the treaty"],
             ["A short passage.", "A longer passage about the treaty, signed in 1648 at Westphalia. " * 4])
    batch = tokenizer(*pairs, return_tensors="pt", padding=True, truncation=True)
    with torch.no_grad():
        expected = net(**batch).logits.numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {k: v.numpy() for k, v in batch.items()})[0]
    if not np.allclose(got, expected, atol=1e-3):
        raise RetrieverError(f"the ONNX export of the reranker disagrees with torch ({got.ravel()} vs {expected.ravel()})")


def recall_at(mined: list[dict], orders: list[np.ndarray], k: int = 5) -> float:
    return 100 * float(np.mean([any(m["labels"][i] for i in order[:k]) for m, order in zip(mined, orders, strict=True)]))


def tune(reranker: Reranker, index, mined: list[dict], priors: tuple[float, ...], progress: bool = True) -> dict:
    """Recall@5 of each prior on held-back questions (the reranker's logits computed once)."""
    from tqdm.auto import tqdm

    logits = [reranker.score(m["question"], [passage_text(index, m["question"], i, reranker.settings.window)
                                             for i in m["rows"]])
              for m in tqdm(mined, desc="tuning the rank prior", unit="question", disable=not progress)]
    table = {"hybrid": recall_at(mined, [np.arange(len(m["rows"])) for m in mined])}
    for prior in priors:
        settings = RerankSettings(**{**asdict(reranker.settings), "prior": prior})
        table[prior] = recall_at(mined, [np.argsort(-combine(s, settings), kind="stable") for s in logits])
    return table


def build_reranker(index, out: str | Path | None = None, config: RerankTrainConfig | None = None,
                   work_dir: str | Path | None = None, progress: bool = True) -> Path:
    """Mine, train, export and tune the reranker for `index`; write it atomically to `out`."""
    config = config or RerankTrainConfig()
    out = Path(out).expanduser() if out else default_rerank_dir()
    if work_dir is None:
        from platformdirs import user_cache_dir

        work_dir = Path(user_cache_dir("corecover")) / "rerank-work"
    work = Path(work_dir).expanduser() / config.key()
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    questions = load_questions(config.questions, config.limit)
    mined = mine(index, questions, config.depth, progress)
    train = [m for n, m in enumerate(mined) if n % config.tune_every != config.tune_every - 1]
    held = [m for n, m in enumerate(mined) if n % config.tune_every == config.tune_every - 1]
    rows = examples(index, train, config)
    if not rows:
        raise RetrieverError("no training pairs: no question has both a passage with its answer and one without "
                             "among its hybrid candidates")
    try:
        model = train_model(config, rows, work, progress)
    except ImportError as e:
        raise RetrieverError(f"training the reranker needs the train extra ({e}); "
                             "run `pip install 'corecover[train]'`") from None
    train_seconds = time.perf_counter() - started
    staging = work / "export"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    export_onnx(model, staging, config.max_tokens)
    base = RerankSettings(depth=config.depth, max_tokens=config.max_tokens, prior=0.0, window=config.window)
    (staging / CONFIG_FILE).write_text(json.dumps({"format": FORMAT, "format_version": FORMAT_VERSION,
                                                   "settings": settings_dict(base)}))
    held = [m for m in held if any(m["labels"])]  # the prior cannot change the others' recall
    table = tune(Reranker(staging), index, held, config.priors, progress) if held else {}
    prior = max(config.priors, key=lambda p: (table.get(p, 0.0), p)) if table else base.prior
    settings = RerankSettings(**{**asdict(base), "prior": prior})

    def fill(tmp: Path) -> dict:
        for name in (MODEL_FILE, TOKENIZER_FILE):
            shutil.copy2(staging / name, tmp / name)
        return {"settings": settings_dict(settings), "config": {**asdict(config), "key": config.key()},
                "training": {"questions": len(questions), "train_questions": len(train), "pairs": len(rows),
                             "positives": int(sum(r["label"] for r in rows)), "tune_questions": len(held),
                             "tune_recall_at_5": {str(k): round(v, 2) for k, v in table.items()},
                             "seconds": round(time.perf_counter() - started, 1),
                             "train_seconds": round(train_seconds, 1)},
                "index": {"corpus_hash": index.manifest.get("corpus_hash"), "count": len(index)},
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}

    write_reranker(out, fill)
    shutil.rmtree(work, ignore_errors=True)  # the model now lives in `out`
    return out
