"""A generation's in-memory search index is saved once and read at the next start; a damaged copy is rebuilt."""
from __future__ import annotations

import pytest

from bot.retrieval import Glossary, Retriever

QUESTION = "how do I get the free video model in Agent 2.0?"


def _fresh(built) -> Retriever:
    settings, store, _ = built
    return Retriever(store, Glossary.load(settings.glossary_file))


def test_a_second_start_reads_the_saved_index_instead_of_the_store(built, monkeypatch: pytest.MonkeyPatch) -> None:
    _, store, retriever = built
    first = [h.chunk_id for h in retriever.search(QUESTION)]
    saved = list((store.settings.data_dir / "snapshots").glob("*.pickle"))
    assert len(saved) == 1

    def no_reads(segment):  # a start that reads the saved index needs no rows from the store
        raise AssertionError("rows were read from the store")

    monkeypatch.setattr(store, "rows", no_reads)
    again = _fresh(built)
    assert [h.chunk_id for h in again.search(QUESTION)] == first
    assert again.load().generation == retriever.load().generation


def test_a_damaged_saved_index_is_rebuilt_from_the_store(built, monkeypatch: pytest.MonkeyPatch) -> None:
    _, store, retriever = built
    first = [h.chunk_id for h in retriever.search(QUESTION)]
    path = next((store.settings.data_dir / "snapshots").glob("*.pickle"))
    path.write_bytes(b"\x80\x05not a pickle")
    again = _fresh(built)
    assert [h.chunk_id for h in again.search(QUESTION)] == first
    monkeypatch.setattr(store, "rows", lambda segment: pytest.fail("the rebuilt copy was not saved"))
    assert _fresh(built).load().by_id.keys() == retriever.load().by_id.keys()  # read from the rewritten file
