"""PDF and HTML loaders and the bad files users have: each read, or skipped with a counted reason."""

from __future__ import annotations

import io
import json

import pytest
from typer.testing import CliRunner

from retriever import RetrieverError, read_paths
from retriever.cli import app
from retriever.loaders import Unreadable, read_document

runner = CliRunner()


def _escape(text: str) -> bytes:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").encode("latin-1")


def pdf_bytes(pages: list[str], title: str | None = None) -> bytes:
    """A small valid PDF: one Helvetica text line per line of each page, an optional /Title."""
    n = len(pages)
    objs = {1: b"<< /Type /Catalog /Pages 2 0 R >>",
            2: b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % (5 + 2 * i) for i in range(n)) + b"] /Count %d >>" % n,
            3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"}
    for i, text in enumerate(pages):
        lines = b" ".join(b"(" + _escape(line) + b") Tj T*" for line in text.split("\n"))
        stream = b"BT /F1 11 Tf 14 TL 72 720 Td " + lines + b" ET"
        objs[4 + 2 * i] = b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"
        objs[5 + 2 * i] = (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                           b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (4 + 2 * i))
    info = 4 + 2 * n
    if title:
        objs[info] = b"<< /Title (" + _escape(title) + b") >>"
    out, offsets = bytearray(b"%PDF-1.4\n"), {}
    for k in sorted(objs):
        offsets[k] = len(out)
        out += b"%d 0 obj\n" % k + objs[k] + b"\nendobj\n"
    xref, size = len(out), max(objs) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    out += b"".join(b"%010d 00000 n \n" % offsets.get(k, 0) for k in range(1, size))
    out += b"trailer\n<< /Size %d /Root 1 0 R" % size + (b" /Info %d 0 R" % info if title else b"")
    out += b" >>\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def encrypted(data: bytes, user_password: str) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


ARTICLE = """<!doctype html><html><head><title>Basalt columns</title></head><body>
<nav><a href="/">Home</a> | <a href="/about">About us</a></nav>
<article><h1>Basalt columns</h1>
<p>Columnar jointing forms when a thick lava flow cools and contracts, cracking into tall hexagonal columns.</p>
<p>The Giant's Causeway in Northern Ireland holds about forty thousand interlocking basalt columns.</p>
</article><footer>Copyright 2024. All rights reserved.</footer></body></html>"""


def test_pdf_pages_and_title(tmp_path):
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf_bytes(["Glaciers carve U-shaped valleys.", "Moraines mark (old) ice edges."],
                               title="Ice at work"))
    title, text = read_document(path)
    assert title == "Ice at work"
    assert "U-shaped valleys" in text and "Moraines mark (old) ice edges" in text
    untitled = tmp_path / "field_notes.pdf"
    untitled.write_bytes(pdf_bytes(["Some text."]))
    assert read_document(untitled)[0] == "field notes"


