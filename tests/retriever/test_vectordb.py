"""The index in Qdrant (qdrant-client's local mode, for real), against the FAISS + BM25 index it came from."""

from __future__ import annotations

import shutil
import socket
import threading

import numpy as np
import pytest

pytest.importorskip("qdrant_client", reason="the vectordb extra (qdrant-client) is not installed")

from typer.testing import CliRunner

from retriever import Embedder, Index, RetrieverError
from retriever.qdrant import QdrantIndex, RetrievalUnavailable, connect

QUERIES = ["famous painting by Leonardo", "speed of light in vacuum", "the French revolution revolution",
           "largest planet of the solar system"]


@pytest.fixture(scope="module")
def exported(slice_dir, tmp_path_factory):
    """The slice exported once into a local-mode folder (the exporting client closed after)."""
    folder = tmp_path_factory.mktemp("qdrant") / "db"
    store = QdrantIndex.export(Index.load(slice_dir), str(folder))
    store.close()
    return folder


@pytest.fixture(scope="module")
def store(exported, embedder):
    store = QdrantIndex.open(str(exported), embedder=embedder)
    yield store
    store.close()


@pytest.mark.parametrize("mode", ["dense", "bm25"])
def test_search_matches_the_index_it_was_exported_from(store, slice_index, mode):
    for query in QUERIES:
        ours, theirs = store.search(query, k=5, mode=mode), slice_index.search(query, k=5, mode=mode)
        # the same passages with the same scores (equal scores may come in either order)
        assert sorted((round(h.score, 4), h.id) for h in ours) == sorted((round(h.score, 4), h.id) for h in theirs)
        assert [h.rank for h in ours] == list(range(1, len(ours) + 1))
        texts = {h.id: (h.title, h.text, h.source) for h in theirs}
        assert all(texts[h.id] == (h.title, h.text, h.source) for h in ours)


def test_hybrid_fuses_the_same_evidence(store, slice_index):
    for query in QUERIES:
        ours, theirs = store.search(query, k=5), slice_index.search(query, k=5)
        assert ours[0].id == theirs[0].id and len({h.id for h in ours} & {h.id for h in theirs}) >= 4, query
        known = {h.id: h.scores for h in theirs}
        for h in ours:
            for name in ("dense", "bm25"):
                if h.id in known and name in known[h.id]:
                    assert h.scores[name] == pytest.approx(known[h.id][name], rel=1e-4, abs=1e-5)


def test_hybrid_hits_carry_each_retrievers_scores(store, slice_index):
    query = "who painted the Mona Lisa"
    vector = slice_index.embedder.encode_query(query)
    ours = {h.id: h.scores for h in store.search(query, k=5, query_vector=vector)}
    theirs = {h.id: h.scores for h in slice_index.search(query, k=5, query_vector=vector)}
    assert ours.keys() == theirs.keys()
    for pid, scores in ours.items():
        assert scores.keys() == theirs[pid].keys() and "dense" in scores  # the grade step reads the cosine
        assert scores["dense"] == pytest.approx(theirs[pid]["dense"], abs=1e-5)


def test_bm25_without_a_known_term_finds_nothing(store):
    assert store.search("the of and", k=3, mode="bm25") == []
    assert len(store.search("the of and", k=3, mode="hybrid")) == 3  # dense still answers


def test_bad_queries_are_clear_errors(store):
    for kwargs, words in [({"query": "  "}, "empty"), ({"query": "x", "mode": "fuzzy"}, "mode"),
                          ({"query": "x", "k": 0}, "k must"),
                          ({"query": "x", "query_vector": np.zeros(7, dtype=np.float32)}, "dimensions")]:
        with pytest.raises(RetrieverError, match=words):
            store.search(**kwargs)


def test_open_checks_the_collection_and_the_model(exported, store, tmp_path):
    with pytest.raises(RetrieverError, match="corecover index build --backend qdrant"):
        QdrantIndex.open(str(tmp_path / "empty"))
    with pytest.raises(RetrieverError, match="embedding model"):
        QdrantIndex.open(":memory:", client=store.client, embedder=Embedder("/no/such/model"))
    assert len(store) == store.manifest["count"] == store.client.count(store.collection).count


