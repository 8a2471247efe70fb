"""One record format for every stage: chat messages plus a verifiable reward spec.

A record is a JSON object per line::

    {"id": "add-17", "domain": "math",
     "messages": [{"role": "user", "content": "What is 3 + 4?"},
                  {"role": "assistant", "content": "3 + 4 = \\\\boxed{7}"}],
     "reward": {"kind": "math", "answer": "7"}}

Reward kinds: ``math`` (``answer``), ``code`` (``tests``), ``option`` (``answer``: a letter),
``ifeval`` (``instruction_ids``, ``kwargs``), ``rubric`` (``rubric``: free text for a judge).
SFT uses the messages as they are; RL uses the messages before the last assistant turn as
the prompt.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REWARD_KINDS = {
    "math": ("answer",),
    "code": ("tests",),
    "option": ("answer",),
    "ifeval": ("instruction_ids", "kwargs"),
    "rubric": ("rubric",),
}


@dataclass
class Record:
    """A training example: chat messages and how to verify an answer to them."""

    messages: list[dict[str, str]]
    reward: dict[str, Any]
    domain: str = "math"
    id: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        kind = self.reward.get("kind")
        if kind not in REWARD_KINDS:
            raise ValueError(f"record {self.id!r}: reward kind {kind!r} is unknown; use one of "
                             f"{', '.join(REWARD_KINDS)}")
        missing = [key for key in REWARD_KINDS[kind] if key not in self.reward]
        if missing:
            raise ValueError(f"record {self.id!r}: a {kind} reward needs {', '.join(missing)}")
        if not self.messages or not any(m.get("role") == "user" for m in self.messages):
            raise ValueError(f"record {self.id!r}: messages need at least one user turn")

    @property
    def prompt(self) -> list[dict[str, str]]:
        """The messages before the last assistant turn (what a policy answers in RL)."""
        last = max((i for i, m in enumerate(self.messages) if m["role"] == "assistant"), default=None)
        return list(self.messages[:last]) if last is not None else list(self.messages)

    @property
    def response(self) -> str | None:
        """The last assistant turn, if any (an SFT target or a teacher trace)."""
        answers = [m["content"] for m in self.messages if m["role"] == "assistant"]
        return answers[-1] if answers else None

    @property
    def question(self) -> str:
        """The last user turn's text."""
        return next(m["content"] for m in reversed(self.prompt) if m["role"] == "user")

    def with_response(self, text: str, **meta: Any) -> Record:
        """A copy whose last assistant turn is ``text`` (and extra metadata)."""
        return Record(messages=[*self.prompt, {"role": "assistant", "content": text}], reward=self.reward,
                      domain=self.domain, id=self.id, meta={**self.meta, **meta})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_records(paths: str | Path | Iterable[str | Path]) -> list[Record]:
    """Read records from one or more JSONL files; a bad line raises with its file and line number."""
    if isinstance(paths, str | Path):
        paths = [paths]
    records: list[Record] = []
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no data file at {path}: pass a JSONL file of records")
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    records.append(Record(**json.loads(line)))
                except (ValueError, TypeError) as exc:
                    raise ValueError(f"{path}:{number}: {exc}") from exc
    return records


def write_records(records: Iterable[Record], path: str | Path) -> Path:
    """Write records as JSONL (atomically: a temp file renamed into place)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record.to_dict(), ensure_ascii=False) + "\n")
    tmp.replace(path)
    return path


def sft_dataset(records: list[Record]):
    """A conversational prompt-completion ``datasets.Dataset`` for TRL's SFTTrainer: the loss falls on
    the last assistant turn only (TRL's ``completion_only_loss``). Records need a response."""
    from datasets import Dataset

    missing = [r.id for r in records if r.response is None]
    if missing:
        raise ValueError(f"{len(missing)} records have no assistant turn to learn (e.g. {missing[0]!r})")
    return Dataset.from_list([{"prompt": r.prompt, "completion": [{"role": "assistant", "content": r.response}]}
                              for r in records])


def rl_dataset(records: list[Record]):
    """A ``datasets.Dataset`` with ``prompt`` (chat) and ``reward``/``domain`` columns for GRPO."""
    from datasets import Dataset

    return Dataset.from_list([{"prompt": r.prompt, "reward": json.dumps(r.reward), "domain": r.domain,
                               "record_id": r.id} for r in records])