def test_encrypted_and_corrupt_pdfs_are_skipped_with_a_reason(tmp_path):
    plain = pdf_bytes(["Secret plans for a treehouse."])
    locked = tmp_path / "locked.pdf"
    locked.write_bytes(encrypted(plain, "secret"))
    with pytest.raises(Unreadable, match=r"^encrypted PDF \(password protected\)"):
        read_document(locked)
    open_ = tmp_path / "open.pdf"  # encrypted with an empty user password: readable
    open_.write_bytes(encrypted(plain, ""))
    assert "treehouse" in read_document(open_)[1]
    for name, data in {"garbage.pdf": b"%PDF-1.4\n\x00\x01 this is not a pdf",
                       "cut.pdf": plain[: len(plain) // 3], "html.pdf": b"<html>oops</html>"}.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(Unreadable, match=r"^corrupt PDF \("):
            read_document(tmp_path / name)


def test_html_main_text_and_title(tmp_path):
    path = tmp_path / "page.html"
    path.write_text(ARTICLE, encoding="utf-8")
    title, text = read_document(path)
    assert title == "Basalt columns"
    assert "hexagonal columns" in text and "forty thousand" in text
    short = tmp_path / "short.htm"
    short.write_text("<html><body><p>Ice floats.</p></body></html>")
    assert read_document(short)[1] == "Ice floats."


@pytest.mark.parametrize("html", ["<html><head><script>var x = 1;</script></head><body>  </body></html>",
                                  "<html><body><img src='a.png'><div></div></body></html>"])
def test_html_without_text(tmp_path, html):
    path = tmp_path / "empty.html"
    path.write_text(html)
    with pytest.raises(Unreadable, match="HTML without text"):
        read_document(path)


def test_zero_byte_files(tmp_path):
    for name in ("a.txt", "b.pdf", "c.html"):
        (tmp_path / name).write_bytes(b"")
        with pytest.raises(Unreadable, match=r"empty file \(0 bytes\)"):
            read_document(tmp_path / name)


def test_folder_walk_counts_skips_and_keeps_sources(tmp_path):
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "sub" / "page.html").write_text(ARTICLE)
    (docs / "paper.pdf").write_bytes(pdf_bytes(["Lichens are fungi living with algae."], title="Lichens"))
    (docs / "note.md").write_text("# Tides\nThe Moon pulls the oceans.")
    (docs / "rows.jsonl").write_text(json.dumps({"id": "r1", "title": "Row", "text": "A row of text."}) + "\n")
    (docs / "empty.txt").write_bytes(b"")
    (docs / "locked.pdf").write_bytes(encrypted(pdf_bytes(["x"]), "pw"))
    (docs / "photo.png").write_bytes(b"\x89PNG")
    (docs / ".hidden.txt").write_text("not me")
    loaded = read_paths([docs])
    got = {p.id: (p.title, p.source) for p in loaded.passages}
    assert got == {"note.md": ("note", str(docs / "note.md")), "paper.pdf": ("Lichens", str(docs / "paper.pdf")),
                   "r1": ("Row", f"{docs / 'rows.jsonl'}:1"),
                   "sub/page.html": ("Basalt columns", str(docs / "sub" / "page.html"))}
    assert sorted((name.rsplit("/", 1)[-1], why.split(" (")[0]) for name, why in loaded.skipped) == [
        ("empty.txt", "empty file"), ("locked.pdf", "encrypted PDF")]
    assert loaded.ignored == 1
    with pytest.raises(RetrieverError, match=r"cannot read \.png files"):
        read_paths([docs / "photo.png"])
    with pytest.raises(RetrieverError, match="nor an existing file or folder"):
        read_paths([tmp_path / "missing"])


def test_cli_build_add_remove_with_pdf_html_and_bad_files(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "volcano.md").write_text("A volcano is a rupture in the crust of a planet where lava escapes.")
    (docs / "basalt.html").write_text(ARTICLE)
    (docs / "empty.txt").write_bytes(b"")
    out = tmp_path / "idx"
    result = runner.invoke(app, ["build", "--corpus", str(docs), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "skipped" in result.output and "empty.txt: empty file (0 bytes)" in result.output
    result = runner.invoke(app, ["docs", "--index", str(out), "--json"])
    assert {json.loads(line)["title"] for line in result.stdout.splitlines()} == {"volcano", "Basalt columns"}

    (docs / "lichen.pdf").write_bytes(pdf_bytes(["Lichens are fungi living with algae."], title="Lichens"))
    (docs / "copy.md").write_text("A volcano is a rupture in the crust of a planet where lava escapes.")
    (docs / "nothing.html").write_text("<html><body></body></html>")
    result = runner.invoke(app, ["add", str(docs), "--index", str(out)])
    assert result.exit_code == 0, result.output
    assert "1 added" in result.output and "duplicate of volcano.md" in result.output
    assert "nothing.html: HTML without text" in result.output
    result = runner.invoke(app, ["search", "fungi and algae", "-k", "1", "--json", "--index", str(out)])
    assert result.exit_code == 0, (result.output, repr(result.exception))
    assert json.loads(result.stdout)[0]["title"] == "Lichens"

    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "locked.pdf").write_bytes(encrypted(pdf_bytes(["x"]), "pw"))
    result = runner.invoke(app, ["add", str(bad), "--index", str(out)])
    assert result.exit_code == 1 and "holds no readable text" in result.output and "encrypted PDF" in result.output
    result = runner.invoke(app, ["add", str(docs), "--index", str(out), "--model", str(bad)])
    assert result.exit_code == 1 and "built with embedding model 'embedded'" in result.output
    result = runner.invoke(app, ["remove", "no-such-doc", "--index", str(out)])
    assert result.exit_code == 1 and "unknown document id 'no-such-doc'" in result.output
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    result = runner.invoke(app, ["remove", "volcano.md", "--index", str(out)])
    assert result.exit_code == 0 and "1 removed" in result.output
