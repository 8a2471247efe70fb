"""Query embeddings without torch: an ONNX export of the sentence-transformers model, run by
onnxruntime with the model's own fast tokenizer (PyPI ``tokenizers``).

Importing torch and sentence-transformers costs ~10 s on two cores, onnxruntime and tokenizers
well under one, so the query path (``Embedder.encode_query``: routing, search) runs the export.
It is made once per model into ``<user cache>/corecover/encoders/`` (needs torch, ~10 s) and
kept only when it reproduces sentence-transformers on probe texts (cosine >= 0.9999, batched
and padded like real calls). Each load checks the files' sizes and re-embeds one probe: a
missing, corrupt or stale export is made again; when that cannot be done the error says why
and how (never a silent fallback to other vectors).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from retriever.errors import RetrieverError

FORMAT = "corecover-onnx-encoder/1"
MIN_COSINE = 0.9999
MODEL_FILE, TOKENIZER_FILE, MANIFEST_FILE = "model.onnx", "tokenizer.json", "manifest.json"
PROBES = (
    "What is 17 * 23?",
    "Who painted the Mona Lisa?",
    "How many years passed between the birth of Isaac Newton and the birth of Albert Einstein?",
    "Ünïcödé façade — naïve café, 東京, ½ + ¼ = ¾",
    "  leading and trailing spaces  ",
    "A passage far longer than the encoder reads: " + "the quick brown fox jumps over the lazy dog " * 60,
)
EXPORT_HINT = "set CORECOVER_QUERY_ENCODER=sentence-transformers to embed queries with sentence-transformers instead"


def cache_root() -> Path:
    """``<user cache>/corecover/encoders`` (``XDG_CACHE_HOME`` moves the user cache)."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("corecover")) / "encoders"


def fingerprint(source: Path | str) -> str:
    """What identifies the model's weights cheaply: its files' names, sizes and change times."""
    path = Path(source)
    if not path.is_dir():
        return str(source)  # a hub name: its export is made once and kept
    parts = [f"{f.relative_to(path).as_posix()}:{st.st_size}:{st.st_mtime_ns}"
             for f in sorted(path.rglob("*")) if f.is_file() and (st := f.stat())]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def export_dir(name: str, root: Path | None = None, stamp: str = "") -> Path:
    """The folder holding the export of the model called ``name`` (``embedded`` or a path/hub name)
    whose files have the fingerprint ``stamp``: two installs of one model (two checkouts, two
    virtualenvs) each keep their own export instead of replacing each other's."""
    slug = "".join(c if c.isalnum() or c in "-_." else "-" for c in Path(name).name)[-40:] or "model"
    key = hashlib.sha256(f"{name}\n{stamp}".encode()).hexdigest()[:12]
    return (root or cache_root()) / f"{slug}-{key}"


