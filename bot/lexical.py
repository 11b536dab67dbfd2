"""Lexical terms of questions and chunks (BM25), and the glossary mapping other languages' words to English."""
from __future__ import annotations

import hashlib
import re
import sys
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from bot.errors import SourceError
from bot.mdx import strip_markdown

TOKEN = re.compile(r"\d+(?:\.\d+)+|\w+", re.U)
HANGUL = re.compile(r"[\uac00-\ud7a3]")
STOPWORDS = frozenset(
    "a an and are as at be but by can do does for from get got has have how i if in is it its me my "
    "of on or so than that the their then there these they this to was what when where which who "
    "why will with you your i'm im".split()
)


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


# What follows a Korean noun or stem in a question ("다운로드는", "이미지를", "저장돼요"), longest first.
KO_TAIL = re.compile(r"(?:에서는|으로는|에게서|이에요|예요|인가요|나요|까요|에서|으로|에게|한테|까지|부터|이랑|은|는|이|가|을|를|에|로|와|과|도|만|의|요)$")


def korean_words(text: str) -> list[str]:
    """Return a question's words as written and without their particles (a bare noun is what pages index)."""
    out: list[str] = []
    for w in TOKEN.findall(text.lower()):
        out.append(w)
        if HANGUL.search(w):
            bare = KO_TAIL.sub("", w)
            if len(bare) >= 2 and bare != w:
                out.append(bare)
    return list(dict.fromkeys(out))


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


@cache
def terms_version() -> str:
    """Return a key of this module's code: terms stored by another version are computed again."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]


def chunk_terms(page_title: str, section: str, text: str) -> list[str]:
    """Return the lexical terms of a chunk: page title, section path and text."""
    return tokenize(f"{page_title} {section} {text}")


def stored_terms(page_title: str, section: str, text: str) -> dict[str, str]:
    """Return the metadata fields that carry a chunk's terms, computed once at index time."""
    return {"terms": " ".join(chunk_terms(page_title, section, text)), "terms_v": terms_version()}


def row_terms(row: dict[str, Any]) -> list[str]:
    """Return a stored chunk's terms: those stored at index time when this code wrote them, else computed."""
    stored = row.pop("terms", None)  # not kept in memory twice
    if stored is not None and row.pop("terms_v", None) == terms_version():
        words = stored.split(" ") if stored else []
    else:
        words = chunk_terms(row.get("page_title", ""), row.get("section", ""), row.get("text", ""))
    # Interned: a thousand pages repeat the same words a million times; kept once each, memory stays flat.
    return [sys.intern(w) for w in words]
