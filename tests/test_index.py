"""The Chroma index: content-hash ids, incremental re-index, safe failures, old-or-new during a rebuild."""
from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from bot.errors import SourceError
from bot.ingest import load_chunks
from bot.retrieval import Retriever
from bot.store import IndexMissing, Store, build_index
from tests.conftest import PAGE_ID, run_cli

EXTRA = """---
title: Refund policy
description: When credits are refunded
---

## Refund window

Credits for a failed generation are refunded within 24 hours.
"""


def _page_file(settings) -> Path:
    return settings.pages_path / f"{PAGE_ID}.mdx"


def test_chunks_carry_section_url_and_stable_ids(settings) -> None:
    chunks = load_chunks(settings.pages_path, settings.docs_base_url, settings.chunk_tokens)
    again = load_chunks(settings.pages_path, settings.docs_base_url, settings.chunk_tokens)
    assert [c.id for c in chunks] == [c.id for c in again]
    assert len({c.id for c in chunks}) == len(chunks)
    seedream = [c for c in chunks if "Seedream 4.0" in c.text]
    assert len(seedream) == 1
    row = seedream[0]
    assert row.kind == "table_row"
    assert row.section == "Models covered by the unlimited benefit (no credit deduction) › Image models"
    assert row.url.endswith(f"{PAGE_ID}#image-models")
    assert "Unlimited eligibility: Premium / Pro members who joined on or after Feb 25, 2026" in row.text
    assert "Image models" in row.embed_text and "Model: Seedream 4.0" in row.embed_text
    assert any("내 크레딧" in c.text for c in chunks)


def test_oversized_prose_is_split_within_budget(settings) -> None:
    from bot.tokens import count_tokens

    long_text = " ".join(f"Sentence number {i} explains credits in detail." for i in range(300))
    (settings.pages_path / "long.mdx").write_text(f"# Long\n\n## Part\n\n{long_text}\n", encoding="utf-8")
    chunks = [c for c in load_chunks(settings.pages_path, settings.docs_base_url, 128) if c.page_id == "long"]
    assert len(chunks) > 5
    assert all(count_tokens(c.text) <= 128 for c in chunks)


def test_reindex_embeds_only_what_changed(settings) -> None:
    store = Store(settings)
    first = build_index(settings, store)
    assert first.embedded == first.chunks > 30 and first.changed
    second = build_index(settings, store)
    assert second.embedded == 0 and not second.changed and second.generation == first.generation

    page = _page_file(settings)
    mentions = sum("Kling" in c.text for c in load_chunks(settings.pages_path, settings.docs_base_url, 320))
    assert mentions == 3  # the Kling row and the two FAQ answers naming it
    page.write_text(page.read_text(encoding="utf-8").replace("Kling", "Kling 2.1"), encoding="utf-8")
    (settings.pages_path / "refunds.mdx").write_text(EXTRA, encoding="utf-8")
    third = build_index(settings, store)
    assert third.embedded == mentions + 1  # the edited chunks and the new page's paragraph
    assert third.removed == mentions and third.generation == first.generation + 1
    hits = Retriever(store).search("refund for a failed generation", k=3)
    assert hits[0].section_id == "refunds#refund-window"

    (settings.pages_path / "refunds.mdx").unlink()
    fourth = build_index(settings, store)
    assert fourth.embedded == 0 and fourth.removed == 1
    assert all(not h.section_id.startswith("refunds") for h in Retriever(store).search("refund", k=10))


def test_malformed_page_stops_build_and_old_index_serves(settings) -> None:
    store = Store(settings)
    build_index(settings, store)
    before = store.manifest()
    (settings.pages_path / "broken.mdx").write_text("# Broken\n\n<Tip>\n  never closed\n", encoding="utf-8")
    with pytest.raises(SourceError) as err:
        build_index(settings, store)
    assert "broken.mdx:3" in err.value.message
    assert store.manifest() == before
    assert Retriever(store).search("Is Seedream 4.0 unlimited?", k=1)[0].section_id.endswith("#image-models")


def test_empty_knowledge_folder_is_an_error(settings, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SourceError, match="no help-center pages"):
        build_index(settings.model_copy(update={"pages_dir": empty}))


def test_search_before_any_index_is_a_clear_error(settings) -> None:
    with pytest.raises(IndexMissing, match="python -m bot index"):
        Retriever(Store(settings)).search("anything")


def test_queries_during_reindex_see_old_or_new_generation(settings) -> None:
    store = Store(settings)
    build_index(settings, store)
    old_ids = set(store.manifest().ids)
    page = _page_file(settings)
    text = page.read_text(encoding="utf-8")
    page.write_text(text.replace("deducts many credits", "deducts a lot of credits"), encoding="utf-8")
    new_ids = {c.id for c in load_chunks(settings.pages_path, settings.docs_base_url, settings.chunk_tokens, settings.rules_file)}
    assert old_ids != new_ids
    reader = Retriever(Store(settings), check_every=0.0)  # look for a new generation on every query
    seen: list[set[str]] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def ask() -> None:
        while not done.is_set() or len(seen) < 3:
            try:
                seen.append(set(reader.current().ids))
                hits = reader.search("does Kling cost credits", k=5)
                assert hits, "a query during the rebuild got no answer"
            except BaseException as exc:  # noqa: BLE001 - collected for the main thread
                errors.append(exc)
                return

    thread = threading.Thread(target=ask)
    thread.start()
    build_index(settings, store)
    done.set()
    thread.join()
    assert not errors
    assert seen and all(ids in (old_ids, new_ids) for ids in seen)
    assert reader.load().generation == 2 and set(reader.current().ids) == new_ids


def test_chroma_default_embedding_never_runs(settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from chromadb.utils import embedding_functions

    def refuse(*_a, **_k):
        raise AssertionError("Chroma's downloading default embedding function was used")

    monkeypatch.setattr(embedding_functions.DefaultEmbeddingFunction, "__call__", refuse, raising=False)
    monkeypatch.setattr(embedding_functions.DefaultEmbeddingFunction, "__init__", refuse, raising=False)
    build_index(settings)
    assert Retriever(Store(settings)).search("Kling credits", k=1)


def test_cli_index_twice_embeds_nothing_the_second_time(tmp_path: Path) -> None:
    env = {"DATA_DIR": str(tmp_path / "var")}
    first = run_cli("index", "--json", env=env)
    assert first.returncode == 0, first.stderr
    second = run_cli("index", "--json", env=env)
    report = json.loads(second.stdout)
    assert json.loads(first.stdout)["embedded"] > 0 and report["embedded"] == 0 and report["removed"] == 0


def test_cli_index_on_broken_page_exits_with_file_and_line(tmp_path: Path, pages_dir: Path) -> None:
    (pages_dir / "bad.mdx").write_text("---\ntitle: Bad\n", encoding="utf-8")
    proc = run_cli("index", env={"DATA_DIR": str(tmp_path / "var"), "PAGES_DIR": str(pages_dir)})
    assert proc.returncode == 2
    assert "bad.mdx:1" in proc.stderr and "never closed" in proc.stderr
