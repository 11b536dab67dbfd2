"""Pages that exist in two languages: which page and section of one is which of the other (pure)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import re

from bot.mdx import Page, Section

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


def section_facts(section: Section) -> tuple[frozenset[str], frozenset[str]]:
    """Return the dates and quoted phrases a section states (what must read the same in every language)."""
    from bot.eligibility.reading import find_dates

    text = "\n".join([b.text for b in section.blocks] + [" | ".join(r) for t in section.tables for r in t.rows])
    dates = frozenset(f"{d.start}..{d.end}" if d.has_year else f"{d.start:%m-%d}..{d.end:%m-%d}" for d in find_dates(text))
    quoted = frozenset(re.findall(r"[\"“]([^\"”]{3,80})[\"”]", text))
    return dates, quoted


def stale_pages(pages: Sequence[Page]) -> set[str]:
    """Return the ids of other-language pages that no longer say what their English twin says.

    A twin whose sections no longer line up, or whose dates or quoted phrases differ, is out of date: the bot
    answers from the English page instead (and check-rules lists it for the writers).
    """
    out = set()
    for twin in find_twins(pages):
        if not twin.aligned or any(section_facts(a) != section_facts(b) for a, b in zip(twin.base.sections, twin.other.sections)):
            out.add(twin.other.id)
    return out


def section_map(pages: Sequence[Page]) -> dict[str, str]:
    """Return other-language section id -> English section id for every aligned twin."""
    out: dict[str, str] = {}
    for twin in find_twins(pages):
        out.update(twin.sections)
    return out
