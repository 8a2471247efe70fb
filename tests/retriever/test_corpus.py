"""Corpus loaders and token chunking."""

from __future__ import annotations

import json

import pytest

from retriever import Passage, RetrieverError, corpus_hash, load_corpus, load_folder, load_jsonl
from retriever.chunking import chunk_passages


def test_embedded_corpus():
    passages = load_corpus("default")
    assert len(passages) > 10_000
    assert len({p.id for p in passages}) == len(passages)
    first = passages[0]
    assert first.title and first.text and first.source.startswith("https://en.wikipedia.org/wiki/")


def test_jsonl_with_configured_fields(tmp_path):
    path = tmp_path / "docs.jsonl"
    rows = [{"body": "Río de la Plata is an estuary.", "name": "Río de la Plata", "url": "u1"},
            {"body": "  "}, {"body": "Second text.", "name": "Two"}]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n\n", encoding="utf-8")
    passages = load_jsonl(path, text_field="body", title_field="name", source_field="url")
    assert [p.title for p in passages] == ["Río de la Plata", "Two"]
    assert passages[0].source == "u1" and passages[1].source.endswith("docs.jsonl:3")
    assert load_corpus(path, text_field="body", title_field="name")[0].title == "Río de la Plata"
    with pytest.raises(RetrieverError, match="no string field 'text'"):
        load_jsonl(path)


def test_bad_jsonl_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "ok"}\n{oops\n')
    with pytest.raises(RetrieverError, match=r"bad.jsonl:2: not valid JSON"):
        load_jsonl(path)


def test_folder_of_text_files(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "first_note.md").write_text("# Heading\nSome markdown.")
    (tmp_path / "b.txt").write_text("Plain text.")
    (tmp_path / "skip.pdf").write_text("not text")
    passages = load_folder(tmp_path)
    assert [(p.id, p.title) for p in passages] == [("b.txt", "b"), ("sub/first_note.md", "first note")]


def test_bad_corpus_argument(tmp_path):
    with pytest.raises(RetrieverError, match="is not `default`"):
        load_corpus(tmp_path / "missing.csv")
    with pytest.raises(RetrieverError, match="holds no readable text"):
        load_corpus(tmp_path)


def test_chunking_keeps_title_source_and_overlaps(embedder):
    words = [f"word{i}" for i in range(300)]
    long = Passage(id="long", title="Long one", text=" ".join(words), source="src")
    short = Passage(id="short", title="Short", text="Just a few words.", source="s2")
    chunks = chunk_passages([long, short], embedder.tokenizer, max_tokens=64, overlap=16)
    assert chunks[-1] == short
    pieces = chunks[:-1]
    assert len(pieces) > 2
    assert [c.id for c in pieces] == [f"long#{n}" for n in range(len(pieces))]
    assert all(c.title == "Long one" and c.source == "src" for c in pieces)
    assert all(len(embedder.tokenizer(c.text, add_special_tokens=False)["input_ids"]) <= 64 for c in pieces)
    assert pieces[0].text.startswith("word0") and pieces[-1].text.endswith("word299")
    tail = pieces[0].text.split()[-2]
    assert tail in pieces[1].text  # neighbours share the overlap
    with pytest.raises(RetrieverError, match="overlap"):
        chunk_passages([long], embedder.tokenizer, max_tokens=64, overlap=64)


def test_corpus_hash_sees_every_field():
    a = Passage("1", "t", "x", "s")
    assert corpus_hash([a]) != corpus_hash([Passage("1", "t", "x", "other")])
    assert corpus_hash([a]) == corpus_hash([Passage("1", "t", "x", "s")])


def test_passage_coerce():
    assert Passage.coerce({"id": 3, "title": "T", "text": "body"}) == Passage("3", "T", "body", "")
    with pytest.raises(RetrieverError, match="needs at least a `text`"):
        Passage.coerce({"title": "no text"})
