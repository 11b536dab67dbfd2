"""Pages that exist in two languages: which page and section of one is which of the other (pure)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.mdx import Page

BASE_LANG = "en"


@dataclass(frozen=True)
class Twin:
    """An English page and its page in another language, with their sections paired when they line up."""

    base: Page
    other: Page
    sections: dict[str, str] = field(default_factory=dict)  # other section id -> base section id
    aligned: bool = True

    @property
    def lang(self) -> str:
        """Return the language of the other page."""
        return self.other.lang


def shape(page: Page) -> list[tuple[str, tuple[str, ...], tuple[int, ...]]]:
    """Return a page's structure: each section's kind, block kinds and table sizes (wording left out)."""
    return [(s.kind, tuple(b.kind for b in s.blocks), tuple(len(t.rows) for t in s.tables)) for s in page.sections]


def find_twins(pages: Sequence[Page]) -> list[Twin]:
    """Pair every non-English page with the English page of the same path; sections pair up when shapes match."""
    base = {p.key: p for p in pages if p.lang == BASE_LANG}
    out = []
    for page in pages:
        if page.lang == BASE_LANG or page.key not in base:
            continue
        en = base[page.key]
        aligned = shape(en) == shape(page)
        pairs = {o.id: b.id for o, b in zip(page.sections, en.sections)} if aligned else {}
        out.append(Twin(en, page, pairs, aligned))
    return out


def section_map(pages: Sequence[Page]) -> dict[str, str]:
    """Return other-language section id -> English section id for every aligned twin."""
    out: dict[str, str] = {}
    for twin in find_twins(pages):
        out.update(twin.sections)
    return out
