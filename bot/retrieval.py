"""Hybrid retrieval: dense (Chroma) plus lexical (BM25), fused by reciprocal rank, one hit per section."""
from __future__ import annotations

import bisect
import hashlib
import logging
import math
import os
import pickle
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import bm25s
import numpy as np
from chromadb.api.models.Collection import Collection
from rapidfuzz import fuzz, process

from bot import timing
from bot.errors import InputError
from bot.lexical import HANGUL, TOKEN, Glossary, korean_words, row_terms, terms_version, tokenize
from bot.manifest import Manifest
from bot.segments import IndexMissing, SearchUnavailable, Store

__all__ = ["Glossary", "Health", "Hit", "IndexMissing", "Retriever", "SearchUnavailable", "Snapshot", "tokenize"]

log = logging.getLogger("bot.retrieval")

RRF_K = 60
CANDIDATES = 20
MAX_QUERY_CHARS = 2000
MANIFEST_CHECK_SECONDS = 0.5
MIN_LEXICAL = 0.5
SPLIT_FACTOR = 3  # closest chunks asked for at once, to split by language
WHOLE_BELOW = 1000  # an index this small returns every chunk's similarity in one query (no second query per language)
QUERY_CACHE_SIZE = 4096  # query vectors kept (384 floats each: ~6 MB)


@dataclass(frozen=True)
class Hit:
    """One retrieved section with the chunk that matched best."""

    chunk_id: str
    section_id: str
    section: str
    page_title: str
    url: str
    text: str
    kind: str
    score: float
    dense: float
    lexical: float
    lang: str = "en"
    disputed: bool = False  # other pages state this differently (the help center is being updated)
    fetched_at: str = ""  # when the page was fetched from the published site ("" when not synced)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON shape printed by `search --json`."""
        return {
            "text": self.text,
            "section": self.section or self.page_title,
            "section_id": self.section_id,
            "page": self.page_title,
            "url": self.url,
            "score": round(self.score, 6),
            "dense_score": round(self.dense, 4),
            "lexical_score": round(self.lexical, 4),
            "kind": self.kind,
            "chunk_id": self.chunk_id,
            "fetched_at": self.fetched_at or None,
        }


