"""The report's accuracy-by-status section (selective accuracy) from the runs' samples files."""

from __future__ import annotations

import json

from eval.report import markdown, write_report
from eval.runner import SCHEMA


def _run(folder, system, statuses_correct):
    out = folder / f"nq_open__{system}"
    out.mkdir(parents=True)
    records = [{"item_id": f"q{i}", "sample": 0, "kind": "qa", "correct": ok, "extra": {"status": status}}
               for i, (status, ok) in enumerate(statuses_correct)]
    (out / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records) + '{"cut short')
    summary = {"items": len(records), "accuracy": sum(ok for _, ok in statuses_correct) / len(records)}
    (out / "results.json").write_text(json.dumps({"schema": SCHEMA, "benchmark": "nq_open", "system": system,
                                                  "kind": "qa", "n": 1, "summary": summary}))


def test_accuracy_by_status_columns(tmp_path):
    _run(tmp_path, "hybrid", [("grounded", True), ("grounded", True), ("grounded", False), ("verified", True),
                              ("unverified", False), ("not_grounded", False), ("unverified", True),
                              ("not_grounded", False)])
    _run(tmp_path, "reasoner", [("unverified", True)])
    path = write_report([tmp_path], tmp_path / "report")
    text = path.read_text()
    assert "## Accuracy by status (selective accuracy)" in text
    row = next(line for line in text.splitlines() if line.startswith("| nq_open | hybrid | 50.0 |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[3] == "75.0"                      # trusted accuracy: 3 right of 4 verified + grounded
    assert "66.7 (37.5%)" in cells and "100.0 (12.5%)" in cells  # grounded 2/3 of 3/8; verified 1/1 of 1/8


def test_no_statuses_no_section(tmp_path):
    out = tmp_path / "gsm8k__reasoner"
    out.mkdir()
    (out / "results.json").write_text(json.dumps({"schema": SCHEMA, "benchmark": "gsm8k", "system": "reasoner",
                                                  "kind": "math", "n": 1, "summary": {"items": 1}}))
    from eval.report import find_results

    assert "selective accuracy" not in markdown(find_results([tmp_path]))
