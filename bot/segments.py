"""Chroma segments (immutable collections of content-addressed chunks) and the manifest record naming them.

A generation is published by one record write; segments are never changed once written, so a reader in
any process (embedded or client/server) sees the old generation or the new one, never a half-built index.
"""
from __future__ import annotations

import fcntl
import logging
import secrets
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

import chromadb
import numpy as np
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.api.types import Documents, EmbeddingFunction

from bot.embeddings import embedder_key, make_embedding_function
from bot.errors import BotError
from bot.ingest import Chunk
from bot.lexical import stored_terms
from bot.manifest import Manifest, Segment
from bot.settings import Settings
from bot.threads import all_cores

log = logging.getLogger("bot.segments")

MANIFEST_ID = "live"
LEGACY_MANIFEST_ID = "manifest"
EMBED_BATCH = 64
IO_BATCH = 1000
_WRITE_LOCK = threading.RLock()
_HELD = {"depth": 0}  # guarded by _WRITE_LOCK: nested writers in one thread take the file lock once


class SearchUnavailable(BotError):
    """The help-center index cannot be searched right now (missing, unreadable or unreachable)."""

    code = "search_unavailable"


class IndexMissing(SearchUnavailable):
    """No index has been built yet."""

    code = "index_missing"


class IndexCorrupt(SearchUnavailable):
    """The stored index cannot be read."""

    code = "index_corrupt"


class StoreUnreachable(SearchUnavailable):
    """The Chroma server does not answer."""

    code = "store_unreachable"


def unreachable(err: BaseException) -> bool:
    """Return True when err says the Chroma server could not be reached (not that its data is bad)."""
    import httpx

    return isinstance(err, httpx.TransportError) or (isinstance(err, ValueError) and "Could not connect" in str(err))


def make_client(settings: Settings) -> ClientAPI:
    """Return an embedded (default) or client/server Chroma client."""
    chroma_settings = chromadb.Settings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_host:
        return chromadb.HttpClient(
            host=settings.chroma_host, port=settings.chroma_port, ssl=settings.chroma_ssl, settings=chroma_settings
        )
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.index_dir), settings=chroma_settings)


def forget_embedded(settings: Settings) -> None:
    """Stop this process's cached embedded Chroma for the index folder, so a new client opens the files anew."""
    from chromadb.api.shared_system_client import SharedSystemClient

    # Chroma keeps one system per folder for the whole process, with its database open; after the
    # folder is replaced that system would keep serving the old files. There is no public way to drop it.
    system = SharedSystemClient._identifier_to_system.pop(str(settings.index_dir), None)
    SharedSystemClient._identifier_to_refcount.pop(str(settings.index_dir), None)
    if system is not None:
        try:
            system.stop()
        except Exception:  # noqa: BLE001 - a system that never opened the files has nothing to stop
            log.debug("embedded Chroma for %s was not running", settings.index_dir, exc_info=True)