class OnnxEncoder:
    """Encodes texts into float32, L2-normalised rows with onnxruntime; ``threads`` per call."""

    def __init__(self, directory: Path, threads: int = 1) -> None:
        self.directory = Path(directory)
        self.manifest = read_manifest(self.directory)
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as e:
            raise RetrieverError(f"the query encoder needs onnxruntime and tokenizers ({e}); run "
                                 "`pip install onnxruntime tokenizers`") from None
        try:
            self.tokenizer = Tokenizer.from_file(str(self.directory / TOKENIZER_FILE))
            self.session = _session(ort, self.directory, threads)
        except Exception as e:  # onnxruntime and tokenizers raise their own types on bad files
            raise CorruptExport(f"{self.directory}: cannot load the ONNX query encoder ({type(e).__name__})") from None
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=int(self.manifest["max_seq_length"]))
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.lowercase = bool(self.manifest.get("do_lower_case"))

    @property
    def dim(self) -> int:
        return int(self.manifest["dimension"])

    def features(self, texts: list[str]) -> dict[str, np.ndarray]:
        """Token ids, attention mask and type ids, padded to the longest text (as sentence-transformers)."""
        texts = [t.strip().lower() if self.lowercase else t.strip() for t in texts]
        encodings = self.tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encodings)
        arrays = {name: np.zeros((len(encodings), width), dtype=np.int64)
                  for name in ("input_ids", "attention_mask", "token_type_ids")}
        for row, e in enumerate(encodings):
            arrays["input_ids"][row, :len(e.ids)] = e.ids
            arrays["attention_mask"][row, :len(e.ids)] = e.attention_mask
            arrays["token_type_ids"][row, :len(e.ids)] = e.type_ids
        return {name: arrays[name] for name in self.inputs}

    def encode(self, texts: list[str]) -> np.ndarray:
        """An (n, dim) float32 array of unit rows."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.session.run(None, self.features(list(texts)))[0].astype(np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)

    def check(self) -> None:
        """Raise CorruptExport unless the first probe still embeds to the vector recorded at export."""
        recorded = np.asarray(self.manifest["probe_vector"], dtype=np.float32)
        if float(self.encode([PROBES[0]])[0] @ recorded) < MIN_COSINE:
            raise CorruptExport(f"{self.directory}: the ONNX query encoder no longer gives its recorded vectors")


def _session(ort: Any, directory: Path, threads: int) -> Any:
    """An onnxruntime session of the export. Optimising the graph takes ~0.4 s of every cold
    start, so the optimised graph is saved once per onnxruntime version beside the export and
    later loads skip that step. Its vectors are the export's (``check`` re-embeds a probe)."""
    optimised = directory / f"model.ort-{ort.__version__}.onnx"
    if optimised.is_file():
        options = _session_options(ort, threads)
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        with contextlib.suppress(Exception):  # unreadable: made again below from the export
            return ort.InferenceSession(str(optimised), options, providers=["CPUExecutionProvider"])
    options = _session_options(ort, threads)
    # the extended level only: the "all" level adds layouts tied to this CPU
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    staging = directory / f".{optimised.name}.tmp-{uuid.uuid4().hex[:8]}"
    options.optimized_model_filepath = str(staging)
    session = ort.InferenceSession(str(directory / MODEL_FILE), options, providers=["CPUExecutionProvider"])
    with contextlib.suppress(OSError):  # a read-only cache: every load optimises again
        os.replace(staging, optimised)
    with contextlib.suppress(OSError):
        staging.unlink()
    return session


def _session_options(ort: Any, threads: int) -> Any:
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = threads
    options.log_severity_level = 3
    return options


class CorruptExport(RetrieverError):
    """An export folder that is missing, unreadable or gives other vectors than it recorded."""


