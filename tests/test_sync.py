"""`bot sync` against a fixture site on 127.0.0.1: first pull, no change, edits, additions, removals, broken pages."""
from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import pytest

from bot.fetch import parse_llms
from bot.retrieval import Retriever
from bot.settings import get_settings
from bot.store import Store
from bot.sync import sync_site
from bot.syncstate import STATE_FILE, SyncState
from tests.conftest import ROOT, run_cli
from tests.site_server import SiteServer

FIXTURE = ROOT / "tests" / "fixtures" / "site"
PAGES = ["en/guide/compass", "en/guide/kettle", "en/guide/lantern", "ko/guide/kettle"]
MAP_PAGE = """> ## Documentation Index
> Fetch the complete documentation index at: /docs/llms.txt

# The folding map

> TEST FIXTURE page for the sync tests: invented content, not Carat documentation.

## Unfolding the map

Unfold the folding map from the green edge so the legend stays on top.
"""


@pytest.fixture()
def site(tmp_path: Path):
    root = tmp_path / "site"
    shutil.copytree(FIXTURE, root)
    with SiteServer(root) as server:
        yield server


@pytest.fixture()
def cfg(tmp_path: Path, site: SiteServer):
    return get_settings(data_dir=tmp_path / "var", pages_dir=tmp_path / "pages", docs_base_url=site.base_url,
                        sync_timeout=2.0, sync_retries=2)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _ids(changes) -> list[str]:
    return sorted(c.page for c in changes)


def test_first_sync_writes_pages_by_language_and_indexes_them(cfg, site: SiteServer) -> None:
    result = sync_site(cfg)
    assert result.healthy and result.applied and result.exit_code == 0, result.text()
    assert _ids(result.added) == PAGES and not result.changed and not result.removed and not result.failed
    assert result.skipped_links == ["https://example.invalid/other/page.md"]
    for page in PAGES:
        assert (cfg.pages_path / f"{page}.mdx").read_bytes() == (site.root / f"{page}.md").read_bytes()
    assert result.index is not None and result.index.embedded == result.index.chunks > 4
    hit = Retriever(Store(cfg)).search("how often should I descale the kettle?", k=1)[0]
    assert hit.section_id == "en/guide/kettle#descaling"
    assert hit.url == f"{site.base_url}/en/guide/kettle#descaling"
    assert datetime.fromisoformat(hit.fetched_at).tzinfo is not None
    assert hit.to_dict()["fetched_at"] == hit.fetched_at


@pytest.mark.parametrize("etags", [True, False], ids=["etag", "last-modified"])
def test_unchanged_site_downloads_and_embeds_nothing(tmp_path: Path, etags: bool) -> None:
    root = tmp_path / "site"
    shutil.copytree(FIXTURE, root)
    with SiteServer(root, etags=etags) as site:
        cfg = get_settings(data_dir=tmp_path / "var", pages_dir=tmp_path / "pages", docs_base_url=site.base_url)
        first = sync_site(cfg)
        state_before = (cfg.pages_path / STATE_FILE).read_bytes()
        site.reset()
        again = sync_site(cfg)
        assert site.statuses() == {304: len(PAGES) + 1}  # llms.txt and every page: not modified
    assert again.downloaded_bytes == 0 and again.unchanged == len(PAGES)
    assert not (again.added or again.changed or again.removed or again.failed)
    assert again.index.embedded == 0 and not again.index.changed
    assert again.index.generation == first.index.generation
    assert (cfg.pages_path / STATE_FILE).read_bytes() == state_before


