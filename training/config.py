"""Stage configs: dataclasses loaded from YAML (TRL style).

Each stage config names its input model, its data and its output folder; ``train`` holds
keyword arguments for TRL's own config class (``SFTConfig`` or ``GRPOConfig``), so every
TRL option (learning rate, schedule, packing, ``use_vllm``, DeepSpeed...) is available.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


@dataclass
class DataConfig:
    """Where the records come from and how they are cleaned."""

    paths: list[str] = field(default_factory=list)
    decontaminate: list[str] = field(default_factory=list)  # eval benchmark names, or name:path
    ngram: int = 13
    repetition_filter: bool = True
    limit: int | None = None
    seed: int = 0


@dataclass
class SamplingConfig:
    """How rollouts are sampled (filters, probes, teacher traces)."""

    max_new_tokens: int = 256
    temperature: float = 1.0
    top_p: float = 0.95
    batch_size: int = 16


@dataclass
class CurriculumConfig:
    """Stage 2 of curriculum SFT: the hard subset by a joint length-difficulty filter."""

    enabled: bool = True
    data: DataConfig | None = None  # default: the stage-1 data
    min_tokens: int = 5000  # drop traces shorter than this
    rollouts: int = 8  # reference-model samples per problem
    min_error_rate: float = 0.75  # drop problems the reference solves more often than this allows
    reference_model: str | None = None  # default: the stage-1 checkpoint
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    train: dict[str, Any] = field(default_factory=dict)  # overrides of `train` for stage 2


@dataclass
class SpecialistsConfig:
    """Diversity-exploring distillation: pick each domain's best checkpoint by pass@K, then merge."""

    probes: dict[str, str] = field(default_factory=dict)  # domain -> JSONL probe set
    k: int = 4
    samples: int = 8  # samples per probe problem (n >= k for the unbiased estimator)
    weights: dict[str, float] = field(default_factory=dict)  # domain -> merge weight (default equal)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)


@dataclass
class SelectConfig:
    """Pick the SFT checkpoint by greedy accuracy on a development split (never the held-back set)."""

    data: DataConfig = field(default_factory=DataConfig)
    last: int = 3  # how many of the newest checkpoints compete
    max_new_tokens: int = 192
    batch_size: int = 32


@dataclass
class SFTStageConfig:
    model: str = "embedded"
    data: DataConfig = field(default_factory=DataConfig)
    output_dir: str = "runs/sft"
    curriculum: CurriculumConfig = field(default_factory=CurriculumConfig)
    specialists: SpecialistsConfig | None = None
    select: SelectConfig | None = None  # checkpoint chosen on a dev split
    time_budget_s: float | None = None  # stage 1 stops (and saves) after this many seconds of training
    train: dict[str, Any] = field(default_factory=dict)


@dataclass
class MergeStageConfig:
    checkpoints: list[str] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)  # default: equal
    output_dir: str = "runs/merged"


@dataclass
class MGPOStageConfig:
    model: str = "embedded"
    data: DataConfig = field(default_factory=DataConfig)
    output_dir: str = "runs/mgpo"
    mgpo_lambda: float = 1.0  # 0 reproduces GRPO
    long2short_lambda: float = 0.0  # Long2Short on when > 0 (the report uses 0.2)
    filter_solved: bool = True  # drop prompts the start model always or never solves
    filter_sampling: SamplingConfig = field(default_factory=SamplingConfig)
    judge: dict[str, Any] | None = None  # a rubric judge for `rubric` records (see training.judge)
    train: dict[str, Any] = field(default_factory=dict)


