"""The specialist recipe at toy size, end to end: generate -> SFT (+ curriculum) -> MGPO/Long2Short ->
GGUF export (llama.cpp's converter, round-trip checked) -> the agent answers with it. And the bad inputs:
a missing data file, an unfinished run, a GGUF llama.cpp rejects, no specialist installed."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from training.cli import app

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "training" / "configs" / "specialist.yaml"


def converter_or_skip() -> None:
    from training.export_gguf import ExportError, ensure_converter

    try:
        ensure_converter()
    except ExportError as exc:
        pytest.skip(f"llama.cpp's converter is not available: {exc}")


def toy_recipe(tiny_model: str, out: Path) -> dict:
    """specialist.yaml with every size cut down to a few examples and steps (two checkpoints compete on
    the dev split)."""
    recipe = copy.deepcopy(yaml.safe_load(RECIPE.read_text()))
    recipe["output_dir"] = str(out)
    data_dir = out / "data"
    sizes = {"sft": 16, "curriculum": 4, "rl": 4, "dev": 2}
    for stage in recipe["stages"]:
        kind = stage["stage"]
        if kind == "generate":
            stage.update(sizes, output_dir=str(data_dir), decontaminate=[])
        elif kind == "sft":
            stage["model"] = tiny_model
            stage["data"]["paths"] = [str(data_dir / "sft.jsonl")]
            stage["train"].update(max_steps=2, per_device_train_batch_size=4, save_steps=1, logging_steps=1)
            stage["select"].update(data={"paths": [str(data_dir / "dev.jsonl")]}, max_new_tokens=8)
        elif kind == "mgpo":
            stage["data"]["paths"] = [str(data_dir / "rl.jsonl")]
            stage["filter_solved"] = False
            stage["train"].update(max_steps=1, per_device_train_batch_size=2, num_generations=2,
                                  max_completion_length=8, gradient_accumulation_steps=1, save_steps=1)
        elif kind == "export":
            stage["output"] = str(out / "cache" / "specialist" / "specialist.gguf")
    return recipe


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.mark.slow
async def test_toy_recipe_exports_a_gguf_the_agent_answers_with(tiny_model, tmp_path, monkeypatch):
    converter_or_skip()
    config = tmp_path / "toy.yaml"
    config.write_text(yaml.safe_dump(toy_recipe(tiny_model, tmp_path / "run")))
    result = invoke("pipeline", "--config", str(config))
    assert result.exit_code == 0, result.output
    stages = [s["stage"] for s in json.loads((tmp_path / "run" / "pipeline.json").read_text())["stages"]]
    assert stages == ["generate", "sft", "mgpo", "export"]
    for stage_dir in (tmp_path / "run").glob("*-*"):
        assert (stage_dir / "stage_done.json").is_file()
    sft = json.loads((tmp_path / "run" / "1-sft" / "stage_done.json").read_text())
    assert len(sft["select"]["dev_accuracy"]) == 2 and sft["model"] in sft["select"]["dev_accuracy"]
    gguf = tmp_path / "run" / "cache" / "specialist" / "specialist.gguf"
    card = json.loads(gguf.with_suffix(".json").read_text())
    assert card["outtype"] == "q8_0" and gguf.stat().st_size == card["bytes"]
    # round trip: llama.cpp's next-token log-probs match transformers' on the top tokens
    assert card["roundtrip"]["max_abs_logprob_diff"] < 0.5
    assert not list(gguf.parent.glob("*.tmp"))

    # the agent serves it as `llamacpp:specialist` (its cache moved to the toy run's)
    monkeypatch.setenv("CORECOVER_CACHE", str(tmp_path / "run" / "cache"))
    from agent.graph import build_graph

    graph = build_graph(reasoner="llamacpp:specialist")
    final = await graph.ainvoke({"question": "What is 12 + 30?", "forced_route": "reason",
                          "options": {"max_tokens": 24}})
    usage = final["result"]["usage"]
    assert any("specialist" in str(u.get("backend")) for k, u in usage.items() if k != "total")
    assert final["result"]["route"] == "reason"


def test_a_recipe_with_a_missing_data_file_fails_before_any_work(tmp_path):
    recipe = {"output_dir": str(tmp_path / "run"), "stages": [
        {"stage": "sft", "model": "embedded", "data": {"paths": [str(tmp_path / "nope.jsonl")]}}]}
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump(recipe))
    result = invoke("pipeline", "--config", str(config))
    assert result.exit_code == 1
    assert "nope.jsonl does not exist" in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "run" / "0-sft").exists()


def test_a_recipe_with_a_missing_model_fails(tmp_path):
    recipe = {"output_dir": str(tmp_path / "run"), "stages": [
        {"stage": "generate", "output_dir": str(tmp_path / "data"), "sft": 2, "rl": 2, "dev": 1},
        {"stage": "sft", "model": str(tmp_path / "no-model"), "data": {"paths": [str(tmp_path / "data/sft.jsonl")]}}]}
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump(recipe))
    result = invoke("pipeline", "--config", str(config))
    assert result.exit_code == 1 and "no-model does not exist" in result.output
    assert not (tmp_path / "data").exists()  # nothing ran


def test_exporting_an_unfinished_run_fails_and_installs_nothing(tmp_path):
    run = tmp_path / "run"
    (run / "1-sft").mkdir(parents=True)
    (run / "0-generate").mkdir()
    (run / "0-generate" / "stage_done.json").write_text("{}")
    (run / "pipeline.json").write_text(json.dumps({"stages": [
        {"stage": "generate", "output_dir": str(run / "0-generate")},
        {"stage": "sft", "output_dir": str(run / "1-sft")}]}))
    target = tmp_path / "specialist.gguf"
    for folder in (run, run / "1-sft", tmp_path / "empty"):
        folder.mkdir(exist_ok=True)
        result = invoke("export-gguf", str(folder), "--output", str(target))
        assert result.exit_code == 1, result.output
        assert "unfinished" in result.output or "no finished model" in result.output
        assert len(result.output.strip().splitlines()) == 1
    assert not target.exists() and not list(tmp_path.glob(".*.tmp"))


def test_a_gguf_llama_cpp_rejects_is_a_one_line_error(tmp_path):
    import gguf

    from reasoner import BackendError, load_backend
    from training.export_gguf import ExportError, load_gguf

    bad = tmp_path / "bad.gguf"
    writer = gguf.GGUFWriter(str(bad), "no-such-architecture")
    writer.add_block_count(1)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(ExportError, match=r"llama\.cpp rejects bad\.gguf"):
        load_gguf(bad)
    with pytest.raises(BackendError, match="could not load"):
        load_backend(str(bad))


def test_llamacpp_specialist_without_one_installed_says_how_to_train_it(tmp_path, monkeypatch):
    from reasoner import BackendError, load_backend
    from reasoner.registry import demo_spec, parse_spec

    monkeypatch.setenv("CORECOVER_CACHE", str(tmp_path))
    with pytest.raises(BackendError, match=r"specialist\.yaml"):
        load_backend("llamacpp:specialist")
    assert demo_spec() == "llamacpp:embedded"
    assert parse_spec("/models/x.gguf")[:2] == ("llamacpp", "/models/x.gguf")
