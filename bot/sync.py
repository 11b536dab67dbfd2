"""Bring the help-center folder in line with the published site (llms.txt + markdown copies), then re-index.

Only a healthy run (the index read and most pages fetched) changes anything: pages that changed are
written, pages gone from llms.txt are removed, and the index is rebuilt incrementally. A page that
cannot be fetched or parsed is reported and its previous copy keeps serving.
"""
from __future__ import annotations

import asyncio
import hashlib
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bot.errors import BotError, SourceError
from bot.fetch import Fetcher, FetchError, Listed, llms_urls, parse_llms
from bot.incremental import file_sha
from bot.mdx import PAGE_SUFFIXES, parse_page
from bot.segments import Store, now_iso
from bot.settings import Settings
from bot.store import IndexReport, build_index
from bot.syncstate import PageState, SyncState, write_atomic

# Share of listed pages that must be fetched (or found unchanged) before anything is removed or written.
HEALTHY_SHARE = 0.9


@dataclass
class PageChange:
    """One page in the report: its id, where it lives on the site, and what went wrong if anything."""

    page: str
    url: str
    error: str = ""
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON shape of one page in the report."""
        data: dict[str, Any] = {"page": self.page, "url": self.url}
        if self.error:
            data.update(error=self.error, line=self.line)
        return data


@dataclass
class SyncResult:
    """What a sync found and what it changed."""

    site: str
    dry_run: bool = False
    index_url: str = ""
    healthy: bool = False
    applied: bool = False
    problem: str = ""
    listed: int = 0
    unchanged: int = 0
    added: list[PageChange] = field(default_factory=list)
    changed: list[PageChange] = field(default_factory=list)
    removed: list[PageChange] = field(default_factory=list)
    failed: list[PageChange] = field(default_factory=list)
    local_only: list[str] = field(default_factory=list)
    skipped_links: list[str] = field(default_factory=list)
    requests: int = 0
    downloaded_bytes: int = 0
    seconds: float = 0.0
    index: IndexReport | None = None

    @property
    def exit_code(self) -> int:
        """Return 0 when everything synced, 1 when a page or the whole run failed."""
        return 0 if self.healthy and not self.failed and not self.problem else 1

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON report."""
        index = None
        if self.index is not None:
            index = {**self.index.__dict__, "seconds": round(self.index.seconds, 3)}
        return {
            "site": self.site, "index_url": self.index_url, "dry_run": self.dry_run, "healthy": self.healthy,
            "applied": self.applied, "problem": self.problem or None, "listed": self.listed,
            "unchanged": self.unchanged,
            **{name: [p.to_dict() for p in getattr(self, name)] for name in ("added", "changed", "removed", "failed")},
            "local_only": self.local_only, "skipped_links": self.skipped_links, "requests": self.requests,
            "downloaded_bytes": self.downloaded_bytes, "seconds": round(self.seconds, 3), "index": index,
        }

    def text(self) -> str:
        """Return the report for people."""
        verb = {"added": "add", "changed": "change", "removed": "remove"} if self.dry_run else {}
        head = "dry run: " if self.dry_run else ""
        lines = [f"{head}{self.index_url or self.site}: {self.listed} page(s) listed, {self.unchanged} unchanged, "
                 f"{len(self.added)} added, {len(self.changed)} changed, {len(self.removed)} removed, "
                 f"{len(self.failed)} failed ({self.requests} requests, {self.downloaded_bytes} bytes, "
                 f"{self.seconds:.2f}s)"]
        for name in ("added", "changed", "removed"):
            label = f"would {verb[name]}" if name in verb else name
            lines += [f"  {label:<14} {p.page}  {p.url}" for p in getattr(self, name)]
        for p in self.failed:
            where = f"{p.url}:{p.line}" if p.line else p.url
            lines.append(f"  {'failed':<14} {p.page}  {where}: {p.error}")
        if self.failed and self.applied:
            lines.append("  (a page that failed keeps its previous copy, if there is one)")
        if self.local_only:
            lines.append(f"  not on the site (kept): {', '.join(self.local_only)}")
        if self.problem:
            lines.append(f"nothing changed: {self.problem}" if not self.applied else f"problem: {self.problem}")
        if self.index is not None:
            r = self.index
            lines.append(f"index: generation {r.generation}, {r.chunks} chunks, embedded {r.embedded}, "
                         f"removed {r.removed} ({r.seconds:.2f}s)")
        return "\n".join(lines)


