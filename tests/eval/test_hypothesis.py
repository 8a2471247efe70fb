"""The hypothesis grid: its rows, statistics and report, a tiny real run, and a dead endpoint."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from eval.cli import app
from eval.hypothesis import (
    GridConfig,
    HeldoutArithmetic,
    bootstrap_ci,
    heldout_rows,
    markdown,
    paired_delta,
    shape_lines,
)


def test_heldout_rows_are_asked_like_gsm8k_and_balanced_over_kinds():
    bench = HeldoutArithmetic()
    assert len(bench.items) == len(heldout_rows()) >= 180
    first = bench.items[:9]
    assert len({item.metadata["problem_kind"] for item in first}) == 9
    assert all(item.kind == "math" and "\\boxed{}" in item.prompt for item in bench.items)


def test_bootstrap_interval_brackets_the_mean():
    assert bootstrap_ci([1.0] * 10) == (1.0, 1.0)
    values = [1.0, 0.0] * 20
    low, high = bootstrap_ci(values, draws=500, seed=1)
    assert 0.0 <= low < 0.5 < high <= 1.0
    delta = paired_delta({"a": 0.0, "b": 0.0, "c": 1.0}, {"a": 1.0, "b": 1.0, "c": 1.0, "d": 0.0}, 200, 0)
    assert delta["items"] == 3 and delta["delta"] == pytest.approx(2 / 3)


def test_markdown_states_each_effect_against_the_prediction():
    cell = {"accuracy": 0.5, "ci95": [0.4, 0.6], "items": 10, "mean_completion_tokens": 12.0,
            "mean_seconds": 0.5, "errors": 0}
    effects = {"arithmetic": {"training": {"delta": 0.3, "low": 0.2, "high": 0.4, "items": 10},
                              "retrieval": {"delta": 0.0, "low": -0.1, "high": 0.1, "items": 10}},
               "nq_open": {"training": {"delta": -0.2, "low": -0.3, "high": -0.1, "items": 10}}}
    summary = {"config": {"max_tokens": 32, "reasoner": "a", "specialist": "b", "large": None},
               "cells": {"arithmetic": {"base": cell, "specialist": cell}, "nq_open": {"base": cell}},
               "effects": effects}
    text = markdown(summary)
    assert "| arithmetic | 10 | 50.0 [40.0, 60.0]" in text
    lines = shape_lines(effects)
    assert any("arithmetic: training moved it" in line and "as predicted" in line for line in lines)
    assert any("nq_open: training moved it" in line and "NOT as predicted" in line for line in lines)


@pytest.mark.slow
async def test_a_tiny_grid_writes_table_plot_and_raw_samples(tmp_path):
    from eval.hypothesis import run_grid, write_outputs
    from reasoner.presets import embedded_gguf

    config = GridConfig(out=tmp_path, specialist=str(embedded_gguf()), rows=("arithmetic",),
                        columns=("base", "specialist"), sizes={"arithmetic": 2}, max_tokens=16, bootstrap=100)
    summary = await run_grid(config)
    path = write_outputs(summary, tmp_path)
    cell = summary["cells"]["arithmetic"]["specialist"]
    assert cell["items"] == 2 and 0.0 <= cell["ci95"][0] <= cell["accuracy"] <= cell["ci95"][1] <= 1.0
    assert "| arithmetic | 2 |" in path.read_text()
    assert (tmp_path / "hypothesis.png").stat().st_size > 0 and (tmp_path / "report" / "report.md").is_file()
    samples = [json.loads(line) for line in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert {(s["row"], s["column"]) for s in samples} == {("arithmetic", "base"), ("arithmetic", "specialist")}
    assert len(samples) == 4


def test_an_unreachable_endpoint_is_a_one_line_error(tmp_path):
    result = CliRunner().invoke(app, ["hypothesis", "--out", str(tmp_path), "--rows", "arithmetic",
                                      "--columns", "base", "--reasoner", "openai:http://127.0.0.1:9/v1?model=x"])
    assert result.exit_code == 1
    assert "error: --reasoner openai:http://127.0.0.1:9/v1?model=x" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "cells").exists()
