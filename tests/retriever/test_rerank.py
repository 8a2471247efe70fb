"""The cross-encoder reranker: trained for real (tiny: 1 layer, a few steps) on the corpus slice,
exported to ONNX, loaded without torch, and applied the same way by every entry point."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import numpy as np
import pytest

from retriever import Index, RetrieverError
from retriever.answers import has_answer, normalize, padded
from retriever.rerank import Reranker, RerankSettings, combine, is_built, window
from retriever.rerank_train import RerankTrainConfig, build_reranker, load_questions

QUERY = "famous painting by Leonardo"


def test_answer_match_is_whole_words_after_normalising():
    assert normalize("The  Mona-Lisa!") == "mona lisa"
    assert has_answer(padded("It was painted in 1503, by Leonardo."), [normalize("1503")])
    assert not has_answer(padded("It was painted in 15030."), [normalize("1503")])


def test_window_reads_the_sentences_nearest_the_question():
    text = "Alpha is a town. It was founded in 1200 by Bob. The river Zed flows through it. Carol is its mayor."
    assert window("who founded the town", "Alpha", text, 12) == "Alpha\nAlpha is a town. It was founded in 1200 by Bob."
    assert window("which river flows through Alpha", "Alpha", text, 7) == "Alpha\nThe river Zed flows through it."
    assert window("anything", "Alpha", text, 0) == f"Alpha\n{text}"
    assert window("anything", "", "short text", 50) == "short text"


def test_combine_prior_moves_between_the_two_orders():
    logits = np.array([0.0, 1.0, 3.0])
    assert list(np.argsort(-combine(logits, RerankSettings(prior=0.0)))) == [2, 1, 0]
    assert list(np.argsort(-combine(logits, RerankSettings(prior=100.0)))) == [0, 1, 2]


@pytest.mark.parametrize("bad", [{"depth": 0}, {"max_tokens": 4}, {"prior": -1.0}])
def test_bad_settings_are_refused(bad):
    with pytest.raises(RetrieverError):
        RerankSettings(**bad)


def test_bad_training_questions_give_one_line(tmp_path):
    bad = tmp_path / "q.jsonl"
    bad.write_text('{"question": "who?"}\n')
    with pytest.raises(RetrieverError, match="list of answers"):
        load_questions(bad)
    bad.write_text("not json\n")
    with pytest.raises(RetrieverError, match="cannot read"):
        load_questions(bad)


def test_shipped_questions_are_the_even_half_only():
    questions = load_questions()
    assert len(questions) > 1000
    from retriever.rerank_train import QUESTIONS

    lines = [json.loads(row)["nq_line"] for row in QUESTIONS.read_text(encoding="utf-8").splitlines()]
    assert all(n % 2 == 0 for n in lines) and len(set(lines)) == len(lines)


def test_missing_reranker(tmp_path, monkeypatch, slice_dir, embedder):
    monkeypatch.setenv("CORECOVER_RERANK_DIR", str(tmp_path / "none"))
    index = Index.load(slice_dir, embedder)
    plain = [h.id for h in index.search(QUERY, 5, rerank=False)]
    assert [h.id for h in index.search(QUERY, 5)] == plain  # off by default
    with pytest.raises(RetrieverError, match="index build --rerank"):
        index.search(QUERY, 5, rerank=True)


@pytest.fixture(scope="module")
def tiny_reranker(tmp_path_factory, slice_passages, slice_dir, embedder):
    """A 1-layer cross-encoder trained for a few steps on questions made from the slice's titles."""
    folder = tmp_path_factory.mktemp("rerank")
    questions = folder / "questions.jsonl"
    with questions.open("w") as f:
        for p in slice_passages[:40]:
            words = p.text.split()
            f.write(json.dumps({"question": " ".join(words[3:12]), "answer": [p.title]}) + "\n")
    config = RerankTrainConfig(questions=str(questions), layers=1, max_tokens=64, depth=8, epochs=1.0,
                               batch_size=8, priors=(0.0, 1.0))
    path = build_reranker(Index.load(slice_dir, embedder), folder / "model", config, work_dir=folder / "work",
                          progress=False)
    return path