class Snapshot:
    """One generation held in memory: live rows, the lexical index over them, the segments to query."""

    def __init__(self, manifest: Manifest, rows: dict[str, dict[str, Any]], terms: dict[str, list[str]],
                 segments: list[tuple[Collection, int, int]]) -> None:
        self.manifest = manifest
        self.generation = manifest.generation
        self.ids = list(manifest.ids)
        self.fetched = {pid: p.fetched_at for pid, p in manifest.pages.items() if p.fetched_at}
        self.by_id = {cid: rows[cid] for cid in self.ids}  # rows are shared with the cache, never copied
        corpus = [terms[cid] for cid in self.ids]
        self.vocab = sorted({t for doc in corpus for t in doc})
        # How rare each word is across the help center: a question's rare words are what a passage must have.
        df: dict[str, int] = {}
        for doc in corpus:
            for t in set(doc):
                df[t] = df.get(t, 0) + 1
        self.df = df
        self.docs = len(corpus)
        # Words of page titles and headings: what the help center is about, for telling on- from off-topic.
        self.vocabulary = frozenset(t for r in self.by_id.values()
                                    for t in tokenize(f"{r.get('page_title', '')} {r.get('section', '')}") if len(t) > 2)
        self.languages = frozenset(r.get("lang") or "en" for r in self.by_id.values())
        # Which languages each page exists in: a question is answered from its own language's twin.
        self.langs: dict[str, set[str]] = {}
        for r in self.by_id.values():
            if not r.get("stale"):
                self.langs.setdefault(page_key(r), set()).add(r.get("lang") or "en")
        self.vocab_set = set(self.vocab)
        self.by_length = sorted((len(w), w) for w in self.vocab)
        self._near: dict[str, str] = {}
        # Whether some page has no (current) version in a language: only then are other languages searched.
        self.lacking = {lg: any(lg not in have for have in self.langs.values()) for lg in self.languages}
        self.bm25 = bm25s.BM25()
        self.bm25.index(corpus, show_progress=False)
        self.segments = segments  # (collection, chunks in it, chunks in it no longer live)

    def expand(self, terms: list[str]) -> list[str]:
        """Map unknown query words to close index words, so typos still match ("seedrem")."""
        out = []
        for t in terms:
            if t in self.vocab_set or len(t) < 4 or t.isdigit():
                out.append(t)
                continue
            near = self._near.get(t)
            if near is None:
                # Words of a near length only: a ratio of 80 or more needs the other word to be 2/3 to 3/2 as long.
                lo = bisect.bisect_left(self.by_length, (len(t) * 2 // 3, ""))
                hi = bisect.bisect_right(self.by_length, (len(t) * 3 // 2 + 1, ""))
                best = process.extractOne(t, [w for _, w in self.by_length[lo:hi]], scorer=fuzz.ratio, score_cutoff=80)
                near = best[0] if best else t
                if len(self._near) < 100_000:
                    self._near[t] = near  # customers misspell the same words
            out.append(near)
        return out


def page_key(row: dict[str, Any]) -> str:
    """Return a stored chunk's page path without its language folder."""
    if row.get("page_key"):
        return str(row["page_key"])
    pid = str(row.get("page_id", ""))
    head, _, rest = pid.partition("/")
    return rest if rest and len(head) == 2 else pid


@dataclass(frozen=True)
class Health:
    """Whether search can answer now, and from which generation."""

    ok: bool
    generation: int | None
    problem: str = ""
    latest: int | None = None


@cache
def _code_version() -> str:
    """Return a key of this module's code and the BM25 library: a saved index from other code is rebuilt."""
    return hashlib.sha256(Path(__file__).read_bytes() + bm25s.__version__.encode()).hexdigest()[:12]


class QueryCache:
    """Vectors of recent queries (customers ask the same things), least recently used dropped first.

    Keyed by the query with case and spacing folded; a vector depends on the embedding model only, so
    it outlives index generations. Thread-safe; counts hits and misses for the benches.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    @staticmethod
    def key(query: str) -> str:
        return " ".join(query.casefold().split())

    def get(self, query: str) -> np.ndarray | None:
        k = self.key(query)
        with self._lock:
            v = self._items.get(k)
            if v is None:
                self.misses += 1
                return None
            self._items.move_to_end(k)
            self.hits += 1
            return v

    def put(self, query: str, vector: np.ndarray) -> np.ndarray:
        vector.setflags(write=False)  # shared between requests: nobody may change it
        k = self.key(query)
        with self._lock:
            self._items[k] = vector
            self._items.move_to_end(k)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return vector

    def stats(self) -> dict[str, float]:
        with self._lock:
            looked = self.hits + self.misses
            return {"hits": self.hits, "misses": self.misses, "size": len(self._items),
                    "hit_rate": round(self.hits / looked, 3) if looked else 0.0}


class Retriever:
    """Search the live index; a new generation is loaded in the background and swapped in whole."""

    def __init__(self, store: Store, glossary: Glossary | None = None, *,
                 check_every: float = MANIFEST_CHECK_SECONDS) -> None:
        self.store = store
        self.glossary = glossary or Glossary()
        self.check_every = check_every
        self._snapshot: Snapshot | None = None
        self._checked = 0.0
        self._load_lock = threading.Lock()
        self._loader: threading.Thread | None = None
        self._rows: dict[str, dict[str, dict[str, Any]]] = {}
        self._terms: dict[str, list[str]] = {}
        self.vectors = QueryCache(QUERY_CACHE_SIZE)

    # --- generations ----------------------------------------------------------------------
    def load(self) -> Snapshot:
        """Load the live generation now (blocking) unless it is already loaded; raise when there is none."""
        with self._load_lock:
            try:
                manifest = self.store.manifest()
            except Exception as err:  # noqa: BLE001 - any store failure means no search
                log.warning("the index manifest cannot be read: %s", err)
                raise SearchUnavailable(f"the help-center index cannot be read ({type(err).__name__})") from err
            if manifest is None or not manifest.pages:
                raise IndexMissing("the help-center index is empty: run `python -m bot index` first")
            snap = self._snapshot
            if snap is None or snap.generation != manifest.generation:
                try:
                    snap = self._saved(manifest) or self._save(manifest, self._build(manifest))
                    self._warm(snap)
                except Exception as err:  # noqa: BLE001
                    log.warning("generation %s cannot be loaded: %s", manifest.generation, err)
                    raise SearchUnavailable(f"index generation {manifest.generation} cannot be loaded "
                                            f"({type(err).__name__}): run `python -m bot index --rebuild`") from err
                self._snapshot = snap
                self._checked = time.monotonic()
            return snap

    def prepare(self, *, background: bool = False) -> None:
        """Load the live generation now (or start loading it); when search is down, log it and carry on.

        Until a background load ends, searches and health checks wait for it rather than fail.
        """
        if background:
            self._load_in_background()
            return
        try:
            self.load()
        except SearchUnavailable as err:
            log.error("search is unavailable at start: %s", err.message)

    def _build(self, manifest: Manifest) -> Snapshot:
        """Read what the new generation adds (segments are immutable: known ones are reused) and index it."""
        names = {s.name for s in manifest.segments}
        for name in [n for n in self._rows if n not in names]:
            del self._rows[name]
        rows: dict[str, dict[str, Any]] = {}
        for seg in manifest.segments:
            if seg.name not in self._rows:
                self._rows[seg.name] = self.store.rows(seg)
            rows.update(self._rows[seg.name])
        live = manifest.ids
        terms = {cid: self._terms.get(cid) or row_terms(rows[cid]) for cid in live}
        self._terms = terms
        return Snapshot(manifest, rows, terms, self._segments(manifest))

    def _segments(self, manifest: Manifest) -> list[tuple[Collection, int, int]]:
        """Return each segment's collection, its size and how many of its chunks are no longer live."""
        live = set(manifest.ids)
        return [(self.store.collection(s.name), len(s.ids), sum(c not in live for c in s.ids)) for s in manifest.segments]

    # --- the in-memory index of a generation, kept on disk beside the store ----------------------
    def _saved_path(self, manifest: Manifest) -> Path:
        key = hashlib.sha256("\n".join([terms_version(), _code_version(), *(g.name for g in manifest.segments),
                                        *manifest.ids]).encode()).hexdigest()[:16]
        return self.store.settings.data_dir / "snapshots" / f"{self.store.prefix}-{manifest.generation}-{key}.pickle"

    def _saved(self, manifest: Manifest) -> Snapshot | None:
        """Return the generation as saved by the process that loaded it first (a start-up reads, not rebuilds)."""
        path = self._saved_path(manifest)
        try:
            with path.open("rb") as f:
                rows_by_segment, terms, state = pickle.load(f)  # noqa: S301 - written by this app into DATA_DIR
        except FileNotFoundError:
            return None
        except Exception as err:  # noqa: BLE001 - a damaged file is rebuilt from the store
            log.warning("saved search index %s unreadable (%s); rebuilding it", path.name, type(err).__name__)
            return None
        self._rows, self._terms = rows_by_segment, terms
        snap = Snapshot.__new__(Snapshot)
        snap.__dict__.update(state)
        snap.manifest = manifest
        snap.segments = self._segments(manifest)
        return snap

    def _save(self, manifest: Manifest, snap: Snapshot) -> Snapshot:
        """Write the built generation for the next start (atomically; older generations' files removed)."""
        path = self._saved_path(manifest)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            state = {k: v for k, v in snap.__dict__.items() if k not in ("segments", "manifest")}
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            with tmp.open("wb") as f:
                pickle.dump((self._rows, self._terms, state), f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
            for old in path.parent.glob(f"{self.store.prefix}-*.pickle"):
                if old != path:
                    old.unlink(missing_ok=True)
        except OSError as err:
            log.warning("could not save the search index for the next start: %s", err)
        return snap

    def _warm(self, snap: Snapshot) -> None:
        """Touch every segment once, so the first customer on this generation waits for nothing."""
        vectors = self._embed(["credits"])
        for col, _, _ in snap.segments:
            col.query(query_embeddings=vectors, n_results=1, include=[])

    def current(self) -> Snapshot:
        """Return the generation to answer from; notice a newer one without making this request wait."""
        snap = self._snapshot
        if snap is None:
            return self.load()
        now = time.monotonic()
        if now - self._checked >= self.check_every:
            self._checked = now
            try:
                head = self.store.head()
            except Exception as err:  # noqa: BLE001 - the query itself will tell whether search still works
                log.warning("could not check the index generation (%s: %s)", type(err).__name__, err)
                return snap
            if head is not None and head.get("generation") != snap.generation:
                self._load_in_background()
        return snap

    def _load_in_background(self) -> None:
        """Start loading the live generation in a thread, unless one is loading already."""
        loader = self._loader
        if loader is not None and loader.is_alive():
            return
        self._loader = threading.Thread(target=self._background_load, name="index-refresh", daemon=True)
        self._loader.start()

    def _background_load(self) -> None:
        try:
            self.load()
        except SearchUnavailable as err:
            log.warning("index generation not loaded: %s", err.message)

    def health(self) -> Health:
        """Return whether search can answer now and the generation it answers from."""
        snap = self._snapshot
        serving = snap.generation if snap else None
        try:
            head = self.store.head()
        except Exception as err:  # noqa: BLE001
            return Health(False, serving, f"the index cannot be read ({type(err).__name__})")
        if head is None:
            return Health(False, serving, "no index yet: run `python -m bot index`")
        if snap is None:
            try:
                snap = self.load()
            except SearchUnavailable as err:
                return Health(False, None, err.message)
        elif head.get("generation") != snap.generation:
            self._load_in_background()
        return Health(True, snap.generation, "", int(head.get("generation", 0)))

    # --- search -----------------------------------------------------------------------------
    def vocabulary(self) -> frozenset[str]:
        """Return the words of the help center's page titles and headings."""
        return self.current().vocabulary

    def _df(self, snap: Snapshot, word: str) -> int:
        """Return on how many chunks a word (or its singular) appears."""
        stem = word.lower()
        if HANGUL.search(stem) and len(stem) > 2:
            stem = stem[:2]  # Korean words carry particles: their first two syllables are indexed on their own
        return snap.df.get(stem) or snap.df.get(stem.rstrip("s")) or 0

    def seen(self, word: str) -> bool:
        """Return True when a word appears anywhere on the help-center pages."""
        return self._df(self.current(), word) > 0

    def rarity(self, word: str) -> float:
        """Return how rare a word is in the help center (inverse document frequency; unseen words are rarest)."""
        snap = self.current()
        return math.log((snap.docs + 1) / (self._df(snap, word) + 0.5))

    def _embed(self, queries: list[str]) -> list[np.ndarray]:
        """Return one vector per query: repeated questions come from the cache, the rest in one batch."""
        found = [self.vectors.get(q) for q in queries]
        missing = [q for q, v in zip(queries, found) if v is None]
        if missing:
            with timing.phase("embed"):
                fresh = iter([np.asarray(v, dtype=np.float32) for v in self.store.embedding.embed_query(missing)])
            found = [v if v is not None else self.vectors.put(q, next(fresh)) for q, v in zip(queries, found)]
        return found  # type: ignore[return-value]

    def _dense(self, snap: Snapshot, vectors: list[np.ndarray], want: int, where: dict[str, Any] | None) -> list[dict[str, float]]:
        """Return, per vector, the `want` closest live chunks (matching `where`) with their cosine similarity, closest first.

        All vectors go in one query per segment: each call into the store costs about as much as the search.
        """
        sims: list[dict[str, float]] = [{} for _ in vectors]
        for col, size, dead in snap.segments:
            # A segment can still hold chunks no longer live: ask for enough to cover them.
            got = col.query(query_embeddings=list(vectors), n_results=min(size, want + dead), include=["distances"],
                            **({"where": where} if where else {}))
            for n, (ids, dists) in enumerate(zip(got["ids"], got["distances"] or [[] for _ in vectors])):
                for cid, dist in zip(ids, dists):
                    if cid in snap.by_id:
                        sims[n][cid] = max(sims[n].get(cid, -1.0), 1.0 - float(dist))
        return [dict(sorted(found.items(), key=lambda kv: -kv[1])[:want]) for found in sims]

    def _rankings(self, snap: Snapshot, vectors: list[np.ndarray], want: int, lang: str | None,
                  cross: bool) -> list[dict[str, float]]:
        """Return the dense rankings to fuse: the question in its language and in others, its English words in others.

        Pages in the question's language and pages in other languages are searched apart: e5 ranks any passage
        in the same language above the right passage in another, which a page without a twin needs. Other
        languages are searched only when `cross` (some page lacks the question's language).
        """
        if not lang or len(snap.languages) < 2:
            return self._dense(snap, vectors, want, None)
        out = []
        # One unfiltered query split by language costs a fraction of one query per language; a language with
        # too few chunks among the closest is asked for on its own. A small index is asked for all of its
        # chunks at once: about as fast as a few, and never short of a language.
        near_all = self._dense(snap, vectors, max(want * SPLIT_FACTOR, min(len(snap.ids), WHOLE_BELOW)), None)
        for n, near in enumerate(near_all):
            same = {c: v for c, v in near.items() if (snap.by_id[c].get("lang") or "en") == lang}
            other = {c: v for c, v in near.items() if (snap.by_id[c].get("lang") or "en") != lang}
            if n == 0:
                out.append(dict(list(same.items())[:want]) if len(same) >= want
                           else self._dense(snap, [vectors[n]], want, {"lang": lang})[0])
            if cross:
                out.append(dict(list(other.items())[:want]) if len(other) >= want
                           else self._dense(snap, [vectors[n]], want, {"lang": {"$ne": lang}})[0])
        return out

    def search(self, query: str, k: int = 5, lang: str | None = None, per_section: int = 1) -> list[Hit]:
        """Return up to k hits for the query, best first, at most per_section from one section.

        With lang, hits come from that language's pages where they exist (the English page otherwise).
        Raise SearchUnavailable when the index cannot answer.
        """
        query = (query or "").strip()
        if not query:
            raise InputError("the question is empty")
        if len(query) > MAX_QUERY_CHARS:
            raise InputError(f"the question is too long ({len(query)} characters; the limit is {MAX_QUERY_CHARS})")
        # With a language, twins in other languages are skipped later: look at more candidates.
        want = CANDIDATES * (2 if lang else 1)
        english = self.glossary.english(query)
        # A Korean question is also searched by its English words: e5 otherwise favours the
        # few passages that happen to contain Korean labels.
        snap = self.current()
        # Other languages (and a Korean question's English words) are searched only when a page lacks the
        # question's language: otherwise every page's twin in that language answers.
        cross = not lang or snap.lacking.get(lang, True)
        queries = [query, english] if english and HANGUL.search(query) and cross else [query]
        try:
            vectors = self._embed(queries)
        except Exception as err:  # noqa: BLE001 - a remote embedder can fail like the store
            raise SearchUnavailable(f"the question could not be embedded ({type(err).__name__})") from err
        try:
            dense = self._rankings(snap, vectors, want, lang, cross)
        except Exception as first:  # noqa: BLE001
            # The generation may have been dropped under a long-idle reader: load the live one, once.
            log.info("dense search failed on generation %s (%s); reloading", snap.generation, first)
            try:
                snap = self.load()
                dense = self._rankings(snap, vectors, want, lang, cross)
            except SearchUnavailable:
                raise
            except Exception as err:  # noqa: BLE001
                raise SearchUnavailable(f"the help-center index cannot be searched ({type(err).__name__}); if it "
                                        "persists, run `python -m bot index --rebuild`") from err
        return self._fuse(snap, query, english, dense, k, lang, want, per_section)

    def _fuse(self, snap: Snapshot, query: str, english: str, dense: list[dict[str, float]], k: int,
              lang: str | None, want: int, per_section: int) -> list[Hit]:
        """Fuse the dense and lexical rankings by reciprocal rank; keep one hit per section."""
        dense_sim: dict[str, float] = {}
        ranked: list[list[str]] = []
        for sims in dense:
            ranked.append(list(sims))
            for cid, sim in sims.items():
                dense_sim[cid] = max(dense_sim.get(cid, 0.0), sim)
        lexical: dict[str, float] = {}
        if english and HANGUL.search(query):
            # Hangul bigrams of a Korean question mostly hit the Korean UI labels: use exact words only.
            terms = tokenize(english) + [t for t in korean_words(query) if t in snap.vocab_set]
        elif english:
            terms = snap.expand(tokenize(query)) + tokenize(english)  # "dropping" also looks for "going down"
        else:
            terms = snap.expand(tokenize(query))
        if terms:
            docs, scores = snap.bm25.retrieve([terms], k=min(want, len(snap.ids)), show_progress=False)
            for idx, score in zip(docs[0], scores[0]):
                # bm25s returns arbitrary documents at score 0; words found on every page score near 0.
                if score >= MIN_LEXICAL:
                    lexical[snap.ids[int(idx)]] = float(score)
        ranked.append(sorted(lexical, key=lexical.__getitem__, reverse=True))
        fused: dict[str, float] = {}
        for ids in ranked:
            for rank, cid in enumerate(ids):
                fused[cid] = fused.get(cid, 0.0) + 1.0 / (RRF_K + rank + 1)
        hits: list[Hit] = []
        seen: dict[str, int] = {}
        for cid in sorted(fused, key=lambda c: (-fused[c], c)):
            row = snap.by_id[cid]
            if seen.get(row["section_id"], 0) >= per_section:
                continue
            row_lang = row.get("lang") or "en"
            if row.get("stale"):
                continue  # a translation that no longer says what its English page says: the English page answers
            if lang and row_lang != lang and lang in snap.langs.get(page_key(row), ()):
                continue  # its twin in the question's language answers instead
            seen[row["section_id"]] = seen.get(row["section_id"], 0) + 1
            hits.append(Hit(cid, row["section_id"], row["section"], row["page_title"], row["url"], row["text"],
                            row["kind"], fused[cid], dense_sim.get(cid, 0.0), lexical.get(cid, 0.0), row_lang,
                            bool(row.get("disputed")), snap.fetched.get(row.get("page_id", ""), "")))
            if len(hits) == k:
                break
        return hits