def read_manifest(directory: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((directory / MANIFEST_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CorruptExport(f"{directory}: no ONNX query encoder there") from None
    except (OSError, ValueError) as e:
        raise CorruptExport(f"{directory}: unreadable encoder manifest ({type(e).__name__})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CorruptExport(f"{directory}: not a {FORMAT} export")
    for name, size in (manifest.get("files") or {}).items():
        file = directory / name
        if not file.is_file() or file.stat().st_size != size:
            raise CorruptExport(f"{directory}: {name} is missing or has another size than recorded")
    return manifest


def load_encoder(name: str, source: Path | str, *, root: Path | None = None, threads: int = 1) -> OnnxEncoder:
    """The checked ONNX encoder of the model ``source`` (known as ``name``), exported first if needed."""
    stamp = fingerprint(source)
    directory = export_dir(name, root, stamp)
    try:
        encoder = OnnxEncoder(directory, threads)
        if encoder.manifest.get("source_fingerprint") != stamp:
            raise CorruptExport(f"{directory}: exported from other model files")
        encoder.check()
        return encoder
    except CorruptExport:
        pass
    export(source, directory, stamp)
    try:
        encoder = OnnxEncoder(directory, threads)
        encoder.check()
    except CorruptExport as e:  # made just now and still wrong: say so, never use other vectors
        raise RetrieverError(f"{e}; delete {directory} and retry, or {EXPORT_HINT}") from None
    return encoder


def export(source: Path | str, directory: Path, stamp: str | None = None) -> dict[str, Any]:
    """Export the sentence-transformers model at ``source`` to ONNX in ``directory`` (atomically),
    after checking it reproduces sentence-transformers; returns the manifest."""
    from retriever.storage import index_lock

    directory = Path(directory)
    stamp = stamp or fingerprint(source)
    with contextlib.ExitStack() as stack:
        try:
            directory.parent.mkdir(parents=True, exist_ok=True)
            stack.enter_context(index_lock(directory))  # .NAME.lock beside it
        except OSError as e:
            raise _unwritable(directory, e) from None
        with contextlib.suppress(CorruptExport):  # another process may have made it while we waited
            made = OnnxEncoder(directory)
            if made.manifest.get("source_fingerprint") == stamp:
                made.check()
                return made.manifest
        print(f"exporting the query encoder to ONNX (once) into {directory} ...", file=sys.stderr, flush=True)
        tmp = directory.parent / f".{directory.name}.tmp-{uuid.uuid4().hex[:8]}"
        try:
            tmp.mkdir()
            manifest = _export_into(source, tmp, stamp)
            old = directory.parent / f".{directory.name}.old-{uuid.uuid4().hex[:8]}"
            if directory.exists():
                os.rename(directory, old)
            os.rename(tmp, directory)
            shutil.rmtree(old, ignore_errors=True)
        except OSError as e:
            raise _unwritable(directory, e) from None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return manifest


def _unwritable(directory: Path, error: OSError) -> RetrieverError:
    return RetrieverError(f"cannot write the ONNX query encoder into {directory.parent} ({error.strerror or error}): "
                          "make that folder writable or point XDG_CACHE_HOME at a writable one")


def _export_into(source: Path | str, out: Path, stamp: str) -> dict[str, Any]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError as e:
        raise RetrieverError(f"making the ONNX query encoder needs torch and sentence-transformers ({e}); "
                             f"install them, or {EXPORT_HINT}") from None
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    started = time.perf_counter()
    st = SentenceTransformer(str(source), device="cpu")
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in st.tokenizer.model_input_names]

    class Pipeline(torch.nn.Module):
        """Every module of the sentence-transformers model, from token ids to the sentence vector."""

        def __init__(self) -> None:
            super().__init__()
            self.st = st

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            return self.st(dict(zip(names, inputs, strict=True)))["sentence_embedding"]

    sample = st.tokenizer(list(PROBES[:2]), padding=True, return_tensors="pt")
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")  # the tracer's notes on constant shapes checks
        axes = {n: {0: "batch", 1: "tokens"} for n in names} | {"embedding": {0: "batch"}}
        torch.onnx.export(Pipeline().eval(), tuple(sample[n] for n in names), str(out / MODEL_FILE),
                          input_names=names, output_names=["embedding"], dynamic_axes=axes, opset_version=17,
                          dynamo=False)
    st.tokenizer.backend_tokenizer.save(str(out / TOKENIZER_FILE))
    manifest: dict[str, Any] = {
        "format": FORMAT, "source": str(source), "source_fingerprint": stamp,
        "dimension": int(st.get_embedding_dimension()), "max_seq_length": int(st.max_seq_length),
        "do_lower_case": bool(getattr(st[0], "do_lower_case", False)), "opset": 17,
        "torch": torch.__version__, "files": {}, "probe_vector": [],
    }
    _write_manifest(out, manifest)
    # the kept export must reproduce sentence-transformers, batched and padded like real calls
    reference = st.encode(list(PROBES), normalize_embeddings=True, convert_to_numpy=True)
    encoder = OnnxEncoder(out)
    ours = np.vstack([encoder.encode(list(PROBES)), encoder.encode([PROBES[0]])])
    cosine = float(min((ours[:-1] * reference).sum(axis=1).min(), ours[-1] @ reference[0]))
    if cosine < MIN_COSINE:
        raise RetrieverError(f"the ONNX export of {source} does not reproduce sentence-transformers "
                             f"(cosine {cosine:.6f} < {MIN_COSINE}); {EXPORT_HINT}")
    manifest.update(probe_vector=[float(x) for x in ours[-1]], min_cosine=round(cosine, 8),
                    seconds=round(time.perf_counter() - started, 1), created=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    _write_manifest(out, manifest)
    return manifest


def _write_manifest(out: Path, manifest: dict[str, Any]) -> None:
    manifest["files"] = {f.name: f.stat().st_size for f in sorted(out.iterdir()) if f.name != MANIFEST_FILE}
    (out / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
