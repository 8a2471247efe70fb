"""The compression-coverage experiment: reasoning sets and knowledge sets × reasoner variants.

    corecover eval hypothesis [--quick] [--reasoner SPEC] [--specialist SPEC] [--large SPEC] [--rows ...]

Rows: ``arithmetic`` (held-back generated problems, never trained on), ``gsm8k`` (test, first 200),
``nq_open`` (NQ-open dev questions whose answer occurs in the retrieval corpus, first 200); by flag
``aime24``, ``aime25``, ``hmmt25``, ``gpqa_diamond`` (options shuffled). Columns: ``base`` (the
reasoner alone), ``specialist`` (the trained specialist alone), ``rag`` (base + retrieval),
``hybrid`` (the agent graph on the specialist: it routes, retrieves, escalates), ``large`` (with
``--large``). The hypothesis predicts: training moves the reasoning rows, not the knowledge row;
retrieval moves the knowledge row, not the reasoning rows.

Every cell is one run of :func:`eval.runner.run` (greedy, one sample per item, resumable
``samples.jsonl``) under ``OUT/cells/<column>/``; the grid adds 95% bootstrap CIs and paired
differences, and writes ``hypothesis.md``, ``hypothesis.png``, ``hypothesis.json``, one
``samples.jsonl`` with every sample (row and column added) and eval's usual report (``report/``).
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eval.benchmarks import BOXED_SUFFIX, Benchmark, Item, NQOpen, load_benchmark
from reasoner.base import BackendError, Sampling

HELDOUT = Path(__file__).parent / "data" / "arithmetic_heldout.jsonl"
REASONING_ROWS = ("arithmetic", "gsm8k", "aime24", "aime25", "hmmt25", "gpqa_diamond")
DEFAULT_ROWS = ("arithmetic", "gsm8k", "nq_open")
DEFAULT_SIZES = {"arithmetic": 180, "gsm8k": 200, "nq_open": 200}
# --quick: one held-back problem of each kind, a few of the others, shorter answers (<= 5 min on 2 cores)
QUICK_SIZES = {"arithmetic": 9, "gsm8k": 6, "nq_open": 12, "aime24": 2, "aime25": 2, "hmmt25": 2,
               "gpqa_diamond": 4}
DEFAULT_MAX_TOKENS, QUICK_MAX_TOKENS = 256, 200
COLUMNS = ("base", "specialist", "rag", "hybrid", "large")


class HypothesisError(RuntimeError):
    """The grid cannot run; the message says what to fix."""


# -- rows ----------------------------------------------------------------------------------
def heldout_rows(path: Path = HELDOUT) -> list[dict[str, Any]]:
    """The held-back generated problems: ``id``, bare question ``prompt``, ``gold``, problem ``kind``."""
    if not path.is_file():
        raise HypothesisError(f"held-back arithmetic file {path} is missing: regenerate it with "
                              "`python -m training.tasks > eval/data/arithmetic_heldout.jsonl`")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


class HeldoutArithmetic(Benchmark):
    """Generated problems (training.tasks' kinds, drawn from a seed no training split uses), asked
    like GSM8K: the question and the boxed-answer suffix."""

    name, kind, filename = "arithmetic", "math", None
    description = "held-back generated arithmetic, fractions, percentages, units and word problems"

    @classmethod
    def resolve(cls, path: Any, data: Any) -> Path:
        return Path(path) if path else HELDOUT

    def make_items(self, rows: list[dict[str, Any]]) -> list[Item]:
        return [Item(id=row["id"], prompt=f"{row['prompt']}\n{BOXED_SUFFIX}", gold=str(row["gold"]), kind="math",
                     metadata={"problem_kind": row["kind"]}) for row in rows]


def answerable(items: list[Item], limit: int | None) -> list[Item]:
    """The first ``limit`` items with a gold answer in the retrieval corpus (normalised, whole words)."""
    from eval.scoring import normalize_qa
    from retriever import load_corpus

    corpus = " | ".join(f" {normalize_qa(p.title + ' ' + p.text)} " for p in load_corpus("default"))
    kept = []
    for item in items:
        if any(f" {a} " in corpus for a in (normalize_qa(x) for x in item.gold) if a):
            kept.append(item)
            if limit and len(kept) == limit:
                break
    return kept


def load_row(name: str, limit: int | None, data_dir: str | None = None) -> Benchmark:
    """The benchmark of a row, cut to its first ``limit`` items."""
    if name == "arithmetic":
        bench: Benchmark = HeldoutArithmetic()
    else:
        bench = load_benchmark(name, data=data_dir)
    if isinstance(bench, NQOpen):
        bench.items = answerable(bench.items, limit)
        bench.name = "nq_open_answerable"
    elif limit:
        bench.items = bench.items[:limit]
    return bench


# -- columns -------------------------------------------------------------------------------
@dataclass
class GridConfig:
    out: Path = Path("runs/hypothesis")
    reasoner: str = "llamacpp:embedded"
    specialist: str | None = "llamacpp:specialist"
    large: str | None = None
    rows: tuple[str, ...] = DEFAULT_ROWS
    columns: tuple[str, ...] = ("base", "specialist", "rag", "hybrid")
    sizes: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_SIZES))
    max_tokens: int = 256
    data_dir: str | None = None
    bootstrap: int = 2000
    seed: int = 0


def check_backend(spec: str, role: str) -> Any:
    """Load a backend once and make sure it answers (an endpoint that lists its models)."""
    from reasoner import load_backend

    try:
        backend = load_backend(spec)
        if backend.name == "openai":
            backend.list_models()
    except BackendError as exc:
        raise HypothesisError(f"{role} {spec}: {exc}") from exc
    return backend


def make_systems(config: GridConfig) -> dict[str, Any]:
    """The systems of the grid's columns, every backend checked before any cell runs."""
    from eval.systems import HybridSystem, LargeSystem, RagSystem, ReasonerSystem

    base = check_backend(config.reasoner, "--reasoner")
    special = check_backend(config.specialist, "--specialist") if "specialist" in config.columns else None
    large = check_backend(config.large, "--large") if config.large else None
    systems: dict[str, Any] = {}
    for column in config.columns:
        if column == "base":
            systems[column] = ReasonerSystem(base, name="base", spec=config.reasoner)
        elif column == "specialist":
            systems[column] = ReasonerSystem(special, name="specialist", spec=config.specialist)
        elif column == "rag":
            systems[column] = RagSystem(base, name="rag", spec=config.reasoner)
        elif column == "hybrid":
            small = special or base
            systems[column] = HybridSystem(small, large, name="hybrid",
                                           spec=config.specialist if special else config.reasoner)
        elif column == "large":
            if large is None:
                raise HypothesisError("the large column needs --large openai:BASE_URL?model=NAME")
            systems[column] = LargeSystem(large, name="large", spec=config.large)
        else:
            raise HypothesisError(f"unknown column {column!r}: use {', '.join(COLUMNS)}")
    return systems


# -- running -------------------------------------------------------------------------------
async def run_grid(config: GridConfig, on_sample: Callable[[str, str, dict], None] | None = None,
                   on_start: Callable[[str, str, int], None] | None = None) -> dict[str, Any]:
    """Run every cell (columns of one row concurrently: different models use different cores)."""
    from eval.runner import RunError, run

    benches = {row: load_row(row, config.sizes.get(row), config.data_dir) for row in config.rows}
    systems = make_systems(config)
    sampling = Sampling(temperature=0.0, top_p=1.0, top_k=-1, max_tokens=config.max_tokens, seed=config.seed,
                        timeout=600)
    results: dict[str, dict[str, Any]] = {}

    async def cell(row: str, column: str) -> None:
        try:
            results.setdefault(row, {})[column] = await run(
                benches[row], systems[column], config.out / "cells" / column, n=1, sampling=sampling,
                concurrency=1, seed=config.seed,
                on_sample=(lambda r: on_sample(row, column, r)) if on_sample else None,
                on_start=(lambda total: on_start(row, column, total)) if on_start else None)
        except RunError as exc:
            raise HypothesisError(str(exc)) from exc

    for row in config.rows:
        await asyncio.gather(*(cell(row, column) for column in config.columns))
    return summarize_grid(config, benches, results)


# -- statistics ----------------------------------------------------------------------------
def per_item(results: dict[str, Any]) -> dict[str, float]:
    return {i["id"]: i["avg"] for i in results["items"]}


def bootstrap_ci(values: list[float], draws: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95% percentile bootstrap interval of the mean."""
    if not values:
        return (float("nan"), float("nan"))
    rng = random.Random(seed)
    means = sorted(statistics.fmean(rng.choices(values, k=len(values))) for _ in range(draws))
    return means[int(0.025 * draws)], means[min(draws - 1, int(0.975 * draws))]


def paired_delta(a: dict[str, float], b: dict[str, float], draws: int, seed: int) -> dict[str, float]:
    """``b - a`` over the items both answered, with its 95% bootstrap interval."""
    diffs = [b[k] - a[k] for k in a if k in b]
    low, high = bootstrap_ci(diffs, draws, seed)
    return {"delta": statistics.fmean(diffs) if diffs else float("nan"), "low": low, "high": high,
            "items": len(diffs)}


def summarize_grid(config: GridConfig, benches: dict[str, Benchmark], results: dict[str, dict[str, Any]]
                   ) -> dict[str, Any]:
    cells: dict[str, dict[str, Any]] = {}
    for row, by_column in results.items():
        for column, res in by_column.items():
            values = list(per_item(res).values())
            s = res["summary"]
            low, high = bootstrap_ci(values, config.bootstrap, config.seed)
            cells.setdefault(row, {})[column] = {
                "accuracy": s.get("accuracy"), "ci95": [low, high], "items": s["items"],
                "mean_completion_tokens": s.get("mean_completion_tokens"), "mean_seconds": s.get("mean_seconds"),
                "model": res.get("model"), "errors": res.get("errors", 0), "routes": s.get("routes"),
                "benchmark": res["benchmark"]}
    effects: dict[str, dict[str, Any]] = {}
    for row, by_column in results.items():
        items = {c: per_item(r) for c, r in by_column.items()}
        if "base" in items:
            for column, label in (("specialist", "training"), ("rag", "retrieval"), ("hybrid", "hybrid")):
                if column in items:
                    effects.setdefault(row, {})[label] = paired_delta(items["base"], items[column],
                                                                       config.bootstrap, config.seed)
    return {"schema": "corecover.eval.hypothesis/1", "config": {**asdict(config), "out": str(config.out)},
            "cells": cells, "effects": effects,
            "row_items": {row: [item.id for item in bench.items] for row, bench in benches.items()}}


# -- outputs -------------------------------------------------------------------------------
def _pct(x: float | None) -> str:
    return "–" if x is None or x != x else f"{100 * x:.1f}"


def markdown(summary: dict[str, Any]) -> str:
    config, cells, effects = summary["config"], summary["cells"], summary["effects"]
    columns = [c for c in COLUMNS if any(c in by_col for by_col in cells.values())]
    lines = ["# Compression vs coverage: the hypothesis grid", "",
             f"Greedy decoding, one sample per item, at most {config['max_tokens']} new tokens. Each cell: "
             "accuracy % [95% bootstrap CI] · mean completion tokens · mean seconds per item. "
             "Math counts only a stated final answer (eval.scoring).", "",
             f"Columns: base = `{config['reasoner']}`; specialist = `{config['specialist']}`; rag = base + "
             "retrieval; hybrid = the agent graph (router, retrieval, the specialist)"
             + (f"; large = `{config['large']}`" if config.get("large") else "") + ".", "",
             "| row | items | " + " | ".join(columns) + " |", "|---|---:|" + "---|" * len(columns)]
    for row, by_col in cells.items():
        items = next(iter(by_col.values()))["items"]
        out = []
        for c in columns:
            cell = by_col.get(c)
            out.append("–" if cell is None else
                       f"{_pct(cell['accuracy'])} [{_pct(cell['ci95'][0])}, {_pct(cell['ci95'][1])}] · "
                       f"{cell['mean_completion_tokens'] or 0:.0f} tok · {cell['mean_seconds'] or 0:.2f} s"
                       + (f" · {cell['errors']} errors" if cell["errors"] else ""))
        lines.append(f"| {row} | {items} | " + " | ".join(out) + " |")
    lines += ["", "## Effects (paired, column − base, points [95% bootstrap CI])", "",
              "| row | kind | training (specialist − base) | retrieval (rag − base) | hybrid − base |",
              "|---|---|---|---|---|"]
    for row, eff in effects.items():
        kind = "reasoning" if row in REASONING_ROWS else "knowledge"
        lines.append(f"| {row} | {kind} | " + " | ".join(
            f"{100 * e['delta']:+.1f} [{100 * e['low']:+.1f}, {100 * e['high']:+.1f}]" if (e := eff.get(k)) else "–"
            for k in ("training", "retrieval", "hybrid")) + " |")
    lines += ["", "## Shape", "", *shape_lines(effects), "", "![grid](hypothesis.png)", "",
              "Raw samples: `samples.jsonl` (one line per sample, with `row` and `column`); per-cell runs under "
              "`cells/`; eval's usual report in `report/report.md`.", ""]
    return "\n".join(lines)


def shape_lines(effects: dict[str, dict[str, Any]]) -> list[str]:
    """What the hypothesis predicts for each effect, and whether the CI agrees."""
    lines = []
    for row, eff in effects.items():
        reasoning = row in REASONING_ROWS
        for key, predicted_move in (("training", reasoning), ("retrieval", not reasoning)):
            e = eff.get(key)
            if not e:
                continue
            moved = e["low"] > 0 or e["high"] < 0
            verdict = "as predicted" if moved == predicted_move else "NOT as predicted"
            lines.append(f"- {row}: {key} {'moved' if moved else 'did not move'} it "
                         f"({100 * e['delta']:+.1f} points; predicted: {'moves' if predicted_move else 'stays'}) "
                         f"— {verdict}.")
    return lines


def plot(summary: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cells = summary["cells"]
    rows = list(cells)
    columns = [c for c in COLUMNS if any(c in by_col for by_col in cells.values())]
    width = 0.8 / max(1, len(columns))
    fig, ax = plt.subplots(figsize=(max(6, 2.2 * len(rows) + 2), 4.2))
    for j, column in enumerate(columns):
        xs, heights, errs = [], [], [[], []]
        for i, row in enumerate(rows):
            cell = cells[row].get(column)
            if cell is None:
                continue
            acc = 100 * (cell["accuracy"] or 0.0)
            xs.append(i + j * width)
            heights.append(acc)
            errs[0].append(max(0.0, acc - 100 * cell["ci95"][0]))
            errs[1].append(max(0.0, 100 * cell["ci95"][1] - acc))
        ax.bar(xs, heights, width, yerr=errs, capsize=3, label=column)
    ax.set_xticks([i + width * (len(columns) - 1) / 2 for i in range(len(rows))],
                  [f"{r}\n({'reasoning' if r in REASONING_ROWS else 'knowledge'})" for r in rows])
    ax.set_ylabel("accuracy (%), 95% bootstrap CI")
    ax.set_ylim(0, 100)
    ax.set_title("Compression (reasoning rows) vs coverage (knowledge row)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_outputs(summary: dict[str, Any], out: Path) -> Path:
    """hypothesis.md / .png / .json, the combined samples.jsonl and eval's usual report."""
    from eval.report import write_report
    from eval.runner import read_samples, run_dir

    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "samples.jsonl.tmp"
    with tmp.open("w", encoding="utf-8") as f:
        for row, by_col in summary["cells"].items():
            wanted = set(summary["row_items"][row])
            for column, cell in by_col.items():
                for record in read_samples(run_dir(out / "cells" / column, cell["benchmark"], column) / "samples.jsonl"):
                    if record["item_id"] not in wanted or record["sample"] != 0:
                        continue
                    f.write(json.dumps({"row": row, "column": column, **record}, ensure_ascii=False) + "\n")
    tmp.replace(out / "samples.jsonl")
    plot(summary, out / "hypothesis.png")
    (out / "hypothesis.json").write_text(json.dumps(summary, indent=2))
    (out / "hypothesis.md").write_text(markdown(summary), encoding="utf-8")
    write_report([out / "cells"], out / "report")
    return out / "hypothesis.md"
