"""Readers for one file each: plain text and Markdown, PDF (pypdf) and HTML (trafilatura).

`read_document(path)` gives (title, text) or raises Unreadable with a one-line reason, which
the corpus walker counts as a skip. pypdf and trafilatura are imported only for their files.
"""

from __future__ import annotations

import logging
from pathlib import Path


class Unreadable(Exception):
    """A file with nothing to index, and why (one line)."""


def _stem_title(path: Path) -> str:
    return path.stem.replace("_", " ")


def read_text(path: Path) -> tuple[str, str]:
    return _stem_title(path), path.read_text(encoding="utf-8", errors="replace")


def read_pdf(path: Path) -> tuple[str, str]:
    """The text of every page; the title from the PDF's metadata, else the file name."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # malformed files warn once per object
    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")  # many "encrypted" PDFs have an empty user password
            except DependencyError:
                raise Unreadable("encrypted PDF (decrypting it needs `pip install cryptography`)") from None
            if not opened:
                raise Unreadable("encrypted PDF (password protected): decrypt it first, e.g. `qpdf --decrypt`")
        text = "\n\n".join(page.extract_text() or "" for page in reader.pages)
        title = (reader.metadata.title if reader.metadata else None) or ""
    except Unreadable:
        raise
    except Exception as e:  # pypdf raises many types on malformed input; all mean the same here
        raise Unreadable(f"corrupt PDF ({type(e).__name__}: {str(e)[:120]})") from None
    if not text.strip():
        raise Unreadable("PDF without a text layer (scanned pages?): OCR it first, e.g. `ocrmypdf`")
    return str(title).strip() or _stem_title(path), text


def read_html(path: Path) -> tuple[str, str]:
    """The main text of a web page (boilerplate removed); its <title>, else the file name."""
    import trafilatura

    logging.getLogger("trafilatura").setLevel(logging.ERROR)
    raw = path.read_bytes()
    try:
        doc = trafilatura.bare_extraction(raw, include_comments=False, include_tables=True, favor_recall=True,
                                          with_metadata=True)
    except Exception as e:  # lxml and trafilatura raise various types on broken markup
        raise Unreadable(f"unreadable HTML ({type(e).__name__}: {str(e)[:120]})") from None
    text = (getattr(doc, "text", None) or "") if doc is not None else ""
    title = (getattr(doc, "title", None) or "") if doc is not None else ""
    if not text.strip():  # a short page can fall under trafilatura's main-text heuristics
        text = trafilatura.html2txt(raw) or ""
    if not text.strip():
        raise Unreadable("HTML without text")
    return title.strip() or _stem_title(path), text


READERS = {".txt": read_text, ".md": read_text, ".markdown": read_text, ".pdf": read_pdf,
           ".html": read_html, ".htm": read_html}
TABLES = (".jsonl",)  # one document per line (see corpus.load_jsonl)
SUPPORTED = (*READERS, *TABLES)


def read_document(path: Path) -> tuple[str, str]:
    """(title, text) of one file of a type in READERS."""
    try:
        if path.stat().st_size == 0:
            raise Unreadable("empty file (0 bytes)")
        title, text = READERS[path.suffix.lower()](path)
    except OSError as e:
        raise Unreadable(f"cannot read it ({e.strerror or e})") from None
    text = text.strip()
    if not text:
        raise Unreadable("no text")
    return title, text
