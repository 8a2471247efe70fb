"""Reports: a markdown summary and PNG plots of every ``results.json`` under some folders.

Plots (matplotlib, Agg): accuracy per benchmark and system; accuracy against cost per item
(tokens per item when nothing is priced); and the compression-coverage view: mean accuracy
of each system on reasoning sets (math, code) against knowledge sets (open-domain QA and
knowledge-heavy multiple choice such as GPQA). VibeThinker-3B's published scores are shown
as reference rows labelled "published".
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

PUBLISHED = {  # VibeThinker-3B technical report (2026), accuracy in %
    "aime25": 91.4, "aime26": 94.3, "hmmt25": 89.3, "gpqa_diamond": 70.2, "ifeval": 93.4, "livecodebench_v6": 80.2,
}
PUBLISHED_MODEL = "VibeThinker-3B"
STATUSES = ("verified", "grounded", "unverified", "low_confidence", "escalated", "not_grounded", "truncated")
TRUSTED = ("verified", "grounded")
GROUPS = {"math": "reasoning", "code": "reasoning", "ifeval": "instruction", "qa": "knowledge", "mcq": "knowledge"}


def find_results(dirs: list[Path]) -> list[dict[str, Any]]:
    """Every results.json under ``dirs`` (newest schema only), sorted by benchmark and system."""
    found = []
    for folder in dirs:
        paths = [folder] if folder.is_file() else sorted(Path(folder).rglob("results.json"))
        for path in paths:
            data = json.loads(path.read_text())
            if str(data.get("schema", "")).startswith("corecover.eval.results/"):
                data["_path"] = str(path)
                found.append(data)
    return sorted(found, key=lambda r: (r["benchmark"], r["system"]))


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def _best(metric: dict[str, float] | None) -> str:
    if not metric:
        return "–"
    k = max(metric, key=int)
    return f"{_pct(metric[k])} (k={k})"


def markdown(results: list[dict[str, Any]]) -> str:
    lines = ["# corecover eval report", "",
             "Accuracy is avg@n (mean pass@1 over n samples per item), in %. Cost in USD from the price table "
             "of each run (0 for unpriced local models). Rows marked *published* are reference scores from the "
             "VibeThinker-3B report, not measured here.", "",
             "| benchmark | system | model | items | n | accuracy | pass@k | cons@k | tokens/sample | s/sample | cost/item |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        s = r["summary"]
        lines.append(f"| {r['benchmark']} | {r['system']} | {r.get('model') or ''} | {s['items']} | {r['n']} | "
                     f"{_pct(s.get('accuracy'))} | {_best(s.get('pass@k'))} | {_best(s.get('cons@k'))} | "
                     f"{s.get('mean_completion_tokens') or 0:.0f} | {s.get('mean_seconds') or 0:.2f} | "
                     f"{s.get('cost_per_item_usd', 0):.5f} |")
    for bench, score in PUBLISHED.items():
        lines.append(f"| {bench} | published | {PUBLISHED_MODEL} | – | – | {score:.1f} | – | – | – | – | – |")
    mcq = [r for r in results if "answer_letters" in r["summary"]]
    if mcq:
        lines += ["", "## Multiple choice: position bias", "",
                  "Letters the system answered, and the gold letters it was shown. In the shipped GPQA-Diamond "
                  "file the gold is always A, so shipped-order accuracy rewards a bias towards A.", "",
                  "| benchmark | system | accuracy | answered letters | gold letters |", "|---|---|---:|---|---|"]
        for r in mcq:
            s = r["summary"]
            lines.append(f"| {r['benchmark']} | {r['system']} | {_pct(s.get('accuracy'))} | "
                         f"{_letters(s['answer_letters'])} | {_letters(s['gold_letters'])} |")
    ife = [r for r in results if "ifeval" in r["summary"]]
    if ife:
        lines += ["", "## IFEval", "", "| system | prompt strict | prompt loose | instruction strict | instruction loose |",
                  "|---|---:|---:|---:|---:|"]
        for r in ife:
            f = r["summary"]["ifeval"]
            lines.append(f"| {r['system']} | {_pct(f['prompt_strict'])} | {_pct(f['prompt_loose'])} | "
                         f"{_pct(f['instruction_strict'])} | {_pct(f['instruction_loose'])} |")
    qa = [r for r in results if "qa" in r["summary"]]
    if qa:
        lines += ["", "## Open-domain QA", "", "| benchmark | system | exact match | token F1 |", "|---|---|---:|---:|"]
        for r in qa:
            q = r["summary"]["qa"]
            lines.append(f"| {r['benchmark']} | {r['system']} | {_pct(q['exact_match'])} | {_pct(q['f1'])} |")
    lines += selective_accuracy(results)
    lines += ["", "## Plots", "", "![accuracy](accuracy.png)", "", "![accuracy vs cost](accuracy_vs_cost.png)", "",
              "![compression vs coverage](compression_coverage.png)", "",
              "Runs: " + ", ".join(f"`{r['_path']}`" for r in results), ""]
    return "\n".join(lines)


def by_status(result: dict[str, Any]) -> dict[str, dict[str, float]]:
    """status -> samples, coverage (share of samples), accuracy, from the run's samples.jsonl."""
    from eval.runner import read_samples

    records = read_samples(Path(result["_path"]).with_name("samples.jsonl"))
    records = [r for r in records if (r.get("extra") or {}).get("status")]
    groups: dict[str, list[bool]] = defaultdict(list)
    for r in records:
        groups[r["extra"]["status"]].append(bool(r.get("correct")))
    if not records:
        return {}
    return {s: {"samples": len(v), "coverage": len(v) / len(records), "accuracy": sum(v) / len(v)}
            for s, v in groups.items()}


