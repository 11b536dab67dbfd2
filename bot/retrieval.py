"""Hybrid retrieval: dense (Chroma) plus lexical (BM25), fused by reciprocal rank, one hit per section."""
from __future__ import annotations

import math
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from pathlib import Path

import bm25s
import numpy as np
import yaml
from rapidfuzz import fuzz, process

from bot.errors import InputError, SourceError
from bot.mdx import strip_markdown
from bot.store import IndexMissing, Manifest, Store

RRF_K = 60
CANDIDATES = 20
MAX_QUERY_CHARS = 2000
TOKEN = re.compile(r"\d+(?:\.\d+)+|\w+", re.U)
HANGUL = re.compile(r"[\uac00-\ud7a3]")
STOPWORDS = frozenset(
    "a an and are as at be but by can do does for from get got has have how i if in is it its me my "
    "of on or so than that the their then there these they this to was what when where which who "
    "why will with you your i'm im".split()
)
MANIFEST_CHECK_SECONDS = 0.5
MIN_LEXICAL = 0.5


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
        }


def tokenize(text: str) -> list[str]:
    """Return lexical terms: words, version numbers, joined neighbours, Hangul bigrams."""
    words = [w for w in TOKEN.findall(strip_markdown(text).lower()) if w not in STOPWORDS]
    terms = list(words)
    # "nano banana" must meet "Nanobanana", "flux 2" must meet "Flux2".
    terms += [a + b for a, b in zip(words, words[1:])]
    for w in words:
        # Korean particles stick to nouns ("크레딧은"); bigrams let them meet the bare noun.
        if HANGUL.search(w) and len(w) > 2:
            terms += [w[i : i + 2] for i in range(len(w) - 1)]
    return terms


class Glossary:
    """Words customers write in other languages, mapped to the help center's English words."""

    def __init__(self, terms: dict[str, str] | None = None) -> None:
        self.terms = {str(k): str(v) for k, v in (terms or {}).items()}
        self._keys = sorted(self.terms, key=len, reverse=True)

    @classmethod
    def load(cls, path: Path) -> Glossary:
        """Read a glossary YAML file ({terms: {word: english}}); a missing file is an empty glossary."""
        if not path.is_file():
            return cls()
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict) or not isinstance(data.get("terms", {}), dict):
            raise SourceError("glossary must have a 'terms' mapping", file=str(path))
        return cls(data.get("terms") or {})

    def pairs(self, text: str) -> list[tuple[str, str]]:
        """Return the glossary entries found in text (longest first), as (customer's words, help-center words)."""
        found, rest = [], text.lower()
        for key in self._keys:
            if key.lower() in rest:
                found.append((key, self.terms[key]))
                rest = rest.replace(key.lower(), " ")
        return found

    def english(self, text: str) -> str:
        """Return the English words for the glossary terms in text, longest terms first."""
        found, rest = [], text
        for key in self._keys:
            if key in rest:
                found.append(self.terms[key])
                rest = rest.replace(key, " ")
        return " ".join(found)


class _Snapshot:
    """One generation of the index held in memory: chunk rows and the lexical index over them."""

    def __init__(self, manifest: Manifest, rows: list[dict[str, Any]]) -> None:
        self.manifest = manifest
        self.rows = rows
        self.ids = [r["id"] for r in rows]
        corpus = [tokenize(f"{r.get('page_title', '')} {r.get('section', '')} {r.get('text', '')}") for r in rows]
        self.vocab = sorted({t for doc in corpus for t in doc})
        # Which languages each page exists in: a question is answered from its own language's twin.
        # How rare each word is across the help center: a question's rare words are what a passage must have.
        df: dict[str, int] = {}
        for doc in corpus:
            for t in set(doc):
                df[t] = df.get(t, 0) + 1
        self.df = df
        self.docs = len(corpus)
        # Words of page titles and headings: what the help center is about, for telling on- from off-topic.
        self.vocabulary = frozenset(t for r in rows for t in tokenize(f"{r.get('page_title', '')} {r.get('section', '')}") if len(t) > 2)
        self.languages = frozenset(r.get("lang") or "en" for r in rows)
        self.langs: dict[str, set[str]] = {}
        for r in rows:
            if not r.get("stale"):
                self.langs.setdefault(page_key(r), set()).add(r.get("lang") or "en")
        self.vocab_set = set(self.vocab)
        self.bm25 = bm25s.BM25()
        self.bm25.index(corpus, show_progress=False)

    def expand(self, terms: list[str]) -> list[str]:
        """Map unknown query words to close index words, so typos still match ("seedrem")."""
        out = []
        for t in terms:
            if t in self.vocab_set or len(t) < 4 or t.isdigit():
                out.append(t)
                continue
            best = process.extractOne(t, self.vocab, scorer=fuzz.ratio, score_cutoff=80)
            out.append(best[0] if best else t)
        return out


