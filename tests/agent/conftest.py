"""A small real index (a slice of the embedded corpus) and settings that keep the reasoner short."""

from __future__ import annotations

import pytest

TOPICS = ("Mona Lisa", "Leonardo da Vinci", "Isaac Newton", "Albert Einstein", "Paris", "Mount Everest",
          "Eiffel Tower", "William Shakespeare", "Hamlet", "Moon")


@pytest.fixture(scope="session")
def slice_index():
    """~300 real corpus passages with the topics the tests ask about, embedded with MiniLM."""
    from retriever import Index, load_corpus

    passages = load_corpus("default")
    chosen = [p for p in passages if p.title in TOPICS]
    chosen += [p for p in passages[:300] if p.title not in TOPICS]
    return Index.build(chosen, progress=False)


@pytest.fixture
def settings(tmp_path):
    from agent.config import Settings

    return Settings(checkpoint_db=tmp_path / "threads.sqlite", reasoner_max_tokens=48,
                    reasoner_temperature=0.0)


@pytest.fixture
def facts():
    """Two passages with a life range each, as the corpus summaries write them."""
    return [{"n": 1, "title": "Isaac Newton", "text": "Sir Isaac Newton (25 December 1642 – 20 March 1727) was an "
             "English mathematician and physicist."},
            {"n": 2, "title": "Albert Einstein", "text": "Albert Einstein (14 March 1879 – 18 April 1955) was a "
             "German-born theoretical physicist."}]
