"""`corecover index ...`: build, update, search and describe a retrieval index."""

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


def _report_skips(skipped: list[tuple[str, str]], limit: int = 20) -> None:
    """One line per file or document left out (unchanged ones only counted)."""
    shown = [(name, why) for name, why in skipped if why != "unchanged"]
    for name, why in shown[:limit]:
        typer.echo(f"skipped {name}: {why}", err=True)
    if len(shown) > limit:
        typer.echo(f"... and {len(shown) - limit} more skipped", err=True)


ShardSize = Annotated[int, typer.Option(help="passages per resumable embedding shard", min=1)]


@app.command("build")
def build(
    corpus: Annotated[str, typer.Option(help="`default` (embedded Wikipedia summaries), a file (.jsonl, .txt, .md, .pdf, .html) or a folder of them")] = "default",
    out: Annotated[Path | None, typer.Option(help="index folder [default: the default index dir]")] = None,
    model: Annotated[str, typer.Option(help="`embedded` (MiniLM-L6) or a sentence-transformers folder")] = "embedded",
    index_type: Annotated[str, typer.Option(help="auto, flat, hnsw or ivf")] = "auto",
    text_field: Annotated[str, typer.Option(help="JSONL field holding the text")] = "text",
    title_field: Annotated[str, typer.Option(help="JSONL field holding the title")] = "title",
    chunk_tokens: Annotated[int, typer.Option(help="chunk size in model tokens")] = 200,
    overlap: Annotated[int, typer.Option(help="tokens shared by neighbouring chunks")] = 40,
    shard_size: ShardSize = 256,
    rerank: Annotated[bool, typer.Option(help="also train the cross-encoder reranker (once, ~15 min) into "
                                              "$CORECOVER_RERANK_DIR or the user cache")] = False,
    backend: Annotated[Backend, typer.Option(help="faiss: the index folder; qdrant: also export the folder's "
                                                  "passages and vectors to Qdrant (built first if missing)")] = Backend.faiss,
    url: Annotated[str | None, typer.Option(envvar="CORECOVER_RETRIEVER_URL",
                                            help="Qdrant URL, or a folder for its local mode")] = None,
    collection: Annotated[str, typer.Option(envvar="CORECOVER_RETRIEVER_COLLECTION", help="Qdrant collection")] = "corecover",
) -> None:
    """Build an index and save it atomically; reruns embed only passages not embedded yet.

    Resumable: an interrupted build, or a rebuild over an existing index, reuses every vector it has.
    """
    import time

    from retriever import Embedder, RetrieverError, build_index, default_index_dir

    if backend is Backend.qdrant and not url:
        _fail("--backend qdrant needs --url (a Qdrant URL, or a folder for its local mode)")
    if backend is Backend.qdrant and (Path(out or default_index_dir()).expanduser() / "manifest.json").exists():
        return _export(out or default_index_dir(), url, collection)

    started = time.perf_counter()
    try:
        index = build_index(corpus, out, text_field=text_field, title_field=title_field, embedder=Embedder(model),
                            index_type=index_type, chunk_tokens=chunk_tokens, chunk_overlap=overlap,
                            shard_size=shard_size)
    except RetrieverError as e:
        _fail(str(e))
    _report_skips(index.skipped)
    b = index.manifest["build"]
    skipped = f", skipped {len(index.skipped)}" if index.skipped else ""
    typer.echo(f"indexed {len(index)} passages ({index.manifest['documents']} documents{skipped}) into "
               f"{out or default_index_dir()} in {time.perf_counter() - started:.1f} s "
               f"(embedded {b['embedded']}, reused {b['reused'] + b['resumed']})", err=True)
    if rerank:
        from retriever.rerank_train import build_reranker

        started = time.perf_counter()
        try:
            path = build_reranker(index)
        except RetrieverError as e:
            _fail(str(e))
        typer.echo(f"trained the reranker into {path} in {time.perf_counter() - started:.1f} s", err=True)
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


