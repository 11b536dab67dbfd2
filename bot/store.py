"""The Chroma store: content-addressed chunks plus a manifest naming the live generation."""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import chromadb
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.api.types import Documents, EmbeddingFunction

from bot.embeddings import embedder_key, make_embedding_function
from bot.errors import BotError
from bot.ingest import Chunk, load_chunks
from bot.settings import Settings

MANIFEST_ID = "manifest"
BATCH = 64
_SYNC_LOCK = threading.Lock()


class IndexMissing(BotError):
    """No index has been built yet."""

    code = "index_missing"


@dataclass(frozen=True)
class Manifest:
    """Which chunk ids make up the live index, and which made up the one before."""

    generation: int = 0
    ids: tuple[str, ...] = ()
    previous_ids: tuple[str, ...] = ()
    built_at: str = ""
    embedder: str = ""

    def to_json(self) -> str:
        """Return the manifest as JSON."""
        return json.dumps({**self.__dict__, "ids": list(self.ids), "previous_ids": list(self.previous_ids)})

    @classmethod
    def from_json(cls, raw: str) -> Manifest:
        """Parse a stored manifest."""
        data = json.loads(raw)
        return cls(data["generation"], tuple(data["ids"]), tuple(data["previous_ids"]), data["built_at"], data["embedder"])


@dataclass
class SyncReport:
    """What one index build did."""

    chunks: int = 0
    embedded: int = 0
    removed: int = 0
    unchanged: int = 0
    pages: int = 0
    generation: int = 0
    seconds: float = 0.0
    changed: bool = False
    purged: int = 0
    sections: list[str] = field(default_factory=list)


def make_client(settings: Settings) -> ClientAPI:
    """Return an embedded (default) or client/server Chroma client."""
    chroma_settings = chromadb.Settings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_host:
        return chromadb.HttpClient(
            host=settings.chroma_host, port=settings.chroma_port, ssl=settings.chroma_ssl, settings=chroma_settings
        )
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.index_dir), settings=chroma_settings)


class Store:
    """Chunks in one collection keyed by content hash; a one-record collection holds the manifest."""

    def __init__(self, settings: Settings, client: ClientAPI | None = None,
                 embedding: EmbeddingFunction[Documents] | None = None) -> None:
        self.settings = settings
        self.client = client or make_client(settings)
        self.embedding = embedding or make_embedding_function(settings)
        base = f"{settings.chroma_collection}_{embedder_key(settings)}"
        self.chunks: Collection = self.client.get_or_create_collection(
            base, embedding_function=self.embedding, configuration={"hnsw": {"space": "cosine"}}
        )
        # The manifest carries no meaningful vector; a 1-d placeholder keeps Chroma's embedder out of it.
        self.meta: Collection = self.client.get_or_create_collection(f"{base}_manifest", embedding_function=None)

    def manifest(self) -> Manifest | None:
        """Return the live manifest, or None before the first build."""
        got = self.meta.get(ids=[MANIFEST_ID], include=["documents"])
        docs = got.get("documents") or []
        return Manifest.from_json(docs[0]) if docs and docs[0] else None

    def load(self, ids: tuple[str, ...]) -> list[dict[str, Any]]:
        """Return stored chunks (metadata plus text) for ids, in that order."""
        rows: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), 500):
            got = self.chunks.get(ids=list(ids[start : start + 500]), include=["metadatas"])
            for cid, meta in zip(got["ids"], got["metadatas"] or []):
                rows[cid] = {"id": cid, **(meta or {})}
        return [rows[i] for i in ids if i in rows]

    def sync(self, chunks: list[Chunk]) -> SyncReport:
        """Make the live index equal to chunks, embedding only chunks not stored yet."""
        started = time.perf_counter()
        with _SYNC_LOCK:
            report = SyncReport(chunks=len(chunks), pages=len({c.page_id for c in chunks}))
            report.sections = sorted({c.section_id for c in chunks})
            wanted = [c.id for c in chunks]
            stored = set(self.chunks.get(include=[])["ids"])
            new = [c for c in chunks if c.id not in stored]
            for start in range(0, len(new), BATCH):
                batch = new[start : start + BATCH]
                self.chunks.add(
                    ids=[c.id for c in batch],
                    documents=[c.embed_text for c in batch],
                    metadatas=[{**c.metadata(), "text": c.text} for c in batch],
                )
            report.embedded = len(new)
            current = self.manifest()
            live = current.ids if current else ()
            report.removed = len(set(live) - set(wanted))
            report.unchanged = len(set(wanted) & set(live))
            if current is None or tuple(wanted) != current.ids:
                current = Manifest(
                    generation=(current.generation if current else 0) + 1,
                    ids=tuple(wanted),
                    previous_ids=live,
                    built_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    embedder=embedder_key(self.settings),
                )
                # One record upsert: readers see the old generation or the new one, never a mix.
                self.meta.upsert(ids=[MANIFEST_ID], embeddings=[[0.0]], documents=[current.to_json()])
                report.changed = True
            # Chunks of the generation before stay until the next build, for readers still on it.
            keep = set(current.ids) | set(current.previous_ids)
            stale = [i for i in stored if i not in keep]
            for start in range(0, len(stale), 500):
                self.chunks.delete(ids=stale[start : start + 500])
            report.purged = len(stale)
            report.generation = current.generation
        report.seconds = time.perf_counter() - started
        return report


def build_index(settings: Settings, store: Store | None = None) -> SyncReport:
    """Parse the pages, chunk them and sync the store; a bad page raises before anything changes."""
    chunks = load_chunks(settings.pages_path, settings.docs_base_url, settings.chunk_tokens, settings.rules_file)
    return (store or Store(settings)).sync(chunks)
