"""Index generations: unchanged pages not re-parsed, immutable segments, compaction, grace period, damage, outages."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from bot.server import build_app
from bot.retrieval import Retriever
from bot.service import make_bot
from bot.store import MAX_SEGMENTS, Store, build_index
from bot.syncstate import PageState, SyncState
from bot.incremental import file_sha
from bot.ingest import load_chunks
from bot.lexical import terms_version
from tests.conftest import PAGE_ID, run_chroma, run_cli
from tests.openai_stub import OpenAIStub

SEEDREAM = "I'm on Premium annual since 2026-03-01. Is Seedream 4.0 unlimited?"
DOCS = "Why are my credits dropping?"


def _page(settings) -> Path:
    return settings.pages_path / f"{PAGE_ID}.mdx"


def _edit(settings, old: str, new: str) -> None:
    page = _page(settings)
    page.write_text(page.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")


def _collections(store: Store) -> set[str]:
    return {c.name for c in store.client.list_collections()}


def test_only_changed_pages_are_parsed_and_marks_follow_other_pages(settings) -> None:
    (settings.pages_path / "second.mdx").write_text("# Second\n\n## Part\n\nA second fixture page (test only).\n")
    store = Store(settings)
    assert build_index(settings, store).parsed == 3  # the English page, its Korean twin, the fixture page
    assert build_index(settings, store).parsed == 0
    (settings.pages_path / "second.mdx").write_text("# Second\n\n## Part\n\nEdited fixture page (test only).\n")
    report = build_index(settings, store)
    assert report.parsed == 1 and report.embedded == 1
    # A date changed on the English page makes its Korean twin stale: the twin is not parsed again (its
    # file did not change) but its chunks are stored again, marked.
    _edit(settings, "| **Seedream 4.0**             | Premium / Pro members who joined on or after Feb 25, 2026 |",
          "| **Seedream 4.0**             | Premium / Pro members who joined on or after Feb 26, 2026 |")
    report = build_index(settings, store)
    chunks = load_chunks(settings.pages_path, settings.docs_base_url, settings.chunk_tokens, settings.rules_file)
    korean = [c for c in chunks if c.lang == "ko"]
    assert report.parsed == 1 and korean and all(c.stale for c in korean)
    assert report.embedded == 1 + len(korean)
    assert list(store.manifest().ids) == [c.id for c in chunks]  # incremental equals a build from scratch


def test_only_changed_pages_are_read_for_contradictions_and_disputes_still_follow(settings, monkeypatch) -> None:
    """The facts a page states are read once per file version: a one-page edit reads one page, not all."""
    import bot.docs_check as docs_check

    read: list[str] = []
    real = docs_check._page_facts
    monkeypatch.setattr(docs_check, "_page_facts", lambda page, *a: read.append(page.id) or real(page, *a))
    (settings.pages_path / "other.mdx").write_text("# Other\n\n## Costs\n\nA fixture page (test only).\n")
    store = Store(settings)
    build_index(settings, store)
    assert len(read) == 3  # first build: every page
    read.clear()
    # A page that now names another default video model contradicts the page the rules cite.
    (settings.pages_path / "other.mdx").write_text(
        "# Other\n\n## Costs\n\nAgent 2.0 uses Sora 2 as its default video model.\n")
    build_index(settings, store)
    assert read == ["other"]
    assert any(c.disputed for c in load_chunks(settings.pages_path, settings.docs_base_url, settings.chunk_tokens,
                                                settings.rules_file) if c.page_id == "other")
    marked = [h for h in Retriever(store).search("Agent 2.0 default video model Sora 2", k=10) if h.section_id.startswith("other")]
    assert marked and all(h.disputed for h in marked)  # the stored chunks carry the mark too


def test_segments_stay_unchanged_and_get_compacted(settings) -> None:
    store = Store(settings, grace=0)
    build_index(settings, store)
    base = store.manifest().segments[0]
    base_count = store.collection(base.name).count()
    rows = ["Z Image", "Flux2 Pro", "Grok Imagine", "Midjourney", "Lip sync", "Kling"]
    sizes, copied = [], 0
    for name in rows[: MAX_SEGMENTS + 1]:
        _edit(settings, f"| **{name}**", f"| **{name} (edited)**")  # one table row: one chunk
        report = build_index(settings, store)
        manifest = store.manifest()
        sizes.append(len(manifest.segments))
        assert report.embedded == 1 and report.removed == 1
        # Every segment a generation names holds exactly what the manifest says; dropped ones are gone.
        for seg in manifest.segments:
            assert store.collection(seg.name).count() == len(seg.ids)
        assert _collections(store) == {s.name for s in manifest.segments} | {store.meta.name}
        if report.copied:
            copied = report.copied
            break
        assert store.collection(base.name).count() == base_count  # never written to after it was published
    assert sizes == [2, 3, 4, 1] and max(sizes) <= MAX_SEGMENTS
    assert copied == report.chunks - 1 and base.name not in _collections(store)
    hits = Retriever(store).search("Is Midjourney unlimited?", k=3)
    assert any("Midjourney (edited)" in h.text for h in hits)


def test_retired_segments_wait_for_the_grace_period(settings) -> None:
    now = [1000.0]
    store = Store(settings, grace=60)
    build_index(settings, store, clock=lambda: now[0])
    _edit(settings, "| **Kling**", "| **Kling 2.1**")
    build_index(settings, store, clock=lambda: now[0])
    small = store.manifest().segments[-1]
    assert len(small.ids) == 1
    # Editing the same row again leaves nothing live in that segment: it is retired, kept for readers.
    _edit(settings, "| **Kling 2.1**", "| **Kling 2.2**")
    report = build_index(settings, store, clock=lambda: now[0])
    assert report.changed and report.purged == 0 and small.name in _collections(store)
    assert [r.name for r in store.manifest().retired] == [small.name]
    now[0] += 30
    assert build_index(settings, store, clock=lambda: now[0]).purged == 0
    now[0] += 31
    again = build_index(settings, store, clock=lambda: now[0])
    assert not again.changed and again.purged == 1
    assert small.name not in _collections(store) and not store.manifest().retired


def test_new_chunker_code_copies_vectors_with_fresh_terms(settings, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(settings)
    first = build_index(settings, store)
    monkeypatch.setattr("bot.store.recipe", lambda base_url, max_tokens, rules=None: "another-version")
    again = build_index(settings, store)
    assert again.changed and again.embedded == 0 and again.copied == first.chunks and again.segments == 1
    rows = store.rows(store.manifest().segments[0])
    assert all(r["terms_v"] == terms_version() and r["terms"] for r in rows.values())
    assert not build_index(settings, store).changed
    assert Retriever(store).search("Is Seedream 4.0 unlimited?", k=1)[0].section_id.endswith("#image-models")


def test_hits_carry_the_page_fetch_time(settings) -> None:
    fetched = "2026-11-20T08:00:00+00:00"
    SyncState(pages={PAGE_ID: PageState("https://carat.im/docs/x.md", file_sha(_page(settings)), fetched)}).save(
        settings.pages_path)
    store = Store(settings)
    build_index(settings, store)
    hit = Retriever(store).search("Is Seedream 4.0 unlimited?", k=1)[0]
    assert hit.fetched_at == fetched and hit.to_dict()["fetched_at"] == fetched
    # A copy edited by hand after the sync is no longer the fetched one.
    _edit(settings, "Kling", "Kling 2.1")
    build_index(settings, store)
    assert Retriever(store).search("Is Seedream 4.0 unlimited?", k=1)[0].fetched_at == ""


def _damage(index_dir: Path, how: str) -> None:
    db = index_dir / "chroma.sqlite3"
    if how == "overwritten":
        db.write_bytes(b"not a database" * 500)
    else:
        with db.open("r+b") as f:
            f.truncate(db.stat().st_size // 3)


@pytest.mark.parametrize("damage", ["overwritten", "truncated"])
def test_unreadable_index_is_detected_and_rebuilt_at_start(settings, damage: str) -> None:
    env = {"DATA_DIR": str(settings.data_dir), "PAGES_DIR": str(settings.pages_path)}
    assert run_cli("index", env=env).returncode == 0
    _damage(settings.index_dir, damage)
    search = run_cli("search", DOCS, env=env)
    assert search.returncode == 1 and "python -m bot index --rebuild" in search.stderr
    assert "Traceback" not in search.stderr
    # A long-lived bot (the app, `ask`, `chat`) moves the unreadable index aside and builds a new one.
    ask = run_cli("ask", DOCS, "--json", env=env)
    assert ask.returncode == 0, ask.stderr
    assert json.loads(ask.stdout)["route"] == "answer"
    assert list(settings.data_dir.glob("index.unreadable-*"))


def test_cli_rebuild_replaces_a_damaged_index(tmp_path: Path, pages_dir: Path) -> None:
    env = {"DATA_DIR": str(tmp_path / "var"), "PAGES_DIR": str(pages_dir)}
    assert run_cli("index", env=env).returncode == 0
    _damage(tmp_path / "var" / "index", "truncated")
    broken = run_cli("search", "Is Seedream 4.0 unlimited?", "--json", env=env)
    assert broken.returncode == 1 and '"index_corrupt"' in broken.stdout
    assert "python -m bot index --rebuild" in broken.stdout
    fixed = run_cli("index", "--rebuild", "--json", env=env)
    assert fixed.returncode == 0, fixed.stderr
    assert json.loads(fixed.stdout)["embedded"] > 30
    search = run_cli("search", "Is Seedream 4.0 unlimited?", "--json", env=env)
    assert search.returncode == 0 and "#image-models" in search.stdout


def test_verdicts_keep_working_when_search_is_down(settings, tmp_path: Path) -> None:
    with run_chroma(tmp_path / "srv") as (port, proc):
        remote = settings.model_copy(update={"chroma_host": "127.0.0.1", "chroma_port": port})
        build_index(remote)
        bot = make_bot(remote, ensure_index=True)
        client = TestClient(build_app(remote, bot, web=False))
        assert client.get("/healthz").json()["generation"] == 1
        proc.terminate()
        proc.wait(timeout=10)
        time.sleep(1.1)  # health results are reused for a second
        health = client.get("/healthz")
        assert health.status_code == 503 and health.json()["index"] is False and health.json()["failed"] == ["index"]
        verdict = client.post("/api/chat", json={"message": SEEDREAM})
        assert verdict.status_code == 200 and verdict.json()["route"] == "eligibility"
        assert "Seedream 4.0: unlimited" in verdict.json()["answer"]
        docs = client.post("/api/chat", json={"message": DOCS})
        assert docs.status_code == 200 and "unavailable right now" in docs.json()["answer"]
        korean = client.post("/api/chat", json={"message": "크레딧이 왜 줄어드나요?"})
        assert korean.status_code == 200 and "검색을 사용할 수 없어" in korean.json()["answer"]

        # A bot started while the server is down starts anyway, unhealthy, and still gives verdicts.
        late = TestClient(build_app(remote, make_bot(remote, ensure_index=True), web=False))
        assert late.get("/healthz").status_code == 503
        assert late.post("/api/chat", json={"message": SEEDREAM}).json()["route"] == "eligibility"
        # In LLM mode too: the deterministic answer, no model call without the help center.
        with OpenAIStub() as stub:
            llm = remote.model_copy(update={"openai_base_url": stub.base_url, "openai_api_key": SecretStr("sk-test")})
            answer = make_bot(llm, ensure_index=True).ask(SEEDREAM)
            assert (answer.route, answer.mode, stub.calls) == ("eligibility", "degraded", 0)
            assert "Seedream 4.0: unlimited" in answer.answer