def test_edit_add_remove_and_broken_page(cfg, site: SiteServer) -> None:
    first = sync_site(cfg)
    kettle_before = (cfg.pages_path / "en/guide/kettle.mdx").read_bytes()
    fetched_before = SyncState.load(cfg.pages_path).pages
    llms = site.root / "llms.txt"
    listing = llms.read_text(encoding="utf-8").replace("- [The brass compass](/docs/en/guide/compass.md): reading the fixture compass\n", "")
    llms.write_text(listing + "- [The folding map](/docs/en/guide/map.md): unfolding the fixture map\n", encoding="utf-8")
    (site.root / "en/guide/map.md").write_text(MAP_PAGE, encoding="utf-8")
    lantern = site.root / "en/guide/lantern.md"
    lantern.write_text(lantern.read_text(encoding="utf-8").replace("seven creases", "nine creases"), encoding="utf-8")
    kettle = site.root / "en/guide/kettle.md"
    broken = kettle.read_text(encoding="utf-8").replace("</Tip>\n", "")
    kettle.write_text(broken, encoding="utf-8")
    tip_line = broken.split("\n").index("<Tip>") + 1

    result = sync_site(cfg)

    assert result.healthy and result.applied and result.exit_code == 1
    assert _ids(result.added) == ["en/guide/map"] and _ids(result.changed) == ["en/guide/lantern"]
    assert _ids(result.removed) == ["en/guide/compass"]
    [bad] = result.failed
    assert (bad.page, bad.url, bad.line) == ("en/guide/kettle", f"{site.base_url}/en/guide/kettle.md", tip_line)
    assert "never closed" in bad.error
    assert f"{site.base_url}/en/guide/kettle.md:{tip_line}" in result.text()
    # The broken page's previous copy keeps serving; only the edited and the new chunks are embedded.
    assert (cfg.pages_path / "en/guide/kettle.mdx").read_bytes() == kettle_before
    assert not (cfg.pages_path / "en/guide/compass.mdx").exists()
    assert result.index.embedded == 2 and result.index.generation == first.index.generation + 1
    retriever = Retriever(Store(cfg))
    assert "nine creases" in retriever.search("how many creases does the lantern fold along?", k=1)[0].text
    assert retriever.search("how do I descale the kettle", k=1)[0].section_id == "en/guide/kettle#descaling"
    assert not [h for h in retriever.search("brass compass needle north", k=10) if "compass" in h.section_id]
    state = SyncState.load(cfg.pages_path).pages
    assert "en/guide/compass" not in state and "en/guide/map" in state
    assert state["en/guide/kettle"] == fetched_before["en/guide/kettle"]
    assert state["en/guide/lantern"].fetched_at >= fetched_before["en/guide/lantern"].fetched_at
    assert state["en/guide/lantern"].sha != fetched_before["en/guide/lantern"].sha


def test_partial_run_changes_nothing_that_is_served(cfg, site: SiteServer) -> None:
    first = sync_site(cfg)
    pages_before = _snapshot(cfg.pages_path)
    llms = site.root / "llms.txt"
    llms.write_text(llms.read_text(encoding="utf-8").replace("- [The brass compass]", "- [Gone]("
                                                             "/docs/en/guide/gone.md)\n- [x]"), encoding="utf-8")
    lantern = site.root / "en/guide/lantern.md"
    lantern.write_text(lantern.read_text(encoding="utf-8").replace("seven", "eight"), encoding="utf-8")
    for page in ("kettle", "lantern"):
        site.faults[f"/docs/en/guide/{page}.md"] = [503] * 10
    ko = site.root / "ko/guide/kettle.md"
    ko.write_text("<html><body>Sign in</body></html>\n", encoding="utf-8")
    site.content_types["/docs/ko/guide/kettle.md"] = "text/html; charset=utf-8"

    result = sync_site(cfg)

    assert not result.healthy and not result.applied and result.exit_code == 1
    assert "could be fetched" in result.problem and not result.removed
    errors = {c.page: c.error for c in result.failed}
    assert errors["en/guide/kettle"] == "HTTP 503" and "HTML" in errors["ko/guide/kettle"]
    assert site.requests.count(("/docs/en/guide/kettle.md", 503)) == 3  # first try and two retries
    assert _snapshot(cfg.pages_path) == pages_before
    assert Store(cfg).manifest().generation == first.index.generation