def selective_accuracy(results: list[dict[str, Any]]) -> list[str]:
    """Accuracy by answer status (selective accuracy): is a "verified" or "grounded" answer right?
    Empty when no run recorded statuses (only the agent graph systems do)."""
    rows = [(r, by_status(r)) for r in results]
    rows = [(r, t) for r, t in rows if t]
    if not rows:
        return []
    seen = [s for s in STATUSES if any(s in t for _, t in rows)]
    seen += sorted({s for _, t in rows for s in t} - set(seen))
    lines = ["", "## Accuracy by status (selective accuracy)", "",
             "Each status is a promise (verified: an exact check confirmed it; grounded: a cited passage states "
             "it). A cell is accuracy % of the samples that got the status, with their share of all samples. "
             "*Trusted* is verified + grounded together.", "",
             "| benchmark | system | trusted coverage | trusted accuracy | " + " | ".join(seen) + " |",
             "|---|---|---:|---:|" + "---:|" * len(seen)]
    for r, t in rows:
        trusted = [t[s] for s in TRUSTED if s in t]
        n = sum(x["samples"] for x in trusted)
        coverage = sum(x["coverage"] for x in trusted)
        accuracy = sum(x["accuracy"] * x["samples"] for x in trusted) / n if n else None
        cells = [f"{_pct(t[s]['accuracy'])} ({_pct(t[s]['coverage'])}%)" if s in t else "–" for s in seen]
        lines.append(f"| {r['benchmark']} | {r['system']} | {_pct(coverage)} | {_pct(accuracy)} | "
                     + " | ".join(cells) + " |")
    return lines


def _letters(counts: dict[str, int]) -> str:
    total = sum(counts.values()) or 1
    return " ".join(f"{k}:{100 * v / total:.0f}%" for k, v in counts.items())


def plot_accuracy(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib.pyplot as plt

    benches = sorted({r["benchmark"] for r in results})
    systems = sorted({r["system"] for r in results})
    has_published = [b for b in benches if b in PUBLISHED]
    columns = systems + (["published"] if has_published else [])
    width = 0.8 / max(1, len(columns))
    fig, ax = plt.subplots(figsize=(max(6, 1.4 * len(benches) + 2), 4))
    for j, system in enumerate(columns):
        heights = []
        for b in benches:
            if system == "published":
                heights.append(PUBLISHED.get(b, 0.0))
            else:
                acc = [r["summary"].get("accuracy") or 0.0 for r in results if r["benchmark"] == b and r["system"] == system]
                heights.append(100 * acc[0] if acc else 0.0)
        ax.bar([i + j * width for i in range(len(benches))], heights, width,
               label=f"{PUBLISHED_MODEL} (published)" if system == "published" else system,
               hatch="//" if system == "published" else None, alpha=0.6 if system == "published" else 1.0)
    ax.set_xticks([i + width * (len(columns) - 1) / 2 for i in range(len(benches))], benches, rotation=20)
    _save_bars(fig, ax, path, "accuracy (%)", "Accuracy per benchmark and system")


def _save_bars(fig: Any, ax: Any, path: Path, ylabel: str, title: str) -> None:
    """Label a percentage bar chart, save it as PNG and free the figure."""
    import matplotlib.pyplot as plt

    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 100)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_cost(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib.pyplot as plt

    priced = any(r["summary"].get("cost_usd") for r in results)
    fig, ax = plt.subplots(figsize=(6, 4))
    for r in results:
        s = r["summary"]
        x = s.get("cost_per_item_usd", 0.0) if priced else (s.get("completion_tokens", 0) / max(1, s["items"]))
        ax.scatter(x, 100 * (s.get("accuracy") or 0.0))
        ax.annotate(f"{r['benchmark']}/{r['system']}", (x, 100 * (s.get("accuracy") or 0.0)), fontsize=7)
    ax.set_xlabel("cost per item (USD)" if priced else "completion tokens per item (no prices given)")
    ax.set_ylabel("accuracy (%)")
    ax.set_title("Accuracy vs cost")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_compression_coverage(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib.pyplot as plt

    table: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in results:
        group = GROUPS.get(r.get("kind") or "", "other")
        table[r["system"]][group].append(100 * (r["summary"].get("accuracy") or 0.0))
    groups = [g for g in ("reasoning", "knowledge", "instruction") if any(g in v for v in table.values())]
    systems = sorted(table)
    width = 0.8 / max(1, len(systems))
    fig, ax = plt.subplots(figsize=(6, 4))
    for j, system in enumerate(systems):
        heights = [sum(table[system][g]) / len(table[system][g]) if table[system][g] else 0.0 for g in groups]
        ax.bar([i + j * width for i in range(len(groups))], heights, width, label=system)
    ax.set_xticks([i + width * (len(systems) - 1) / 2 for i in range(len(groups))], groups)
    _save_bars(fig, ax, path, "mean accuracy (%)", "Compression (reasoning sets) vs coverage (knowledge sets)")


def write_report(dirs: list[Path] | list[str], out: Path | str) -> Path:
    """Write ``report.md`` and three PNG plots into ``out``; returns the markdown path."""
    import matplotlib

    matplotlib.use("Agg")
    results = find_results([Path(d) for d in dirs])
    if not results:
        raise ValueError(f"no results.json under {', '.join(map(str, dirs))}: run `corecover eval run` first")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    plot_accuracy(results, out / "accuracy.png")
    plot_cost(results, out / "accuracy_vs_cost.png")
    plot_compression_coverage(results, out / "compression_coverage.png")
    path = out / "report.md"
    path.write_text(markdown(results), encoding="utf-8")
    return path
