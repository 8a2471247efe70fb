"""`corecover index ...`: build, search and describe a retrieval index."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Build and search the retrieval index (FAISS + BM25 hybrid).", no_args_is_help=True)

IndexDir = Annotated[Path | None, typer.Option("--index", help="index folder [default: the default index]")]


class Backend(StrEnum):
    faiss = "faiss"
    qdrant = "qdrant"


class Mode(StrEnum):
    hybrid = "hybrid"
    dense = "dense"
    bm25 = "bm25"


def _fail(message: str) -> None:
    from rich.console import Console

    Console(stderr=True).print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def _open(index_dir: Path | None):
    from retriever import RetrieverError, load_default_index
    from retriever.index import Index

    try:
        return Index.load(index_dir) if index_dir else load_default_index()
    except RetrieverError as e:
        _fail(str(e))


@app.command("build")
def build(
    corpus: Annotated[str, typer.Option(help="`default` (embedded Wikipedia summaries), a .jsonl file or a folder of .txt/.md")] = "default",
    out: Annotated[Path | None, typer.Option(help="index folder [default: the default index dir]")] = None,
    model: Annotated[str, typer.Option(help="`embedded` (MiniLM-L6) or a sentence-transformers folder")] = "embedded",
    index_type: Annotated[str, typer.Option(help="auto, flat, hnsw or ivf")] = "auto",
    text_field: Annotated[str, typer.Option(help="JSONL field holding the text")] = "text",
    title_field: Annotated[str, typer.Option(help="JSONL field holding the title")] = "title",
    chunk_tokens: Annotated[int, typer.Option(help="chunk size in model tokens")] = 200,
    overlap: Annotated[int, typer.Option(help="tokens shared by neighbouring chunks")] = 40,
    backend: Annotated[Backend, typer.Option(help="faiss: the index folder; qdrant: also export the folder's "
                                                  "passages and vectors to Qdrant (built first if missing)")] = Backend.faiss,
    url: Annotated[str | None, typer.Option(envvar="CORECOVER_RETRIEVER_URL",
                                            help="Qdrant URL, or a folder for its local mode")] = None,
    collection: Annotated[str, typer.Option(envvar="CORECOVER_RETRIEVER_COLLECTION", help="Qdrant collection")] = "corecover",
) -> None:
    """Build an index (resumable: an interrupted build picks up where it stopped) and save it atomically."""
    import time

    from retriever import Embedder, RetrieverError, build_index, default_index_dir

    if backend is Backend.qdrant and not url:
        _fail("--backend qdrant needs --url (a Qdrant URL, or a folder for its local mode)")
    if backend is Backend.qdrant and (Path(out or default_index_dir()).expanduser() / "manifest.json").exists():
        return _export(out or default_index_dir(), url, collection)

    started = time.perf_counter()
    try:
        index = build_index(corpus, out, text_field=text_field, title_field=title_field, embedder=Embedder(model),
                            index_type=index_type, chunk_tokens=chunk_tokens, chunk_overlap=overlap)
    except RetrieverError as e:
        _fail(str(e))
    b = index.manifest["build"]
    typer.echo(f"indexed {len(index)} passages ({index.manifest['documents']} documents) into "
               f"{out or default_index_dir()} in {time.perf_counter() - started:.1f} s "
               f"(embedded {b['embedded']}, reused {b['reused']})", err=True)
    if backend is Backend.qdrant:
        _export(out or default_index_dir(), url, collection)


def _export(index_dir: Path, url: str, collection: str) -> None:
    """Copy the index folder's passages, vectors and BM25 scores into Qdrant (nothing is re-embedded)."""
    import time

    from retriever import RetrieverError
    from retriever.qdrant import QdrantIndex, masked

    started = time.perf_counter()
    try:
        store = QdrantIndex.export(_open(index_dir), url, collection, progress=True)
    except RetrieverError as e:
        _fail(str(e))
    typer.echo(f"exported {len(store)} passages from {index_dir} to Qdrant {masked(url)} collection "
               f"{collection!r} in {time.perf_counter() - started:.1f} s (nothing re-embedded)", err=True)


@app.command("search")
def search(
    query: Annotated[str, typer.Argument(help="the question or keywords")],
    k: Annotated[int, typer.Option("-k", help="number of passages")] = 5,
    mode: Annotated[Mode, typer.Option(help="hybrid, dense or bm25")] = Mode.hybrid,
    as_json: Annotated[bool, typer.Option("--json", help="print a JSON list of hits")] = False,
    index_dir: IndexDir = None,
) -> None:
    """Search the index (the default one unless --index is given)."""
    from retriever import RetrieverError

    index = _open(index_dir)
    try:
        hits = index.search(query, k=k, mode=mode.value)
    except RetrieverError as e:
        _fail(str(e))
    if as_json:
        print(json.dumps([h.to_dict() for h in hits], indent=2, ensure_ascii=False))
        return
    from rich.console import Console

    console = Console()
    for h in hits:
        console.print(f"[bold]{h.rank}. {h.title}[/]  [dim]{mode.value} score {h.score:.4f}  {h.source}[/]",
                      highlight=False)
        console.print(h.text if len(h.text) <= 400 else h.text[:400] + "…", highlight=False)
        console.print()


@app.command("info")
def info(
    index_dir: IndexDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the manifest as JSON")] = False,
) -> None:
    """Describe an index: model, size, corpus, files (checks the manifest; builds nothing)."""
    from retriever import RetrieverError, default_index_dir
    from retriever.storage import read_manifest

    path = index_dir or default_index_dir()
    try:
        manifest = read_manifest(path)
    except RetrieverError as e:
        _fail(str(e))
    if as_json:
        print(json.dumps(manifest, indent=2, ensure_ascii=False))
        return
    size = sum(f["bytes"] for f in manifest["files"].values())
    rows = {
        "path": str(path),
        "passages": f"{manifest['count']} ({manifest.get('documents')} documents)",
        "corpus": f"{manifest.get('corpus')} {manifest.get('corpus_version') or ''}".strip(),
        "corpus hash": manifest["corpus_hash"][:16],
        "embedding model": f"{manifest['embedding_model']} (dim {manifest['dimension']})",
        "faiss": manifest.get("faiss", {}).get("kind"),
        "bm25": json.dumps(manifest.get("bm25")),
        "built": f"{manifest.get('created')}, {json.dumps(manifest.get('build'))}",
        "size": f"{size / 1e6:.1f} MB in {len(manifest['files'])} files",
        "format": f"{manifest['format']} v{manifest['format_version']}",
    }
    width = max(map(len, rows))
    for key, value in rows.items():
        typer.echo(f"{key:<{width}}  {value}")