@dataclass
class _Outcome:
    """What fetching one listed page gave."""

    listed: Listed
    path: Path
    kind: str  # unchanged | added | changed | failed (not fetched) | malformed (fetched, does not parse)
    body: bytes = b""
    sha: str = ""
    etag: str = ""
    last_modified: str = ""
    error: str = ""
    line: int | None = None


def sync_site(settings: Settings, *, dry_run: bool = False, store: Store | None = None,
              transport: httpx.AsyncBaseTransport | None = None) -> SyncResult:
    """Fetch what changed on the site, apply it when the run is healthy, and re-index."""
    started = time.perf_counter()
    pages_dir = settings.pages_path
    state = SyncState.load(pages_dir)
    fetcher = Fetcher(concurrency=settings.sync_concurrency, timeout=settings.sync_timeout,
                      retries=settings.sync_retries, transport=transport)
    result = SyncResult(site=settings.docs_base_url, dry_run=dry_run)
    outcomes = asyncio.run(_fetch(settings, state, fetcher, result))
    result.requests, result.downloaded_bytes = fetcher.requests, fetcher.downloaded
    if outcomes is not None:
        _sort(outcomes, state, pages_dir, result)
        if result.healthy and not dry_run:
            _apply(settings, state, outcomes, result, store)
    result.seconds = time.perf_counter() - started
    return result


async def _fetch(settings: Settings, state: SyncState, fetcher: Fetcher, result: SyncResult) -> list[_Outcome] | None:
    """Read llms.txt, then every page it lists; None when the index itself could not be had."""
    async with fetcher.client() as client:
        text = await _index_text(client, settings, state, fetcher, result)
        if text is None:
            return None
        listed, result.skipped_links = parse_llms(text, settings.docs_base_url)
        result.listed = len(listed)
        if not listed:
            result.problem = f"{result.index_url} lists no pages under {settings.docs_base_url}"
            return None
        gate = asyncio.Semaphore(fetcher.concurrency)

        async def one(item: Listed) -> _Outcome:
            async with gate:
                return await _fetch_page(client, fetcher, item, settings, state)

        return list(await asyncio.gather(*(one(item) for item in listed)))


async def _index_text(client: httpx.AsyncClient, settings: Settings, state: SyncState, fetcher: Fetcher,
                      result: SyncResult) -> str | None:
    """Return llms.txt (the stored copy when unchanged); record where it was found and its validators."""
    errors = []
    for url in llms_urls(settings.docs_base_url):
        same = url == state.index_url and bool(state.index_text)
        try:
            got = await fetcher.get(client, url, state.index_etag if same else "",
                                    state.index_last_modified if same else "")
        except FetchError as err:
            errors.append(f"{url}: {err}")
            continue
        result.index_url = url
        if got.status == 304:
            return state.index_text
        try:
            text = got.body.decode("utf-8")
        except UnicodeDecodeError:
            errors.append(f"{url}: not UTF-8 text")
            continue
        state.index_url, state.index_etag, state.index_last_modified = url, got.etag, got.last_modified
        state.index_text = text
        return text
    result.problem = "the site's llms.txt could not be read (" + "; ".join(errors) + ")"
    return None


def _target(pages_dir: Path, page_id: str) -> Path:
    """Return the file a page is kept in: an existing .md or .mdx copy, else a new .mdx file."""
    for suffix in PAGE_SUFFIXES:
        path = pages_dir / f"{page_id}{suffix}"
        if path.is_file():
            return path
    return pages_dir / f"{page_id}.mdx"