def page_key(row: dict[str, Any]) -> str:
    """Return a stored chunk's page path without its language folder."""
    if row.get("page_key"):
        return str(row["page_key"])
    pid = str(row.get("page_id", ""))
    head, _, rest = pid.partition("/")
    return rest if rest and len(head) == 2 else pid


class Retriever:
    """Search the live index; reload it when a new generation is published."""

    def __init__(self, store: Store, glossary: Glossary | None = None) -> None:
        self.store = store
        self.glossary = glossary or Glossary()
        self._snapshot: _Snapshot | None = None
        self._checked = 0.0
        self._lock = threading.Lock()

    def snapshot(self) -> _Snapshot:
        """Return the live generation, checking the manifest at most every half second."""
        now = time.monotonic()
        snap = self._snapshot
        if snap is not None and now - self._checked < MANIFEST_CHECK_SECONDS:
            return snap
        with self._lock:
            manifest = self.store.manifest()
            self._checked = now
            if manifest is None or not manifest.ids:
                raise IndexMissing("the help-center index is empty: run `python -m bot index` first")
            if self._snapshot is None or self._snapshot.manifest.generation != manifest.generation:
                self._snapshot = _Snapshot(manifest, self.store.load(manifest.ids))
            return self._snapshot

    def vocabulary(self) -> frozenset[str]:
        """Return the words of the help center's page titles and headings."""
        return self.snapshot().vocabulary

    def rarity(self, word: str) -> float:
        """Return how rare a word is in the help center (inverse document frequency; unseen words are rarest)."""
        snap = self.snapshot()
        stem = word.lower()
        if HANGUL.search(stem) and len(stem) > 2:
            stem = stem[:2]  # Korean words carry particles: their first two syllables are indexed on their own
        df = snap.df.get(stem) or snap.df.get(stem.rstrip("s")) or 0
        return math.log((snap.docs + 1) / (df + 0.5))

    def search(self, query: str, k: int = 5, lang: str | None = None, per_section: int = 1) -> list[Hit]:
        """Return up to k hits for the query, best first, at most per_section from one section.

        With lang, hits come from that language's pages where they exist (the English page otherwise).
        """
        query = (query or "").strip()
        if not query:
            raise InputError("the question is empty")
        if len(query) > MAX_QUERY_CHARS:
            raise InputError(f"the question is too long ({len(query)} characters; the limit is {MAX_QUERY_CHARS})")
        snap = self.snapshot()
        n = min(CANDIDATES * (2 if lang else 1), len(snap.ids))
        dense_sim: dict[str, float] = {}
        ranked: list[list[str]] = []
        english = self.glossary.english(query)
        # A Korean question is also searched by its English words: e5 otherwise favours the
        # few passages that happen to contain Korean labels.
        queries = [query, english] if english and HANGUL.search(query) else [query]
        vectors = self.store.embedding.embed_query(queries)
        # Pages in the question's language and pages in other languages are searched apart: e5 ranks any
        # passage in the same language above the right passage in another, which a page without a twin needs.
        langs = [{"lang": lang}, {"lang": {"$ne": lang}}] if lang and len(snap.languages) > 1 else [None]
        for n_vec, vector in enumerate(vectors):
            for where in langs if n_vec == 0 else langs[-1:]:
                dense = self.store.chunks.query(
                    query_embeddings=[np.asarray(vector, dtype=np.float32)], n_results=n, ids=snap.ids,
                    include=["distances"], **({"where": where} if where else {}),
                )
                ids = dense["ids"][0]
                for cid, dist in zip(ids, (dense["distances"] or [[]])[0]):
                    dense_sim[cid] = max(dense_sim.get(cid, 0.0), 1.0 - float(dist))
                ranked.append(ids)
        lexical: dict[str, float] = {}
        if english and HANGUL.search(query):
            # Hangul bigrams of a Korean question mostly hit the Korean UI labels: use exact words only.
            terms = tokenize(english) + [t for t in TOKEN.findall(query.lower()) if t in snap.vocab_set]
        elif english:
            terms = snap.expand(tokenize(query)) + tokenize(english)  # "dropping" also looks for "going down"
        else:
            terms = snap.expand(tokenize(query))
        if terms:
            docs, scores = snap.bm25.retrieve([terms], k=n, show_progress=False)
            for idx, score in zip(docs[0], scores[0]):
                # bm25s returns arbitrary documents at score 0; words found on every page score near 0.
                if score >= MIN_LEXICAL:
                    lexical[snap.ids[int(idx)]] = float(score)
        ranked.append(sorted(lexical, key=lexical.__getitem__, reverse=True))
        fused: dict[str, float] = {}
        for ids in ranked:
            for rank, cid in enumerate(ids):
                fused[cid] = fused.get(cid, 0.0) + 1.0 / (RRF_K + rank + 1)
        rows = {r["id"]: r for r in snap.rows}
        hits: list[Hit] = []
        seen: dict[str, int] = {}
        for cid in sorted(fused, key=lambda c: (-fused[c], c)):
            row = rows[cid]
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
                            bool(row.get("disputed"))))
            if len(hits) == k:
                break
        return hits
