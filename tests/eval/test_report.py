"""The report: markdown tables with published reference rows, and three PNG plots."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from eval.cli import app
from eval.metrics import summarize
from eval.runner import SCHEMA


def _write(folder, benchmark, system, kind, records, cost=0.0):
    out = folder / f"{benchmark}__{system}"
    out.mkdir(parents=True)
    results = {"schema": SCHEMA, "benchmark": benchmark, "system": system, "model": "m", "kind": kind, "n": 2,
               **summarize(records, [1, 2])}
    results["summary"]["cost_usd"] = results["summary"]["cost_per_item_usd"] = cost
    (out / "results.json").write_text(json.dumps(results))


def _rec(item, sample, kind, correct, **details):
    return {"item_id": item, "sample": sample, "kind": kind, "extracted": "1", "correct": correct, "score": float(correct),
            "prompt_tokens": 20, "completion_tokens": 10, "seconds": 0.5, "route": "reason", "model": "m",
            "gold": "A", "details": details}


def test_report_writes_markdown_and_plots(tmp_path, artifacts):
    runs = tmp_path / "runs"
    _write(runs, "aime25", "reasoner", "math", [_rec("a", s, "math", s == 0) for s in range(2)])
    _write(runs, "aime25", "hybrid", "math", [_rec("a", s, "math", True) for s in range(2)], cost=0.001)
    _write(runs, "gpqa_diamond", "reasoner", "mcq",
           [_rec("q", s, "mcq", s == 0, letter="A", shipped_letter="A") for s in range(2)])
    _write(runs, "nq_open", "rag", "qa", [_rec("n", s, "qa", True, exact_match=True, f1=1.0) for s in range(2)])
    _write(runs, "ifeval", "reasoner", "ifeval",
           [_rec("i", s, "ifeval", False, strict=[True, False], loose=[True, True]) for s in range(2)])
    out = artifacts / "eval-report"
    result = CliRunner().invoke(app, ["report", str(runs), "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = (out / "report.md").read_text()
    assert "| aime25 | reasoner | m | 1 | 2 | 50.0 |" in text
    assert "| aime25 | published | VibeThinker-3B |" in text and "89.3" in text and "80.2" in text
    assert "position bias" in text and "A:100%" in text
    assert "## IFEval" in text and "## Open-domain QA" in text
    for name in ("accuracy.png", "accuracy_vs_cost.png", "compression_coverage.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_without_runs_says_so(tmp_path):
    result = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 1 and "corecover eval run" in result.output
