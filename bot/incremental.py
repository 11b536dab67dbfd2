"""What an index build must redo: files hashed first, pages parsed only when changed, chunks made only when needed.

Whether a translation is stale and whether a section is disputed depend on other pages, so when any page
changed every page's marks are worked out again; parsed pages come from a cache keyed by file hash, and a
page is chunked again only when its file or its marks changed.
"""
from __future__ import annotations

import hashlib
import logging
import pickle
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot import mdx, mdx_tree, tokens
from bot.errors import SourceError
from bot.ingest import Chunk, chunk_page, disputed_lines, disputed_sections
from bot.manifest import PageEntry
from bot.mdx import PAGE_SUFFIXES, Page, parse_page
from bot.syncstate import write_atomic

log = logging.getLogger("bot.incremental")


@dataclass
class Changes:
    """Every page's entry for the new manifest, the chunks made again, and how many pages were parsed."""

    pages: dict[str, PageEntry]
    chunks: list[Chunk] = field(default_factory=list)
    parsed: int = 0


def page_files(pages_dir: Path) -> dict[str, Path]:
    """Return the page files under pages_dir by page id; refuse a missing or empty folder."""
    if not pages_dir.is_dir():
        raise SourceError("help-center folder does not exist", file=str(pages_dir))
    files: dict[str, Path] = {}
    for path in sorted(p for p in pages_dir.rglob("*") if p.suffix in PAGE_SUFFIXES and p.is_file()):
        page_id = path.relative_to(pages_dir).with_suffix("").as_posix()
        if page_id in files:
            raise SourceError(f"two files for one page ({files[page_id].name} and {path.name})", file=str(path))
        files[page_id] = path
    if not files:
        raise SourceError("no help-center pages (.mdx or .md) found", file=str(pages_dir))
    return files


def file_sha(path: Path) -> str:
    """Return the SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def recipe(base_url: str, max_tokens: int, rules: Path | None = None) -> str:
    """Return a key of everything that shapes stored chunks: parser, chunker, tokenizer and checker code, rules."""
    from bot import docs_check, eligibility, ingest, lexical, twins

    files = [Path(m.__file__ or "") for m in (mdx, mdx_tree, tokens, ingest, twins, lexical, docs_check)]
    files += sorted(Path(eligibility.__file__ or "").parent.glob("*.py"))  # the claim reader behind twins and disputes
    if rules is not None and rules.is_file():
        files += sorted(rules.parent.glob("*.yaml"))  # which page the rules cite decides which statement is disputed
    digest = hashlib.sha256(Path(__file__).read_bytes())
    for path in files:
        digest.update(path.read_bytes())
    return f"{digest.hexdigest()[:16]}|{base_url.rstrip('/')}|{max_tokens}"


def marks_of(stale: bool, disputed: tuple[bool, ...]) -> str:
    """Return what other pages decide about a page's chunks (stale twin, disputed sections) as a short key."""
    return ("stale" if stale else "") + ":" + ",".join(str(n) for n, hot in enumerate(disputed) if hot)


def chunk_changed(pages_dir: Path, base_url: str, max_tokens: int, known: Mapping[str, PageEntry],
                  fetched: Mapping[str, tuple[str, str]], *, rules: Path | None = None,
                  cache: Path | None = None) -> Changes:
    """Return every page's entry and the chunks of pages whose file or marks changed.

    known is the live manifest's pages (empty to redo everything); fetched maps a page id to (sha, time) of
    the copy a sync wrote, the time counting only for that copy; cache is where parsed pages are kept.
    """
    files = page_files(pages_dir)
    shas = {pid: file_sha(path) for pid, path in files.items()}

    def fetched_at(pid: str) -> str:
        synced_sha, when = fetched.get(pid, ("", ""))
        return when if synced_sha == shas[pid] else ""

    if set(files) == set(known) and all(known[pid].sha == shas[pid] for pid in files):
        # No page changed, so no mark can have: nothing is parsed.
        return Changes({pid: PageEntry(shas[pid], known[pid].ids, fetched_at(pid), known[pid].marks) for pid in files})
    from bot.twins import stale_pages

    facts_key = recipe(base_url, max_tokens, rules)  # what a page's facts depend on besides its file
    cached, cached_facts = _read_cache(cache, base_url, facts_key)
    pages: list[Page] = []
    parsed = 0
    for pid, path in files.items():
        hit = cached.get(pid)
        if hit is not None and hit[0] == shas[pid]:
            pages.append(hit[1])
        else:
            pages.append(parse_page(path, root=pages_dir, base_url=base_url))
            parsed += 1
    stale = stale_pages(pages)
    # The facts each page states are read again only for pages that changed: comparing them is cheap.
    facts = {pid: said for pid, (sha, said) in cached_facts.items() if shas.get(pid) == sha}
    disputed = disputed_lines(pages, rules, facts) if rules is not None and rules.is_file() else set()
    changes = Changes({}, parsed=parsed)
    for page in pages:
        hot = disputed_sections(page, disputed)
        marks = marks_of(page.id in stale, hot)
        old = known.get(page.id)
        if old is not None and old.sha == shas[page.id] and old.marks == marks:
            ids = old.ids
        else:
            made = chunk_page(page, max_tokens, page.id in stale, hot)
            changes.chunks += made
            ids = tuple(c.id for c in made)
        changes.pages[page.id] = PageEntry(shas[page.id], ids, fetched_at(page.id), marks)
    _write_cache(cache, base_url, {page.id: (shas[page.id], page) for page in pages},
                 facts_key, {pid: (shas[pid], said) for pid, said in facts.items() if pid in shas})
    return changes


def _read_cache(cache: Path | None, base_url: str, facts_key: str) -> tuple[dict[str, tuple[str, Page]], dict[str, tuple[str, Any]]]:
    """Return parsed pages (and the facts they state) kept by an earlier build of this code; nothing when unreadable."""
    if cache is None or not cache.is_file():
        return {}, {}
    try:
        # Written by this program into its own data folder, like the index beside it.
        data = pickle.loads(cache.read_bytes())  # noqa: S301
        if data.get("key") == _cache_key(base_url):
            facts = dict(data.get("facts") or {}) if data.get("facts_key") == facts_key else {}
            return dict(data["pages"]), facts
    except Exception as err:  # noqa: BLE001 - a stale or damaged cache is only slower
        log.info("page cache %s not used (%s)", cache, type(err).__name__)
    return {}, {}


def _write_cache(cache: Path | None, base_url: str, pages: dict[str, tuple[str, Page]], facts_key: str,
                 facts: dict[str, tuple[str, Any]]) -> None:
    if cache is not None:
        write_atomic(cache, pickle.dumps({"key": _cache_key(base_url), "pages": pages, "facts_key": facts_key,
                                          "facts": facts}, protocol=pickle.HIGHEST_PROTOCOL))


def _cache_key(base_url: str) -> str:
    """Return what parsed pages depend on besides the file: the parser's code and the base URL."""
    digest = hashlib.sha256()
    for module in (mdx, mdx_tree):
        digest.update(Path(module.__file__ or "").read_bytes())
    return f"{digest.hexdigest()[:16]}|{base_url.rstrip('/')}"