@dataclass
class DistillStageConfig:
    """Offline self-distillation: teacher traces, verified, scored by learning potential, selected."""

    model: str = "embedded"  # the student
    teacher: str = "embedded"  # a checkpoint path or a reasoner spec (openai:URL?model=X)
    data: DataConfig = field(default_factory=DataConfig)
    output_dir: str = "runs/distill"
    samples: int = 4  # teacher samples per problem
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    bucket_edges: list[int] = field(default_factory=lambda: [256, 1024, 4096])  # tokens
    min_tokens: int = 8  # drop very short traces
    outlier_quantile: float = 0.99  # drop scores above this quantile in each bucket
    score_range: tuple[float, float] = (0.4, 0.99)  # keep this quantile band (middle-to-high)
    per_bucket: int | None = None  # cap per (domain, bucket)
    train: dict[str, Any] = field(default_factory=dict)


@dataclass
class GenerateStageConfig:
    """Generated problems with worked solutions (see training.tasks), written as record files."""

    output_dir: str = "runs/generate"
    kinds: list[str] = field(default_factory=lambda: ["add", "sub", "mul", "fraction", "percent", "unit",
                                                      "word1", "word2", "word3"])
    sft: int = 2000  # records of each split
    curriculum: int = 0
    rl: int = 256
    dev: int = 90
    seed: int = 0
    instructions: list[str] = field(default_factory=lambda: ["Put the final answer in \\boxed{}."])
    systems: list[str | None] = field(default_factory=lambda: [None])  # system prompts drawn per record
    exclude_heldout: bool = True  # never draw a question of eval's held-back arithmetic set
    decontaminate: list[str] = field(default_factory=list)  # eval benchmark names, or name:path
    ngram: int = 13
    order: str = "shuffle"  # "curriculum": the sft split easy to hard (see training.generate.curriculum_order)


@dataclass
class ExportStageConfig:
    """A Hugging Face checkpoint converted to GGUF by llama.cpp's own converter, checked, installed."""

    model: str = ""  # the checkpoint (in a pipeline: the previous stage's output)
    output: str | None = None  # the .gguf to write; default: the user-cache specialist (llamacpp:specialist)
    outtype: str = "q8_0"  # f16, q8_0, bf16 or f32
    output_dir: str = "runs/export"  # the round-trip report goes here
    check_prompts: list[str] = field(default_factory=lambda: [
        "What is 347 + 285?", "Convert 3 hours to minutes.", "Who wrote Hamlet?", "Tell me about the sea."])
    max_logprob_diff: float = 1.0  # refuse to install when HF and GGUF log-probs differ more (top tokens)


STAGES: dict[str, type] = {
    "generate": GenerateStageConfig,
    "export": ExportStageConfig,
    "sft": SFTStageConfig,
    "merge": MergeStageConfig,
    "mgpo": MGPOStageConfig,
    "distill": DistillStageConfig,
    "instruct-rl": MGPOStageConfig,
}


@dataclass
class PipelineConfig:
    """Stages run in order; a stage without ``model`` starts from the previous stage's output."""

    stages: list[dict[str, Any]] = field(default_factory=list)  # [{"stage": "sft", ...config}]
    output_dir: str = "runs/pipeline"


def from_dict(cls: type, data: dict[str, Any] | None, where: str = "config") -> Any:
    """Build dataclass ``cls`` from a dict, recursing into nested dataclasses; unknown keys fail."""
    data = dict(data or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(fields)}")
    hints = typing.get_type_hints(cls)
    for name, value in data.items():
        target = _dataclass_in(hints[name])
        if target is not None and isinstance(value, dict):
            data[name] = from_dict(target, value, f"{where}.{name}")
        elif name == "paths" and isinstance(value, str):
            data[name] = [value]
    return cls(**data)


def _dataclass_in(hint: Any) -> type | None:
    if dataclasses.is_dataclass(hint):
        return hint
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return next((a for a in typing.get_args(hint) if dataclasses.is_dataclass(a)), None)
    return None


def load_config(path: str | Path, cls: type) -> Any:
    """Load a YAML file into the config dataclass ``cls``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no config file at {path}: see training/configs/ for examples")
    return from_dict(cls, yaml.safe_load(path.read_text()) or {}, where=str(path))