@app.command("add")
def add(
    paths: Annotated[list[Path], typer.Argument(help="files (.txt, .md, .pdf, .html, .jsonl) or folders")],
    index_dir: IndexDir = None,
    update: Annotated[bool, typer.Option("--update", help="replace documents whose content changed")] = False,
    model: Annotated[str | None, typer.Option(help="embedding model [default: the index's own]")] = None,
    text_field: Annotated[str, typer.Option(help="JSONL field holding the text")] = "text",
    title_field: Annotated[str, typer.Option(help="JSONL field holding the title")] = "title",
    shard_size: ShardSize = 256,
) -> None:
    """Add documents to an index in place, atomically, embedding only their passages.

    Unchanged and duplicate documents and unreadable files are skipped and counted.
    """
    import time

    from retriever import Embedder, RetrieverError, add_documents, default_index_dir, read_paths
    from retriever.corpus import no_text_message
    from retriever.storage import read_manifest

    started = time.perf_counter()
    path = index_dir or default_index_dir()
    try:
        corpus = read_manifest(path, verify=False).get("corpus") or ""
        root = corpus if Path(corpus).is_absolute() and Path(corpus).is_dir() else None  # keep the folder's ids
        loaded = read_paths(paths, root=root, text_field=text_field, title_field=title_field)
        if not loaded.passages:
            raise RetrieverError(no_text_message(" ".join(map(str, paths)), loaded) + "; the index is unchanged")
        index, changes = add_documents(path, loaded.passages, embedder=Embedder(model) if model else None,
                                       update=update, shard_size=shard_size)
    except RetrieverError as e:
        _fail(str(e))
    changes.skipped[:0] = loaded.skipped
    _report_skips(changes.skipped)
    b = index.manifest["build"] if changes.added or changes.updated else {"embedded": 0}
    ignored = f"; {loaded.ignored} files of other types ignored" if loaded.ignored else ""
    typer.echo(f"{changes.summary()}{ignored}: {path} holds {len(index)} passages ({len(index.documents)} "
               f"documents); embedded {b['embedded']} passages in {time.perf_counter() - started:.1f} s", err=True)


@app.command("remove")
def remove(
    ids: Annotated[list[str], typer.Argument(help="document ids (see `corecover index docs`)")],
    index_dir: IndexDir = None,
) -> None:
    """Remove documents (all their passages) from an index in place, atomically. Embeds nothing."""
    from retriever import RetrieverError, default_index_dir, remove_documents

    path = index_dir or default_index_dir()
    try:
        index, changes = remove_documents(path, ids)
    except RetrieverError as e:
        _fail(str(e))
    typer.echo(f"{changes.summary()}: {path} holds {len(index)} passages ({len(index.documents)} documents)",
               err=True)


@app.command("docs")
def docs(
    index_dir: IndexDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON lines")] = False,
) -> None:
    """List the documents of an index: id, passages, title, source."""
    from retriever import RetrieverError, default_index_dir
    from retriever.index import DOCUMENTS_FILE
    from retriever.storage import read_manifest

    path = index_dir or default_index_dir()
    try:
        if read_manifest(path, verify=False)["format_version"] < 2:
            raise RetrieverError(f"{path} has format version 1, without a document list; "
                                 f"rebuild it (nothing is embedded again)")
        lines = (path / DOCUMENTS_FILE).read_text(encoding="utf-8").splitlines()
    except (RetrieverError, OSError) as e:
        _fail(str(e))
    for line in lines:
        if as_json:
            print(line)
        else:
            d = json.loads(line)
            print(f"{d['id']}\t{d['chunks']}\t{d['title']}\t{d['source']}")


@app.command("search")
def search(
    query: Annotated[str, typer.Argument(help="the question or keywords")],
    k: Annotated[int, typer.Option("-k", help="number of passages")] = 5,
    mode: Annotated[Mode, typer.Option(help="hybrid, dense or bm25")] = Mode.hybrid,
    as_json: Annotated[bool, typer.Option("--json", help="print a JSON list of hits")] = False,
    index_dir: IndexDir = None,
    rerank: Annotated[bool | None, typer.Option("--rerank/--no-rerank", help="rerank the hybrid candidates "
                                                "[default: the index's setting, off]")] = None,
) -> None:
    """Search the index (the default one unless --index is given)."""
    from retriever import RetrieverError

    index = _open(index_dir)
    try:
        hits = index.search(query, k=k, mode=mode.value, rerank=rerank)
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


if __name__ == "__main__":
    app()