def test_unreadable_llms_txt_changes_nothing(cfg, site: SiteServer) -> None:
    sync_site(cfg)
    before = _snapshot(cfg.pages_path)
    site.faults["/docs/llms.txt"] = [500] * 10
    result = sync_site(cfg)
    assert result.exit_code == 1 and not result.applied and "llms.txt could not be read" in result.problem
    assert "HTTP 500" in result.problem and "nothing changed" in result.text()
    assert _snapshot(cfg.pages_path) == before


def test_retries_with_backoff_then_timeouts(cfg, site: SiteServer) -> None:
    site.faults["/docs/en/guide/lantern.md"] = [503, 429]
    ok = sync_site(cfg)
    assert ok.exit_code == 0 and "en/guide/lantern" in _ids(ok.added)
    assert [s for p, s in site.requests if p == "/docs/en/guide/lantern.md"] == [503, 429, 200]

    slow = cfg.model_copy(update={"sync_timeout": 0.3, "sync_retries": 1})
    site.delays["/docs/en/guide/compass.md"] = 1.0
    (site.root / "en/guide/compass.md").write_text(MAP_PAGE, encoding="utf-8")
    result = sync_site(slow)
    assert [(c.page, c.error) for c in result.failed] == [("en/guide/compass", "no answer within 0.3 s")]
    assert result.seconds < 10


def test_dry_run_reports_and_writes_nothing(cfg, site: SiteServer) -> None:
    result = sync_site(cfg, dry_run=True)
    assert result.dry_run and result.healthy and not result.applied and result.index is None
    assert _ids(result.added) == PAGES
    assert "would add" in result.text()
    assert not cfg.pages_path.exists() or not any(cfg.pages_path.iterdir())
    assert Store(cfg).manifest() is None


def test_llms_txt_links_outside_the_docs_are_skipped() -> None:
    text = """# Site
- [a](https://help.example/docs/en/a.md)
- [b](/docs/ko/b)
- [c](https://help.example/docs/en/c.mdx#part)
- [evil](/docs/../etc/passwd)
- [root](/pricing.md)
- [dup](https://help.example/docs/en/a)
- [canonical](https://www.help.example/docs/en/d.md)
- [blog](https://elsewhere.example/blog/post.md)
"""
    pages, skipped = parse_llms(text, "https://help.example/docs")
    assert [(p.page_id, p.url) for p in pages] == [
        ("en/a", "https://help.example/docs/en/a.md"),
        ("ko/b", "https://help.example/docs/ko/b.md"),
        ("en/c", "https://help.example/docs/en/c.mdx"),
        ("en/d", "https://help.example/docs/en/d.md"),  # the canonical host's page, fetched from the base
    ]
    assert skipped == ["https://help.example/etc/passwd", "https://help.example/pricing.md",
                       "https://elsewhere.example/blog/post.md"]
    # With the docs at a site's root, another host's links are never taken for pages.
    assert parse_llms("- [x](https://elsewhere.example/en/y.md)", "http://127.0.0.1:9") == (
        [], ["https://elsewhere.example/en/y.md"])


def test_cli_sync_json_then_dry_run(tmp_path: Path, site: SiteServer) -> None:
    env = {"DOCS_BASE_URL": site.base_url, "PAGES_DIR": str(tmp_path / "pages"), "DATA_DIR": str(tmp_path / "var")}
    proc = run_cli("sync", "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert sorted(p["page"] for p in report["added"]) == PAGES and report["index"]["embedded"] > 0
    (site.root / "en/guide/lantern.md").write_text(MAP_PAGE, encoding="utf-8")
    dry = run_cli("sync", "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert "would change" in dry.stdout and "en/guide/lantern" in dry.stdout
    assert b"seven creases" in (tmp_path / "pages/en/guide/lantern.mdx").read_bytes()
