"""Build the index: hash page files, parse only changed ones, embed only new chunks, publish a generation."""
from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from bot.embeddings import embedder_key
from bot.incremental import chunk_changed, recipe
from bot.ingest import Chunk
from bot.manifest import Manifest, PageEntry, Retired
from bot.segments import (
    IndexCorrupt,
    IndexMissing,
    SearchUnavailable,
    Store,
    StoreUnreachable,
    forget_embedded,
    make_client,
    now_iso,
    unreachable,
)
from bot.settings import Settings
from bot.syncstate import SyncState

__all__ = ["IndexCorrupt", "IndexMissing", "IndexReport", "SearchUnavailable", "Store", "StoreUnreachable",
           "build_index", "open_store", "ready_store"]

log = logging.getLogger("bot.store")

# More segments than this, or more dead chunks than this share of the live ones, and the build
# writes one compacted segment (copying vectors, embedding nothing).
MAX_SEGMENTS = 4
MAX_DEAD_SHARE = 0.25


@dataclass
class IndexReport:
    """What one index build did."""

    chunks: int = 0
    embedded: int = 0
    copied: int = 0
    removed: int = 0
    unchanged: int = 0
    pages: int = 0
    parsed: int = 0
    generation: int = 0
    segments: int = 0
    seconds: float = 0.0
    changed: bool = False
    purged: int = 0


def build_index(settings: Settings, store: Store | None = None, *, fresh: bool = False,
                clock: Callable[[], float] = time.time) -> IndexReport:
    """Bring the index up to date with the pages folder; a bad page raises before anything changes.

    fresh ignores what is stored (a rebuild after damage): every chunk is embedded again.
    """
    started = time.perf_counter()
    store = store or Store(settings)
    with store.writing():
        current = None if fresh else store.manifest()
        shape = recipe(settings.docs_base_url, settings.chunk_tokens, settings.rules_file)
        known = current.pages if current is not None and current.recipe == shape else {}
        changes = chunk_changed(settings.pages_path, settings.docs_base_url, settings.chunk_tokens, known,
                                SyncState.load(settings.pages_path).fetched(), rules=settings.rules_file,
                                cache=settings.data_dir / "pages.cache")
        pages, parsed = changes.pages, changes.chunks
        wanted = tuple(cid for pid in sorted(pages) for cid in pages[pid].ids)
        live = set(wanted)
        old_live = set(current.ids) if current else set()
        report = IndexReport(chunks=len(wanted), pages=len(pages), parsed=changes.parsed,
                             removed=len(old_live - live), unchanged=len(old_live & live))
        if current is not None and pages == current.pages and current.recipe == shape:
            manifest = current
        else:
            # New chunking or tokenizer code: stored terms are stale, so every live chunk is copied once.
            rewrite = current is not None and current.recipe != shape
            manifest = _next_generation(store, current, pages, wanted, parsed, shape, report, clock, rewrite)
            report.changed = True
        manifest, report.purged = _purge(store, manifest, clock)
        report.generation, report.segments = manifest.generation, len(manifest.segments)
        if report.changed:
            store.drop_legacy()
    report.seconds = time.perf_counter() - started
    return report


def _next_generation(store: Store, current: Manifest | None, pages: dict[str, PageEntry], wanted: tuple[str, ...],
                     parsed: list[Chunk], shape: str, report: IndexReport, clock: Callable[[], float],
                     rewrite: bool = False) -> Manifest:
    """Write the segments a new generation needs and publish it."""
    generation = (current.generation if current else 0) + 1
    live = set(wanted)
    segments = [s for s in (current.segments if current else ()) if live.intersection(s.ids)]
    stored = {cid for s in segments for cid in s.ids}
    by_id = {c.id: c for c in parsed}
    new = [by_id[cid] for cid in dict.fromkeys(wanted) if cid not in stored]
    dead = sum(1 for s in segments for cid in s.ids if cid not in live)
    if rewrite or len(segments) + bool(new) > MAX_SEGMENTS or dead > MAX_DEAD_SHARE * len(live):
        copy = [(s, [cid for cid in s.ids if cid in live]) for s in segments]
        segments = [store.write_segment(generation, new, copy)]
        report.copied = sum(len(ids) for _, ids in copy)
    elif new:
        segments.append(store.write_segment(generation, new))
    report.embedded = len(new)
    kept = {s.name for s in segments}
    now = clock()
    retired = [r for r in (current.retired if current else ()) if r.name not in kept]
    retired += [Retired(s.name, now) for s in (current.segments if current else ()) if s.name not in kept]
    manifest = Manifest(generation=generation, built_at=now_iso(), embedder=embedder_key(store.settings),
                        recipe=shape, pages=dict(pages), segments=tuple(segments), retired=tuple(retired))
    store.publish(manifest)
    return manifest


def _purge(store: Store, manifest: Manifest, clock: Callable[[], float]) -> tuple[Manifest, int]:
    """Drop segments retired longer than the grace period ago; readers have moved on by then."""
    now = clock()
    expired = [r for r in manifest.retired if now - r.at >= store.grace]
    if not expired:
        return manifest, 0
    dropped = store.drop([r.name for r in expired])
    manifest = replace(manifest, retired=tuple(r for r in manifest.retired if r not in expired))
    store.publish(manifest)
    return manifest, dropped


def open_store(settings: Settings, *, repair: bool = False) -> Store:
    """Open the store and check it can be read; raise IndexCorrupt naming the command to run when it cannot.

    With repair an unreadable store is replaced by an empty one: an embedded folder is moved aside,
    on a Chroma server this index's collections are deleted. The caller then builds the index.
    """
    client = None
    try:
        client = make_client(settings)
        store = Store(settings, client)
        store.verify()
        return store
    except Exception as err:  # noqa: BLE001 - Chroma raises many types for a broken file
        if settings.chroma_host and unreachable(err):
            raise StoreUnreachable(f"the Chroma server at {settings.chroma_host}:{settings.chroma_port} "
                                   "does not answer") from err
        if not repair:
            raise IndexCorrupt(f"the help-center index cannot be read ({err}): "
                               "run `python -m bot index --rebuild`") from err
        log.error("the help-center index cannot be read (%s); replacing it", err)
        if settings.chroma_host and client is not None:
            prefix = Store.prefix_for(settings)
            for col in client.list_collections():
                if col.name.startswith(prefix):
                    client.delete_collection(col.name)
            return Store(settings, client)
        if client is not None:
            client.close()
        forget_embedded(settings)
        aside = settings.index_dir.with_name(f"{settings.index_dir.name}.unreadable-{int(time.time())}")
        shutil.move(str(settings.index_dir), str(aside))
        log.error("the unreadable index was moved to %s", aside)
        return Store(settings)


def ready_store(settings: Settings) -> Store:
    """Open the store for a long-lived bot: replace an unreadable embedded index, build a missing one.

    A Chroma server that does not answer leaves search unavailable until it does; verdicts still work.
    """
    try:
        store = open_store(settings, repair=not settings.chroma_host)
        if store.manifest() is None:
            build_index(settings, store)
        return store
    except StoreUnreachable as err:
        log.error("%s: search is unavailable until it does", err.message)
        return Store(settings)
