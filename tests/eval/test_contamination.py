"""n-gram overlap between training texts and benchmark items."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from eval.benchmarks import load_benchmark
from eval.cli import app
from eval.contamination import ngram_overlaps, ngrams, read_train_texts

PROBLEM = "Which planet in our solar system is closest to the Sun"


def test_ngrams_normalise_text():
    assert ngrams("The  Sun, the MOON!", n=2) == {("the", "sun"), ("sun", "the"), ("the", "moon")}
    assert ngrams("too short", n=13) == {("too", "short")}


def test_overlap_per_item(fixtures):
    items = load_benchmark("gsm8k", fixtures / "gsm8k.jsonl").items
    leaked = "Tom has 3 boxes with 4 pens each. How many pens does he have? He has 12."
    report = ngram_overlaps(["an unrelated row about rivers", leaked], items, n=8)
    by_id = {o.id: o for o in report.items}
    assert by_id["gsm8k-0"].matched > 0 and by_id["gsm8k-0"].train_rows == [1]
    assert by_id["gsm8k-1"].matched == 0
    assert [o.id for o in report.flagged] == ["gsm8k-0"]
    assert report.summary()["train_rows"] == 2
    assert ngram_overlaps(["tom has 3 boxes"], items, n=8).flagged == []


def test_cli_reads_messages_and_reports(fixtures, tmp_path):
    train = tmp_path / "train.jsonl"
    rows = [{"messages": [{"role": "user", "content": PROBLEM + "? Think."}, {"role": "assistant", "content": "A"}]},
            {"messages": [{"role": "user", "content": "What is 2+2?"}]}]
    train.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert len(read_train_texts(train)) == 2
    result = CliRunner().invoke(app, ["contamination", "--train", str(train), "--benchmark", "gpqa_diamond",
                                      "--path", str(fixtures / "verl_mcq.jsonl"), "--n", "8"])
    assert result.exit_code == 0, result.output
    assert "1 of 2 items" in result.output and "gpqa_diamond-0" in result.output