def now_iso() -> str:
    """Return the current UTC time, to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Store:
    """Segments (one Chroma collection each) and the manifest record that names the live ones."""

    def __init__(self, settings: Settings, client: ClientAPI | None = None,
                 embedding: EmbeddingFunction[Documents] | None = None, *, grace: float | None = None) -> None:
        self.settings = settings
        self.embedding = embedding or make_embedding_function(settings)
        self.grace = settings.index_grace_seconds if grace is None else grace
        self.prefix = self.prefix_for(settings)
        self._client = client
        self._meta: Collection | None = None
        self._collections: dict[str, Collection] = {}
        self._lock = threading.Lock()

    @property
    def client(self) -> ClientAPI:
        """Return the Chroma client, connecting on first use (a server may come up after the app)."""
        with self._lock:
            if self._client is None:
                self._client = make_client(self.settings)
            return self._client

    @property
    def meta(self) -> Collection:
        """Return the collection holding the manifest record."""
        client = self.client
        with self._lock:
            if self._meta is None:
                # The manifest carries no meaningful vector; a 1-d placeholder keeps Chroma's embedder out of it.
                self._meta = client.get_or_create_collection(f"{self.prefix}_manifest", embedding_function=None)
            return self._meta

    @staticmethod
    def prefix_for(settings: Settings) -> str:
        """Return the start of every collection name of this index (collection setting and embedder)."""
        return f"{settings.chroma_collection}_{embedder_key(settings)}"

    # --- reading ------------------------------------------------------------------------------
    def head(self) -> dict[str, Any] | None:
        """Return the small record of the live generation (cheap to poll), or None before the first build."""
        got = self.meta.get(ids=[MANIFEST_ID], include=["metadatas"])
        metas = got.get("metadatas") or []
        return dict(metas[0]) if metas and metas[0] else None

    def manifest(self) -> Manifest | None:
        """Return the live manifest, or None before the first build."""
        got = self.meta.get(ids=[MANIFEST_ID], include=["documents"])
        docs = got.get("documents") or []
        return Manifest.from_json(docs[0]) if docs and docs[0] else None

    def collection(self, name: str) -> Collection:
        """Return a segment's collection (handles are kept: segments never change)."""
        client = self.client
        with self._lock:
            col = self._collections.get(name)
            if col is None:
                col = client.get_collection(name, embedding_function=self.embedding)
                self._collections[name] = col
            return col

    def rows(self, segment: Segment) -> dict[str, dict[str, Any]]:
        """Return every chunk of a segment (metadata plus text) by id."""
        col = self.collection(segment.name)
        rows: dict[str, dict[str, Any]] = {}
        for start in range(0, len(segment.ids), IO_BATCH):
            got = col.get(ids=list(segment.ids[start : start + IO_BATCH]), include=["metadatas"])
            for cid, meta in zip(got["ids"], got["metadatas"] or []):
                rows[cid] = {"id": cid, **(meta or {})}
        return rows

    def verify(self) -> Manifest | None:
        """Read the manifest and touch every live segment (count, one vector, one query); raise when unreadable."""
        manifest = self.manifest()
        for seg in manifest.segments if manifest else ():
            col = self.collection(seg.name)
            if col.count() != len(seg.ids):
                raise IndexCorrupt(f"segment {seg.name} holds {col.count()} chunks, the manifest says {len(seg.ids)}")
            got = col.get(ids=[seg.ids[0]], include=["embeddings"])
            col.query(query_embeddings=np.asarray(got["embeddings"], dtype=np.float32), n_results=1, include=[])
        return manifest

    # --- writing ------------------------------------------------------------------------------
    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the writer lock (re-entrant): one writer per process, and per data folder in embedded mode."""
        with _WRITE_LOCK:
            if _HELD["depth"] or self.settings.chroma_host:
                _HELD["depth"] += 1
                try:
                    yield
                finally:
                    _HELD["depth"] -= 1
                return
            self.settings.data_dir.mkdir(parents=True, exist_ok=True)
            with open(self.settings.data_dir / "index.lock", "w") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                _HELD["depth"] = 1
                try:
                    yield
                finally:
                    _HELD["depth"] = 0
                    fcntl.flock(handle, fcntl.LOCK_UN)

    def new_segment_name(self, generation: int) -> str:
        """Return a fresh collection name for a segment of this generation."""
        return f"{self.prefix}_g{generation:05d}_{secrets.token_hex(3)}"

    def write_segment(self, generation: int, new: Sequence[Chunk], copy: Sequence[tuple[Segment, Sequence[str]]] = (),
                      batch: int = EMBED_BATCH) -> Segment:
        """Write a segment: copy stored vectors (no embedding) and embed new chunks; drop it if anything fails."""
        name = self.new_segment_name(generation)
        col = self.client.create_collection(name, embedding_function=self.embedding,
                                            configuration={"hnsw": {"space": "cosine"}})
        ids: list[str] = []
        try:
            for seg, wanted in copy:
                source = self.collection(seg.name)
                for start in range(0, len(wanted), IO_BATCH):
                    got = source.get(ids=list(wanted[start : start + IO_BATCH]),
                                     include=["embeddings", "metadatas", "documents"])
                    # Terms are computed again: a copy is how stored terms catch up with the tokenizer.
                    metas = [{**m, **stored_terms(str(m.get("page_title", "")), str(m.get("section", "")),
                                                  str(m.get("text", "")))} for m in got["metadatas"] or []]
                    col.add(ids=got["ids"], embeddings=got["embeddings"], metadatas=metas, documents=got["documents"])
                    ids += got["ids"]
            for start in range(0, len(new), batch):
                part = new[start : start + batch]
                docs = [c.embed_text for c in part]
                with all_cores():  # a batch spreads over every core; a query uses one
                    vectors = self.embedding(docs)
                col.add(ids=[c.id for c in part], embeddings=vectors, documents=docs,
                        metadatas=[{**c.metadata(), "text": c.text, **stored_terms(c.page_title, c.section, c.text)}
                                   for c in part])
                ids += [c.id for c in part]
        except BaseException:
            self.drop([name])
            raise
        return Segment(name, tuple(ids))

    def publish(self, manifest: Manifest) -> None:
        """Make manifest the live generation with one record write."""
        self.meta.upsert(ids=[MANIFEST_ID], embeddings=[[0.0]], documents=[manifest.to_json()],
                         metadatas=[manifest.head()])

    def drop(self, names: Sequence[str]) -> int:
        """Delete segment collections; a missing one is already gone. Return how many were deleted."""
        dropped = 0
        for name in names:
            with self._lock:
                self._collections.pop(name, None)
            try:
                self.client.delete_collection(name)
                dropped += 1
            except Exception as err:  # noqa: BLE001 - NotFound differs by client; nothing else to undo
                log.info("segment %s not dropped: %s", name, err)
        return dropped

    def drop_legacy(self) -> None:
        """Remove the single mutable collection and manifest record older versions wrote."""
        if self.meta.get(ids=[LEGACY_MANIFEST_ID], include=[])["ids"]:
            self.meta.delete(ids=[LEGACY_MANIFEST_ID])
            self.drop([self.prefix])
