"""``corecover eval …``: run systems on benchmarks, report, audit contamination, list benchmarks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(help="Evaluate systems on benchmarks: run, report, contamination audit.",
                  no_args_is_help=True)


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def _parse_fields(fields: list[str] | None) -> dict[str, str]:
    mapping = {}
    for entry in fields or []:
        key, sep, value = entry.partition("=")
        if not sep or key not in ("id", "prompt", "gold"):
            _fail(f"bad --field {entry!r}: use id=COLUMN, prompt=COLUMN or gold=COLUMN")
        mapping[key] = value
    return mapping


def load_prices(value: str | None) -> dict[str, dict[str, float]]:
    """Prices from a JSON string or file; else the ``prices`` setting (``CORECOVER_PRICES``)."""
    if value:
        text = Path(value).read_text() if Path(value).is_file() else value
        try:
            prices = json.loads(text)
        except json.JSONDecodeError:
            _fail(f"--prices must be JSON or a JSON file: {{\"MODEL\": {{\"input\": 0.5, \"output\": 1.5}}}}, got {value!r}")
        return prices
    from agent.config import get_settings

    return dict(get_settings().prices or {})


def _bench(name: str, path: str | None, data_dir: str | None, fields: list[str] | None, kind: str | None) -> Any:
    from eval.benchmarks import BenchmarkError, load_benchmark

    options: dict[str, Any] = {}
    if name == "custom":
        options = {"fields": _parse_fields(fields), "kind": kind or "math",
                   "name": Path(path).stem if path else None}
    try:
        return load_benchmark(name, path, data=data_dir, **options)
    except BenchmarkError as exc:
        _fail(str(exc))


@app.command("run")
def run_cmd(
    benchmark: Annotated[str, typer.Option(help="benchmark name (see `corecover eval list`)")],
    system: Annotated[str, typer.Option(help="reasoner | large | rag | hybrid | oracle")] = "reasoner",
    out: Annotated[Path, typer.Option(help="output folder (runs resume in it)")] = Path("runs"),
    n: Annotated[int, typer.Option(help="samples per item")] = 1,
    limit: Annotated[int | None, typer.Option(help="first N items only")] = None,
    backend: Annotated[str | None, typer.Option(help="small model spec (default: llamacpp:embedded)")] = None,
    large: Annotated[str | None, typer.Option(help="larger model spec, openai:BASE_URL?model=M")] = None,
    concurrency: Annotated[int, typer.Option(help="calls in flight at once")] = 4,
    preset: Annotated[str | None, typer.Option(help="sampling preset (reasoner.presets), e.g. vibethinker-3b")] = None,
    max_tokens: Annotated[int | None, typer.Option(help="cap on generated tokens")] = None,
    temperature: Annotated[float | None, typer.Option(help="sampling temperature")] = None,
    top_p: Annotated[float | None, typer.Option(help="nucleus sampling")] = None,
    seed: Annotated[int, typer.Option(help="seed of option shuffling and sampling")] = 0,
    path: Annotated[str | None, typer.Option(help="benchmark file (IMO-AnswerBench CSV, custom data)")] = None,
    data_dir: Annotated[str | None, typer.Option(help="benchmark data folder (env CORECOVER_DATA_DIR)")] = None,
    field: Annotated[list[str] | None, typer.Option(help="custom: id=COL, prompt=COL, gold=COL")] = None,
    kind: Annotated[str | None, typer.Option(help="custom: math | mcq | code | ifeval | qa")] = None,
    prices: Annotated[str | None, typer.Option(help='JSON or file: {"MODEL": {"input": USD/1M, "output": USD/1M}}')] = None,
    unsafe_sandbox: Annotated[bool, typer.Option("--unsafe-sandbox", help="run model-written code even without "
                                                 "bubblewrap (Python-level guards only; recorded in results.json)")] = False,
) -> None:
    """Run a system on a benchmark; writes samples.jsonl (resumable) and results.json."""
    import asyncio

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from eval.runner import RunError, run, run_dir
    from eval.systems import make_system
    from reasoner import BackendError
    from reasoner.presets import PRESETS, preset_for

    bench = _bench(benchmark, path, data_dir, field, kind)
    price_table = load_prices(prices)
    try:
        sys_obj = make_system(system, backend, large)
    except (ValueError, BackendError) as exc:
        _fail(str(exc))
    if preset and preset not in PRESETS:
        _fail(f"unknown preset {preset!r}: use one of {', '.join(PRESETS)}")
    base = PRESETS[preset].eval if preset else preset_for(sys_obj.model).eval
    sampling = base.with_(max_tokens=max_tokens, temperature=temperature, top_p=top_p, seed=seed)
    correct = {"n": 0, "ok": 0}
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("acc {task.fields[acc]}"), TimeRemainingColumn(), console=Console(stderr=True)) as bar:
        task = bar.add_task(f"{bench.name} × {system}", total=None, acc="-")

        def on_sample(record: dict[str, Any]) -> None:
            correct["n"] += 1
            correct["ok"] += bool(record["correct"])
            bar.update(task, advance=1, acc=f"{correct['ok'] / correct['n']:.1%}")

        try:
            results = asyncio.run(run(bench, sys_obj, out, n=n, limit=limit, sampling=sampling,
                                      concurrency=concurrency, seed=seed, prices=price_table,
                                      on_sample=on_sample, on_start=lambda total: bar.update(task, total=total),
                                      unsafe_sandbox=unsafe_sandbox))
        except RunError as exc:
            _fail(str(exc))
    s = results["summary"]
    folder = run_dir(out, bench.name, system)
    typer.echo(f"{bench.name} × {system}: accuracy {s.get('accuracy', 0) or 0:.3f} over {s['items']} items, "
               f"{s['samples']} samples; pass@k {s.get('pass@k')}; cons@k {s.get('cons@k')}; "
               f"cost ${s.get('cost_usd', 0):.4f}; errors {results['errors']} -> {folder}/results.json")


@app.command("report")
def report_cmd(
    dirs: Annotated[list[Path], typer.Argument(help="run folders (searched for results.json)")],
    out: Annotated[Path | None, typer.Option(help="report folder (default: the first DIR)")] = None,
) -> None:
    """Write report.md and PNG plots comparing every run found under DIRS."""
    from eval.report import write_report

    try:
        path = write_report(dirs, out or dirs[0])
    except ValueError as exc:
        _fail(str(exc))
    typer.echo(str(path))


@app.command("contamination")
def contamination_cmd(
    train: Annotated[Path, typer.Option(help="training data JSONL (text / messages / prompt field)")],
    benchmark: Annotated[str, typer.Option(help="benchmark name")],
    ngram: Annotated[int, typer.Option("--n", help="n-gram length in words")] = 13,
    text_field: Annotated[str | None, typer.Option("--text-field", help="training text field")] = None,
    path: Annotated[str | None, typer.Option(help="benchmark file")] = None,
    data_dir: Annotated[str | None, typer.Option(help="benchmark data folder")] = None,
    threshold: Annotated[float, typer.Option(help="flag items with at least this share of n-grams matched")] = 0.0,
    as_json: Annotated[bool, typer.Option("--json", help="print the full report as JSON")] = False,
) -> None:
    """N-gram overlap between a training set and a benchmark, per item."""
    from eval.contamination import ngram_overlaps, read_train_texts

    if not train.is_file():
        _fail(f"training file {train} not found")
    bench = _bench(benchmark, path, data_dir, None, None)
    try:
        texts = read_train_texts(train, text_field)
    except ValueError as exc:
        _fail(str(exc))
    report = ngram_overlaps(texts, bench.items, n=ngram, threshold=threshold)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
        return
    s = report.summary()
    typer.echo(f"{bench.name}: {s['flagged']} of {s['items']} items share {ngram}-grams with {s['train_rows']} "
               f"training rows")
    for o in report.flagged[:50]:
        typer.echo(f"  {o.id}: {o.matched}/{o.ngrams} n-grams ({o.fraction:.0%}), rows {o.train_rows[:5]}")


@app.command("list")
def list_cmd() -> None:
    """The built-in benchmarks, their kind, file and public dataset id."""
    from eval.benchmarks import BENCHMARKS

    for name, cls in BENCHMARKS.items():
        typer.echo(f"{name:22} {cls.kind or '-':7} {cls.filename or '(--path FILE)':36} {cls.hf_id or '-':34} "
                   f"{cls.description}")


@app.command("hypothesis")
def hypothesis_cmd(
    out: Annotated[Path | None, typer.Option(help="output folder (reruns resume; default runs/hypothesis[-quick])")] = None,
    quick: Annotated[bool, typer.Option("--quick", help="a few items per row (minutes, for CI and the README)")] = False,
    reasoner: Annotated[str, typer.Option(help="the base reasoner spec")] = "llamacpp:embedded",
    specialist: Annotated[str, typer.Option(help="the trained specialist spec ('none': no such column)")] = "llamacpp:specialist",
    large: Annotated[str | None, typer.Option(help="a larger model, openai:BASE_URL?model=M (adds a column)")] = None,
    rows: Annotated[str, typer.Option(help="comma-separated rows: arithmetic, gsm8k, nq_open, aime24, aime25, "
                                           "hmmt25, gpqa_diamond")] = "arithmetic,gsm8k,nq_open",
    size: Annotated[list[str] | None, typer.Option(help="ROW=N items of a row (repeatable)")] = None,
    columns: Annotated[str, typer.Option(help="comma-separated columns: base, specialist, rag, hybrid, large "
                                              "(default: all that apply)")] = "",
    max_tokens: Annotated[int | None, typer.Option(help="cap on generated tokens per answer (256; 200 with "
                                                       "--quick)")] = None,
    data_dir: Annotated[str | None, typer.Option(help="benchmark data folder (env CORECOVER_DATA_DIR)")] = None,
) -> None:
    """The compression-coverage grid: reasoning and knowledge rows × base, specialist, rag, hybrid (and large)."""
    import asyncio

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from eval.benchmarks import BenchmarkError
    from eval.hypothesis import (
        COLUMNS,
        DEFAULT_MAX_TOKENS,
        DEFAULT_SIZES,
        QUICK_MAX_TOKENS,
        QUICK_SIZES,
        GridConfig,
        HypothesisError,
        run_grid,
        write_outputs,
    )

    chosen = tuple(r.strip() for r in rows.split(",") if r.strip())
    sizes = dict(QUICK_SIZES if quick else DEFAULT_SIZES)
    for entry in size or []:
        row, sep, value = entry.partition("=")
        if not sep or not value.isdigit():
            _fail(f"bad --size {entry!r}: use ROW=N, e.g. gsm8k=50")
        sizes[row] = int(value)
    wanted = [c.strip() for c in columns.split(",") if c.strip()] or list(COLUMNS)
    unknown = sorted(set(wanted) - set(COLUMNS))
    if unknown:
        _fail(f"unknown column(s) {', '.join(unknown)}: use {', '.join(COLUMNS)}")
    chosen_columns = tuple(c for c in COLUMNS if c in wanted and (c != "specialist" or specialist.lower() != "none")
                           and (c != "large" or large))
    config = GridConfig(out=out or Path("runs/hypothesis-quick" if quick else "runs/hypothesis"), reasoner=reasoner,
                        specialist=None if specialist.lower() == "none" else specialist, large=large, rows=chosen,
                        columns=chosen_columns, sizes=sizes, data_dir=data_dir,
                        max_tokens=max_tokens or (QUICK_MAX_TOKENS if quick else DEFAULT_MAX_TOKENS))
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("acc {task.fields[acc]}"), TimeElapsedColumn(), console=Console(stderr=True)) as bar:
        tasks: dict[tuple[str, str], Any] = {}
        hits: dict[tuple[str, str], list[int]] = {}

        def on_start(row: str, column: str, total: int) -> None:
            tasks[row, column] = bar.add_task(f"{row} × {column}", total=total, acc="-")
            hits[row, column] = [0, 0]

        def on_sample(row: str, column: str, record: dict[str, Any]) -> None:
            h = hits[row, column]
            h[0], h[1] = h[0] + bool(record["correct"]), h[1] + 1
            bar.update(tasks[row, column], advance=1, acc=f"{h[0] / h[1]:.0%}")

        try:
            summary = asyncio.run(run_grid(config, on_sample=on_sample, on_start=on_start))
        except (HypothesisError, BenchmarkError) as exc:
            _fail(str(exc))
    path = write_outputs(summary, config.out)
    typer.echo(path.read_text().split("\n## Effects")[0].rstrip())
    typer.echo(f"\n-> {path}")
