"""`corecover index build|search|info` through typer's runner, on tiny real corpora."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from retriever.cli import app

runner = CliRunner()


def test_search_json_and_info_on_the_slice(slice_dir):
    result = runner.invoke(app, ["search", "famous painting by Leonardo", "-k", "3", "--json", "--index", str(slice_dir)])
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    assert len(hits) == 3 and all({"title", "text", "score", "source", "rank"} <= set(h) for h in hits)
    result = runner.invoke(app, ["search", "famous painting", "--mode", "bm25", "--index", str(slice_dir)])
    assert result.exit_code == 0 and "1. " in result.stdout
    result = runner.invoke(app, ["info", "--index", str(slice_dir)])
    assert result.exit_code == 0 and "embedded (dim 384)" in result.stdout


def test_build_a_folder_then_search(tmp_path, monkeypatch, embedder):
    from retriever.onnx_encoder import cache_root

    embedder.encode_query("warm")  # the ONNX query encoder is exported into the user cache once
    encoders = cache_root()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    cache_root().parent.mkdir(parents=True)
    cache_root().symlink_to(encoders)  # a fresh cache for the build, the same query encoder
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "volcano.md").write_text("A volcano is a rupture in the crust of a planet where lava escapes.")
    (docs / "glacier.txt").write_text("A glacier is a persistent body of dense ice that moves under its own weight.")
    out = tmp_path / "idx"
    result = runner.invoke(app, ["build", "--corpus", str(docs), "--out", str(out)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["search", "moving ice", "-k", "1", "--json", "--index", str(out)])
    assert json.loads(result.stdout)[0]["title"] == "glacier"


def test_clear_errors(tmp_path):
    result = runner.invoke(app, ["info", "--index", str(tmp_path / "none")])
    assert result.exit_code == 1 and "corecover index build" in result.output
    result = runner.invoke(app, ["build", "--corpus", str(tmp_path / "nothing.csv"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1 and "is not `default`" in result.output
