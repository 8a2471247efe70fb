"""The ONNX query encoder: the same vectors and search results as sentence-transformers, no torch
on the query path, and a missing, corrupt or unwritable export handled in one clear line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from retriever import Embedder, RetrieverError
from retriever.onnx_encoder import MIN_COSINE, MODEL_FILE, cache_root, export_dir, fingerprint, load_encoder

QUESTIONS = ["What is 17 * 23?", "who painted the mona lisa", "When did the Berlin Wall fall?",
             "how many moons does jupiter have", "Ünïcödé café question — naïve?", "x " * 400]
ROOT = Path(__file__).resolve().parents[2]


def st_vector(embedder: Embedder, text: str) -> np.ndarray:
    """Today's query path: sentence-transformers on torch."""
    return embedder._encode_query_st(text)


def same_hits(index, questions: list[str], embedder: Embedder, k: int = 10) -> None:
    for q in questions:
        for mode in ("dense", "hybrid"):
            ours = [h.id for h in index.search(q, k, mode, query_vector=embedder.encode_query(q))]
            theirs = [h.id for h in index.search(q, k, mode, query_vector=st_vector(embedder, q))]
            assert ours == theirs, (q, mode)


def test_query_vectors_and_hits_match_sentence_transformers(embedder, slice_index) -> None:
    assert embedder.query_encoder == "onnx"
    for q in QUESTIONS:
        ours, theirs = embedder.encode_query(q), st_vector(embedder, q)
        assert ours.dtype == np.float32 and ours.shape == (384,)
        assert abs(float(np.linalg.norm(ours)) - 1) < 1e-5
        assert float(ours @ theirs) >= MIN_COSINE, q
    same_hits(slice_index, QUESTIONS[:5], embedder)
    assert embedder.onnx.manifest["min_cosine"] >= MIN_COSINE  # checked when it was exported


@pytest.mark.slow
def test_nq_open_dev_questions_give_identical_results(shared_data, embedder, slice_index) -> None:
    """All 3,610 NQ-open dev questions, each embedded as a query is (alone): cosine >= 0.9999 to
    today's sentence-transformers query vector, and the same dense top 20 on the default index
    (when it is built; else on the test slice). Hybrid search fuses the dense top 20 by rank with
    BM25, so the same dense top 20 gives the same hybrid results."""
    from retriever import Index, default_index_dir

    path = shared_data / "knowledge" / "nq_open_dev.jsonl"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    questions = [json.loads(line)["question"] for line in path.read_text().splitlines() if line.strip()]
    built = (default_index_dir() / "manifest.json").is_file()
    index = Index.load(default_index_dir(), embedder, verify=False) if built else slice_index
    assert len(questions) == 3610
    for q in questions:
        ours, theirs = embedder.encode_query(q), st_vector(embedder, q)
        assert float(ours @ theirs) >= MIN_COSINE, q
        assert ([h.id for h in index.search(q, 20, "dense", query_vector=ours)]
                == [h.id for h in index.search(q, 20, "dense", query_vector=theirs)]), (q, len(index))


def test_the_query_path_never_imports_torch(slice_dir, embedder) -> None:
    """`corecover route` and `corecover index search` in a fresh process: no torch, transformers,
    sentence-transformers (nor LangGraph, nor the eval and training commands)."""
    embedder.encode_query("warm")  # the export exists before the fresh processes look for it
    heavy = ["torch", "transformers", "sentence_transformers", "langgraph", "eval.cli", "training.cli"]
    for args in (["route", "--json", "What is 17 * 23?"],
                 ["index", "search", "--json", "Mona Lisa", "--index", str(slice_dir)]):
        code = ("import sys\nfrom agent.cli import main\nsys.argv = ['corecover', *sys.argv[1:]]\n"
                "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
                f"print('LOADED', [m for m in {heavy!r} if m in sys.modules])")
        done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT,
                              timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.strip().splitlines()[-1] == "LOADED []", (args, done.stdout[-500:])


@pytest.mark.slow
def test_missing_or_corrupt_export_is_made_again(tmp_path, embedder) -> None:
    root = tmp_path / "encoders"
    first = load_encoder(embedder.name, embedder.source, root=root)
    model = export_dir(embedder.name, root, fingerprint(embedder.source)) / MODEL_FILE
    stamp = first.manifest["created"]
    vector = first.encode([QUESTIONS[0]])[0]

    data = bytearray(model.read_bytes())  # same size, weights damaged in the middle
    data[len(data) // 2:len(data) // 2 + 4096] = bytes(4096)
    model.write_bytes(bytes(data))
    again = load_encoder(embedder.name, embedder.source, root=root)
    assert np.allclose(again.encode([QUESTIONS[0]])[0], vector, atol=1e-6)

    model.write_bytes(b"not an onnx file")  # cut short
    again = load_encoder(embedder.name, embedder.source, root=root)
    assert np.allclose(again.encode([QUESTIONS[0]])[0], vector, atol=1e-6)
    model.unlink()  # gone
    assert load_encoder(embedder.name, embedder.source, root=root).manifest["created"] >= stamp

    [optimised] = model.parent.glob("model.ort-*.onnx")  # the saved optimised graph: remade when damaged
    optimised.write_bytes(b"not an onnx file")
    again = load_encoder(embedder.name, embedder.source, root=root)
    assert np.allclose(again.encode([QUESTIONS[0]])[0], vector, atol=1e-6)
    assert optimised.stat().st_size > 1_000_000


@pytest.mark.slow
def test_two_installs_of_one_model_keep_their_own_exports(tmp_path, embedder) -> None:
    """Two virtualenvs with the same model package (other file times): neither export replaces the
    other's, so a second checkout never makes the first one's query path fall back to torch."""
    import shutil

    root, copy = tmp_path / "encoders", tmp_path / "second-install"
    shutil.copytree(embedder.source, copy, copy_function=shutil.copy)  # new file times, as pip gives
    first = load_encoder(embedder.name, embedder.source, root=root)
    second = load_encoder(embedder.name, copy, root=root)
    assert first.directory != second.directory
    again = load_encoder(embedder.name, embedder.source, root=root)
    assert again.manifest["created"] == first.manifest["created"]  # not made again


def test_unwritable_cache_and_bad_settings_are_one_line_errors(tmp_path, monkeypatch, embedder) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(RetrieverError, match=r"cannot write the ONNX query encoder into .*XDG_CACHE_HOME") as info:
        load_encoder(embedder.name, embedder.source, root=blocker / "encoders")
    assert "\n" not in str(info.value)
    monkeypatch.setenv("CORECOVER_QUERY_ENCODER", "tensorflow")
    with pytest.raises(RetrieverError, match="CORECOVER_QUERY_ENCODER='tensorflow' is not one of onnx"):
        Embedder()
    assert cache_root().name == "encoders"