def test_export_again_switches_the_alias_and_drops_the_old_copy(slice_index):
    client = connect(":memory:")
    small = Index(slice_index.passages[:40], slice_index.dense, slice_index.bm25, slice_index.embedder,
                  {**slice_index.manifest, "count": 40})
    first = QdrantIndex.export(small, ":memory:", client=client, batch=16)
    assert len(first) == 40 and client.count("corecover").count == 40
    QdrantIndex.export(slice_index, ":memory:", client=client)
    names = [c.name for c in client.get_collections().collections]
    assert len(names) == 1 and client.count("corecover").count == len(slice_index)
    assert QdrantIndex.open(":memory:", client=client).search("Mona Lisa", k=1)
    client.create_collection("plain", vectors_config={})
    with pytest.raises(RetrieverError, match="not an alias"):
        QdrantIndex.export(small, ":memory:", "plain", client=client)


@pytest.fixture
def dead_port():
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def silent_port():
    """A loopback port that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_unreachable_database_is_one_clear_line_with_the_password_masked(dead_port):
    url = f"http://reader:s3cret@127.0.0.1:{dead_port}"
    with pytest.raises(RetrievalUnavailable) as info:
        QdrantIndex.open(url, timeout=1)
    message = str(info.value)
    assert "retrieval unavailable" in message and f"127.0.0.1:{dead_port}" in message
    assert "s3cret" not in message and "****" in message and "\n" not in message


def test_database_that_stops_answering_fails_searches_clearly(store, silent_port, embedder):
    url = f"http://127.0.0.1:{silent_port}"
    dead = QdrantIndex(connect(url, timeout=1), url, store.collection, store.manifest, embedder)
    with pytest.raises(RetrievalUnavailable, match="failed to search"):
        dead.search("Mona Lisa", k=3)
    assert store.search("Mona Lisa", k=3)  # a healthy store is untouched by another's failure


def test_cli_build_exports_the_existing_index_without_embedding(slice_dir, tmp_path):
    from retriever.cli import app

    target = tmp_path / "db"
    result = CliRunner().invoke(app, ["build", "--backend", "qdrant", "--url", str(target), "--out", str(slice_dir)])
    assert result.exit_code == 0, result.output
    assert "nothing re-embedded" in result.output
    exported = QdrantIndex.open(str(target))
    try:
        assert len(exported) == Index.load(slice_dir).manifest["count"]
    finally:
        exported.close()
    result = CliRunner().invoke(app, ["build", "--backend", "qdrant", "--out", str(slice_dir)])
    assert result.exit_code == 1 and "--url" in result.output


async def test_agent_on_qdrant_answers_and_says_when_retrieval_is_down(exported, slice_passages, dead_port,
                                                                       tmp_path):
    from agent.config import Settings
    from agent.runner import AgentRunner

    folder = tmp_path / "db"  # local mode allows one client per folder: the agent gets its own copy
    shutil.copytree(exported, folder, ignore=shutil.ignore_patterns(".lock"))
    base = {"checkpoint_db": tmp_path / "threads.sqlite", "reasoner_max_tokens": 32, "reasoner_temperature": 0.0,
            "retriever_backend": "qdrant"}
    agent = AgentRunner(Settings(**base, retriever_url=str(folder)))
    topic = slice_passages[3].title
    try:
        result = await agent.ainvoke(f"What is {topic}?", route="knowledge")
        titles = {c["title"] for c in result["citations"]}
        assert topic in titles and titles <= {p.title for p in slice_passages}, result
    finally:
        await agent.aclose()
    down = AgentRunner(Settings(**base | {"checkpoint_db": tmp_path / "t2.sqlite"},
                                retriever_url=f"http://127.0.0.1:{dead_port}"))
    try:
        answered = await down.ainvoke("What is 2 + 3?", route="reason")  # no retrieval needed: it answers
        assert answered["answer"] and answered["route"] == "reason"
        with pytest.raises(RetrievalUnavailable, match="retrieval unavailable"):
            await down.ainvoke("Who painted the Mona Lisa?", route="knowledge")
    finally:
        await down.aclose()


def test_search_ef_setting_reaches_the_index(exported, embedder, tmp_path):
    from agent.components import _index
    from agent.config import Settings
    from retriever.qdrant import SEARCH_EF

    folder = tmp_path / "db"
    shutil.copytree(exported, folder, ignore=shutil.ignore_patterns(".lock"))
    settings = Settings(retriever_backend="qdrant", retriever_url=str(folder), retriever_search_ef=4096)
    index = _index(settings, embedder)
    try:
        assert index.search_ef == 4096
    finally:
        index.close()
    default = _index(Settings(retriever_backend="qdrant", retriever_url=str(folder)), embedder)
    try:
        assert default.search_ef == SEARCH_EF
    finally:
        default.close()
    with pytest.raises(ValueError, match="retriever_search_ef"):
        Settings(retriever_search_ef=0)