async def _fetch_page(client: httpx.AsyncClient, fetcher: Fetcher, item: Listed, settings: Settings,
                      state: SyncState) -> _Outcome:
    """Fetch one page (conditionally when our copy is the one last synced) and check that it parses."""
    path = _target(settings.pages_path, item.page_id)
    local_sha = file_sha(path) if path.is_file() else ""
    old = state.pages.get(item.page_id)
    conditional = old is not None and old.sha == local_sha and old.url == item.url
    try:
        got = await fetcher.get(client, item.url, old.etag if old and conditional else "",
                                old.last_modified if old and conditional else "")
    except FetchError as err:
        return _Outcome(item, path, "failed", error=str(err))
    if got.status == 304:
        return _Outcome(item, path, "unchanged", sha=local_sha, etag=old.etag if old else "",
                        last_modified=old.last_modified if old else "")
    sha = hashlib.sha256(got.body).hexdigest()
    outcome = _Outcome(item, path, "unchanged" if sha == local_sha else ("changed" if local_sha else "added"),
                       got.body, sha, got.etag, got.last_modified)
    if outcome.kind != "unchanged":
        problem = _check_page(got.body, item.page_id, settings.docs_base_url)
        if problem is not None:
            outcome.kind, (outcome.error, outcome.line) = "malformed", problem
    return outcome


def _check_page(body: bytes, page_id: str, base_url: str) -> tuple[str, int | None] | None:
    """Parse a fetched page as the indexer will; return (error, line) when it is malformed."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{page_id}.mdx"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        try:
            page = parse_page(path, root=Path(tmp), base_url=base_url)
        except SourceError as err:
            line = err.details.get("line")
            where = f"{err.details['file']}:{line}" if line else err.details["file"]
            return err.message.removeprefix(f"{where}: "), line
    return None if page.sections else ("the page has no content", None)


def _sort(outcomes: list[_Outcome], state: SyncState, pages_dir: Path, result: SyncResult) -> None:
    """Fill the report from the outcomes and decide whether the run is healthy."""
    fetch_failures = 0
    for o in outcomes:
        change = PageChange(o.listed.page_id, o.listed.url, o.error, o.line)
        if o.kind in ("failed", "malformed"):
            result.failed.append(change)
            fetch_failures += o.kind == "failed"
        elif o.kind == "unchanged":
            result.unchanged += 1
        else:
            getattr(result, o.kind).append(change)
    listed = {o.listed.page_id for o in outcomes}
    for page_id, page in sorted(state.pages.items()):
        if page_id not in listed and _target(pages_dir, page_id).is_file():
            result.removed.append(PageChange(page_id, page.url))
    result.local_only = sorted(pid for pid in _local_pages(pages_dir) if pid not in listed and pid not in state.pages)
    result.healthy = len(outcomes) - fetch_failures >= HEALTHY_SHARE * len(outcomes)
    if not result.healthy:
        result.problem = (f"only {len(outcomes) - fetch_failures} of {len(outcomes)} pages could be fetched "
                          f"(at least {HEALTHY_SHARE:.0%} are needed)")
        result.removed = []


def _local_pages(pages_dir: Path) -> list[str]:
    """Return the page ids of files in the pages folder."""
    if not pages_dir.is_dir():
        return []
    return [p.relative_to(pages_dir).with_suffix("").as_posix()
            for p in pages_dir.rglob("*") if p.suffix in PAGE_SUFFIXES and p.is_file()]


def _apply(settings: Settings, state: SyncState, outcomes: list[_Outcome], result: SyncResult,
           store: Store | None) -> None:
    """Write changed pages, remove dropped ones, save the state and re-index, under the index writer lock."""
    store = store or Store(settings)
    now = now_iso()
    with store.writing():
        for o in outcomes:
            if o.kind in ("added", "changed"):
                write_atomic(o.path, o.body)
            if o.kind not in ("failed", "malformed"):
                old = state.pages.get(o.listed.page_id)
                fetched_at = old.fetched_at if old is not None and old.sha == o.sha and old.fetched_at else now
                state.pages[o.listed.page_id] = PageState(o.listed.url, o.sha, fetched_at, o.etag, o.last_modified)
        for change in result.removed:
            path = _target(settings.pages_path, change.page)
            path.unlink(missing_ok=True)
            _prune_empty(path.parent, settings.pages_path)
            state.pages.pop(change.page, None)
        state.site = settings.docs_base_url
        state.save(settings.pages_path)
        result.applied = True
        try:
            result.index = build_index(settings, store)
        except BotError as err:
            result.problem = f"the index was not updated: {err.message}"


def _prune_empty(folder: Path, root: Path) -> None:
    """Remove folders left empty by a removed page, up to the pages folder."""
    while folder != root and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent
