"""`add_documents` / `remove_documents`: in place, atomic, consistent, embedding only new passages."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import pytest

from retriever import Embedder, Index, RetrieverError, add_documents, build_index, remove_documents
from retriever.corpus import corpus_hash


def snapshot(folder):
    """Every file under `folder` with its bytes: equal snapshots mean a byte-identical index."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def ranking(index, query, mode):
    return {h.id: round(h.score, 4) for h in index.search(query, k=len(index), mode=mode)}


@pytest.fixture(scope="module")
def docs(slice_passages):
    """16 documents; the 6th and the 15th long enough to be cut into several passages."""
    docs = slice_passages[40:56]
    for i, start in ((5, 100), (14, 104)):
        docs[i] = replace(docs[i], text=" ".join(p.text for p in slice_passages[start:start + 4]))
    return docs


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory, docs, embedder):
    """An index of the first 12 documents, saved once; tests copy it."""
    path = tmp_path_factory.mktemp("base") / "idx"
    Index.build(docs[:12], embedder, work_dir=tmp_path_factory.mktemp("work"), progress=False).save(path)
    return path


@pytest.fixture
def idx(tmp_path, base_dir):
    path = tmp_path / "idx"
    shutil.copytree(base_dir, path)
    return path


def test_add_embeds_only_new_passages_and_equals_a_full_build(idx, tmp_path, docs, embedder, counting_embedder):
    new, changes = add_documents(idx, docs[12:], embedder=counting_embedder, work_dir=tmp_path / "w", progress=False)
    assert changes.added == [d.id for d in docs[12:]] and not changes.skipped
    full = Index.build(docs, embedder, work_dir=tmp_path / "fresh", progress=False)
    assert counting_embedder.encoded == sum(d.chunks for d in new.documents[12:]) < len(full)
    loaded = Index.load(idx, embedder)  # checksums, counts and document rows all agree
    assert loaded.manifest["corpus_hash"] == corpus_hash(loaded.passages)
    assert [d.id for d in loaded.documents] == [d.id for d in docs]
    assert loaded.manifest["build"]["embedded"] == counting_embedder.encoded
    assert loaded.manifest["updates"][-1]["added"] == 4
    for query in (docs[13].text[:60], docs[2].title, "history of science"):
        for mode in ("dense", "bm25"):
            assert ranking(loaded, query, mode) == ranking(full, query, mode)


def test_remove_embeds_nothing_and_equals_a_build_without_them(idx, tmp_path, docs, embedder):
    gone = [docs[1].id, docs[7].id]
    new, changes = remove_documents(idx, gone)
    assert changes.removed == gone and new.manifest["build"]["embedded"] == 0
    loaded = Index.load(idx, embedder)
    rest = [d for d in docs[:12] if d.id not in gone]
    assert [d.id for d in loaded.documents] == [d.id for d in rest]
    assert not {h.id.split("#")[0] for h in loaded.search(docs[1].text[:60], k=len(loaded), mode="bm25")} & set(gone)
    full = Index.build(rest, embedder, work_dir=tmp_path / "fresh", progress=False)
    query = docs[3].text[:60]
    assert ranking(loaded, query, "dense") == ranking(full, query, "dense")
    assert ranking(loaded, query, "bm25") == ranking(full, query, "bm25")


def test_unchanged_and_duplicate_documents_are_counted_skips(idx, tmp_path, docs, counting_embedder):
    before = snapshot(idx)
    again = replace(docs[0])
    twin = replace(docs[1], id="a copy", title="Another title")
    _, changes = add_documents(idx, [again, twin], embedder=counting_embedder, work_dir=tmp_path, progress=False)
    assert changes.skipped == [(docs[0].id, "unchanged"), ("a copy", f"duplicate of {docs[1].id}")]
    assert not changes.added and counting_embedder.encoded == 0
    assert snapshot(idx) == before  # nothing to do: nothing written
    with pytest.raises(RetrieverError, match="occurs twice in the input; nothing was added"):
        add_documents(idx, [docs[12], docs[12]], progress=False)
    assert snapshot(idx) == before


def test_changed_document_is_skipped_unless_update(idx, tmp_path, docs, counting_embedder):
    edited = replace(docs[5], text=docs[5].text + " It was edited later.")
    before = snapshot(idx)
    _, changes = add_documents(idx, [edited], embedder=counting_embedder, work_dir=tmp_path / "w", progress=False)
    assert changes.skipped == [(docs[5].id, "changed: pass --update to replace it")]
    assert snapshot(idx) == before
    new, changes = add_documents(idx, [edited], embedder=counting_embedder, update=True,
                                 work_dir=tmp_path / "w", progress=False)
    assert changes.updated == [docs[5].id]
    record = next(d for d in new.documents if d.id == docs[5].id)
    assert record.chunks > 2 and 1 <= counting_embedder.encoded < record.chunks  # untouched passages keep their vectors
    texts = [p.text for p in Index.load(idx).passages if p.id.split("#")[0] == docs[5].id]
    assert texts[-1].endswith("It was edited later.")


def test_bad_removals_change_nothing(idx, docs):
    before = snapshot(idx)
    with pytest.raises(RetrieverError, match=r"unknown document id 'nope'; nothing was removed"):
        remove_documents(idx, [docs[0].id, "nope"])
    long_doc = next(p.id for p in Index.load(idx).passages if "#" in p.id)
    with pytest.raises(RetrieverError, match="is a passage of document"):
        remove_documents(idx, [long_doc])
    with pytest.raises(RetrieverError, match="empty index"):
        remove_documents(idx, [d.id for d in docs[:12]])
    assert snapshot(idx) == before


def test_another_embedding_model_is_refused(idx, tmp_path, docs):
    before = snapshot(idx)
    with pytest.raises(RetrieverError, match="built with embedding model 'embedded'"):
        add_documents(idx, docs[12:], embedder=Embedder(str(tmp_path)), progress=False)
    manifest = json.loads((idx / "manifest.json").read_text())
    manifest["embedding_fingerprint"] = "0" * 16  # the same model name, other files
    (idx / "manifest.json").write_text(json.dumps(manifest))
    before = snapshot(idx)
    with pytest.raises(RetrieverError, match="another version of embedding model"):
        add_documents(idx, docs[12:], progress=False)
    assert snapshot(idx) == before


def test_build_skips_duplicate_documents(tmp_path, docs, embedder):
    index = Index.build([*docs[:3], replace(docs[0], id="again")], embedder, work_dir=tmp_path, progress=False)
    assert index.skipped == [("again", f"duplicate of {docs[0].id}")]
    assert [d.id for d in index.documents] == [d.id for d in docs[:3]]


def test_format_1_index_is_read_and_rebuilt_without_embedding(idx, tmp_path, docs, embedder, counting_embedder):
    manifest = json.loads((idx / "manifest.json").read_text())
    del manifest["files"]["documents.jsonl"], manifest["embedding_fingerprint"], manifest["updates"]
    manifest["format_version"] = 1
    (idx / "documents.jsonl").unlink()
    (idx / "manifest.json").write_text(json.dumps(manifest))
    old = Index.load(idx, embedder)
    assert old.documents is None and old.search(docs[0].title, k=1)[0].id.startswith(docs[0].id)
    with pytest.raises(RetrieverError, match=r"format version 1.*corecover index build"):
        add_documents(idx, docs[12:], progress=False)
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(d.to_dict()) + "\n" for d in docs[:12]))
    rebuilt = build_index(corpus, idx, embedder=counting_embedder, work_dir=tmp_path / "w", progress=False)
    assert counting_embedder.encoded == 0 and rebuilt.manifest["build"]["reused"] == len(rebuilt)
    assert Index.load(idx).manifest["format_version"] == 2


def test_concurrent_updates_both_land(idx, docs):
    """Writers hold the index's lock across read-modify-write: no update is lost."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda doc_id: remove_documents(idx, [doc_id]), [docs[0].id, docs[1].id]))
    assert {d.id for d in Index.load(idx).documents} == {d.id for d in docs[2:12]}
