"""Loaders on the real shared files (skipped when absent) and on tiny made-up fixtures."""

from __future__ import annotations

import pytest

from eval.benchmarks import BENCHMARKS, BenchmarkError, data_dir, load_benchmark
from eval.mcq import parse_options, render_options

REAL = {"aime24": (30, "math"), "aime25": (30, "math"), "hmmt25": (30, "math"), "gpqa_diamond": (198, "mcq"),
        "gsm8k": (1319, "math"), "ifeval": (541, "ifeval"), "nq_open": (3610, "qa")}


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_files_load(shared_data, name):
    bench = load_benchmark(name, data=shared_data)
    size, kind = REAL[name]
    assert len(bench) == size
    assert {item.kind for item in bench} == {kind}
    assert len({item.id for item in bench}) == size
    assert all(item.prompt and item.gold not in (None, "") for item in bench)


def test_real_golds_are_strings_and_gsm8k_takes_the_final_line(shared_data):
    assert load_benchmark("aime24", data=shared_data)[0].gold == "204"
    assert load_benchmark("aime25", data=shared_data)[0].gold == "70"  # int64 in the parquet
    gsm = load_benchmark("gsm8k", data=shared_data)
    assert gsm[0].gold == "18" and gsm[0].prompt.endswith("\\boxed{}.")
    assert load_benchmark("nq_open", data=shared_data)[0].gold == ["14 December 1972 UTC", "December 1972"]
    ifeval = load_benchmark("ifeval", data=shared_data)[0]
    assert ifeval.gold["instruction_id_list"][0] == "punctuation:no_comma"
    assert len(ifeval.gold["kwargs"]) == len(ifeval.gold["instruction_id_list"])


def test_real_gpqa_options_parse_and_render_back(shared_data):
    bench = load_benchmark("gpqa_diamond", data=shared_data)
    assert {item.gold for item in bench} == {"A"}  # as shipped: why the runner shuffles
    for item in bench:
        head, options, tail = parse_options(item.prompt)
        assert len(options) == 4 and all(options)
        assert render_options(head, options, tail) == item.prompt
    assert not load_benchmark("gpqa_diamond_shipped", data=shared_data)[0].metadata["shuffle"]


def test_humaneval_from_the_installed_package():
    bench = load_benchmark("humaneval")
    assert len(bench) == 164
    first = bench[0]
    assert first.id == "HumanEval/0" and first.kind == "code"
    assert {"prompt", "test", "entry_point"} <= set(first.gold)


def test_fixture_files_load_with_each_loader(fixtures):
    math = load_benchmark("aime25", fixtures / "verl_math.jsonl")
    assert [i.gold for i in math] == ["204", "\\frac{3}{4}"]
    mcq = load_benchmark("gpqa_diamond", fixtures / "verl_mcq.jsonl")
    assert mcq[0].metadata["options"] == ["Mercury", "Venus", "Earth", "Mars"]
    gsm = load_benchmark("gsm8k", fixtures / "gsm8k.jsonl")
    assert [i.gold for i in gsm] == ["12", "2400"]
    ife = load_benchmark("ifeval", fixtures / "ifeval.jsonl")
    assert ife[1].gold["kwargs"][0] == {"relation": "at least", "num_words": 20}
    nq = load_benchmark("nq_open", fixtures / "nq.jsonl")
    assert nq[1].gold == ["William Shakespeare", "Shakespeare"]
    he = load_benchmark("humaneval", fixtures / "humaneval.jsonl")
    assert he[0].gold["entry_point"] == "add"
    imo = load_benchmark("imo_answerbench", fixtures / "imo_answerbench.csv")
    assert imo[0].id == "toy-algebra-001" and imo[0].gold == "4" and imo[0].metadata["Category"] == "Algebra"


def test_custom_file_through_a_field_mapping(fixtures):
    bench = load_benchmark("custom", fixtures / "custom.jsonl", fields={"id": "qid", "prompt": "question",
                                                                         "gold": "answer"}, kind="math")
    assert [(i.id, i.prompt, i.gold) for i in bench] == [("c1", "What is 2 + 2?", "4"), ("c2", "What is 10 / 4?", "2.5")]
    with pytest.raises(BenchmarkError, match="--field prompt=COLUMN"):
        load_benchmark("custom", fixtures / "custom.jsonl")


def test_errors_name_the_fix(tmp_path, monkeypatch):
    with pytest.raises(BenchmarkError, match="needs a file: pass --path"):
        load_benchmark("imo_answerbench")
    with pytest.raises(BenchmarkError, match="unknown benchmark"):
        load_benchmark("aime99")
    monkeypatch.setenv("CORECOVER_DATA_DIR", str(tmp_path / "missing"))
    with pytest.raises(BenchmarkError, match="CORECOVER_DATA_DIR"):
        data_dir()
    monkeypatch.setenv("CORECOVER_DATA_DIR", str(tmp_path))
    with pytest.raises(BenchmarkError, match="not found"):
        load_benchmark("aime24")


def test_every_builtin_benchmark_names_its_public_dataset():
    assert all(cls.hf_id for name, cls in BENCHMARKS.items() if name != "custom")