@pytest.mark.slow
def test_trained_reranker_folder(tiny_reranker):
    assert is_built(tiny_reranker)
    manifest = json.loads((tiny_reranker / "manifest.json").read_text())
    assert manifest["format"] == "corecover-reranker" and manifest["settings"]["depth"] == 8
    assert manifest["training"]["pairs"] > 0 and manifest["settings"]["prior"] in (0.0, 1.0)
    assert {"model.onnx", "tokenizer.json"} <= set(manifest["files"])
    scores = Reranker(tiny_reranker).score("a question", ["one passage", "another passage, longer " * 50])
    assert scores.shape == (2,) and np.isfinite(scores).all()


@pytest.mark.slow
def test_query_path_imports_no_torch(tiny_reranker):
    code = ("import sys; from retriever.rerank import Reranker; "
            f"Reranker({str(tiny_reranker)!r}).score('q', ['a', 'b']); "
            "print('torch' in sys.modules, 'transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]


@pytest.mark.slow
def test_reranked_hits_reorder_the_hybrid_candidates(tiny_reranker, slice_dir, embedder):
    index = Index.load(slice_dir, embedder)
    index.reranker = Reranker(tiny_reranker)
    depth = index.reranker.settings.depth
    candidates = [h.id for h in index.search(QUERY, depth, rerank=False)]
    hits = index.search(QUERY, 5, rerank=True)
    assert [h.rank for h in hits] == [1, 2, 3, 4, 5]
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert {h.id for h in hits} <= set(candidates)
    for h in hits:
        assert candidates[h.scores["hybrid_rank"] - 1] == h.id and np.isfinite(h.scores["rerank"])
    assert [h.id for h in index.search(QUERY, 5, rerank=False)] == candidates[:5]


def ranking_of_each_entry_point(slice_dir, embedder, tmp_path, rerank: bool) -> list[list[tuple[str, float]]]:
    """Index.search(query, k) (the index's default), `corecover index search` and the agent's retrieve
    node, each switched on or off the way its users do it."""
    from typer.testing import CliRunner

    from agent.components import Components
    from agent.config import Settings
    from agent.nodes import Nodes
    from retriever.cli import app

    index = Index.load(slice_dir, embedder)
    index.rerank = rerank
    api = [(h.id, round(h.score, 4)) for h in index.search(QUERY, 5)]
    flag = ["--rerank"] if rerank else []
    result = CliRunner().invoke(app, ["search", QUERY, "-k", "5", "--json", "--index", str(slice_dir), *flag])
    assert result.exit_code == 0, result.output
    cli = [(h["id"], round(h["score"], 4)) for h in json.loads(result.stdout)]
    settings = Settings(retrieve_k=5, index_dir=slice_dir, retrieve_rerank=rerank, checkpoint_db=tmp_path / "t.sqlite")
    nodes = Nodes(Components.create(settings, embedder=embedder))
    out = asyncio.run(nodes.retrieve({"standalone_question": QUERY, "usage": {}}))
    node = [(p["id"], round(p["score"], 4)) for p in out["passages"]]
    return [api, cli, node]


@pytest.mark.slow
@pytest.mark.parametrize("rerank", [False, True])
def test_every_entry_point_gives_the_same_ranking(tiny_reranker, slice_dir, embedder, monkeypatch, tmp_path, rerank):
    monkeypatch.setenv("CORECOVER_RERANK_DIR", str(tiny_reranker))
    api, cli, node = ranking_of_each_entry_point(slice_dir, embedder, tmp_path, rerank)
    assert api == cli == node
    plain = [(h.id, round(h.score, 4)) for h in Index.load(slice_dir, embedder).search(QUERY, 5, rerank=False)]
    if rerank:  # reranked hits carry the reranker's scores, not the fusion's
        assert [s for _, s in api] != [s for _, s in plain]
    else:
        assert api == plain


@pytest.mark.slow
def test_damaged_reranker_gives_one_line(tiny_reranker, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_reranker, copy)
    model = copy / "model.onnx"
    model.write_bytes(model.read_bytes()[:1000])
    with pytest.raises(RetrieverError, match="cannot load the reranker"):
        Reranker(copy)
    (copy / "manifest.json").write_text("{")
    with pytest.raises(RetrieverError, match="cannot load the reranker"):
        Reranker(copy)
