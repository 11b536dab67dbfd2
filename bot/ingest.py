"""Turn help-center pages into token-sized chunks with section paths, ids and citation URLs."""
from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, MutableMapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any
from pathlib import Path

from bot.mdx import Block, Page, Section, load_pages, strip_markdown
from bot.tokens import count_tokens, encoding


CHUNK_FORMAT = "v2"  # bump when the metadata stored with chunks changes


@dataclass(frozen=True)
class Chunk:
    """A retrievable piece of one section; its id is a hash of what gets embedded."""

    id: str
    page_id: str
    page_title: str
    section_id: str
    section: str
    url: str
    kind: str
    line: int
    text: str
    lang: str = "en"
    page_key: str = ""
    stale: bool = False
    disputed: bool = False

    @property
    def embed_text(self) -> str:
        """Return the text that is embedded and indexed: context path plus plain content."""
        context = " › ".join(p for p in (self.page_title, self.section) if p)
        return f"{context}\n{strip_markdown(self.text)}"

    def metadata(self) -> dict[str, str | int]:
        """Return the fields stored beside the vector."""
        data = asdict(self)
        data.pop("id")
        data.pop("text")
        return data


def chunk_pages(pages: list[Page], max_tokens: int, disputed: set[tuple[str, int]] = frozenset()) -> list[Chunk]:  # type: ignore[assignment]
    """Return the chunks of every page, in reading order.

    A twin page out of step with its English page is marked stale; a section holding a statement other pages
    contradict ((page id, line) in `disputed`) is marked disputed, so answers prefer another and say so.
    """
    from bot.twins import stale_pages

    stale = stale_pages(pages)
    return [c for page in pages for c in chunk_page(page, max_tokens, page.id in stale, disputed_sections(page, disputed))]


def disputed_sections(page: Page, disputed: Collection[tuple[str, int]]) -> tuple[bool, ...]:
    """Return, per section of the page, whether it holds a disputed line."""
    starts = [s.line for s in page.sections] + [10**9]
    lines = [line for pid, line in disputed if pid == page.id]
    return tuple(any(starts[n] <= line < starts[n + 1] for line in lines) for n in range(len(page.sections)))


def chunk_page(page: Page, max_tokens: int, stale: bool, disputed: Sequence[bool]) -> list[Chunk]:
    """Return the chunks of one page, its sections marked disputed as given."""
    return [c for s, hot in zip(page.sections, disputed) for c in chunk_section(page, s, max_tokens, stale=stale, disputed=hot)]


def load_chunks(pages_dir: Path, base_url: str, max_tokens: int, rules: Path | None = None) -> list[Chunk]:
    """Parse the pages folder and chunk it (with the rules file, sections other pages contradict are marked)."""
    pages = load_pages(pages_dir, base_url)
    return chunk_pages(pages, max_tokens, disputed_lines(pages, rules) if rules is not None and rules.is_file() else set())


def disputed_lines(pages: list[Page], rules: Path, known: MutableMapping[str, Any] | None = None) -> set[tuple[str, int]]:
    """Return (page id, line) of statements that contradict the page the rules cite (or most pages).

    known: the facts of pages unchanged since an earlier run, by page id (read pages are added to it).
    """
    from bot.docs_check import check_docs
    from bot.eligibility import Engine

    engine = Engine.from_file(rules)
    preferred = engine.book.spec.source.page
    return {(s.page, s.line) for c in check_docs(engine, pages, known).contradictions for s in c.minority(preferred)}


def chunk_section(page: Page, section: Section, max_tokens: int, *, stale: bool = False, disputed: bool = False) -> list[Chunk]:
    """Cut one section into chunks: a table row each, cards each, prose packed up to max_tokens."""
    pieces: list[tuple[str, str, int]] = []  # (kind, text, line)
    buffer: list[Block] = []

    def flush() -> None:
        if buffer:
            pieces.extend(_pack(buffer, max_tokens))
            buffer.clear()

    for block in section.blocks:
        if block.table is not None:
            flush()
            t = block.table
            for cells, line in zip(t.rows_md or t.rows, t.row_lines):
                # Each row keeps its header beside it so "Seedream 4.0" finds its condition.
                text = "\n".join(f"{h}: {c}" for h, c in zip(t.header, cells) if c)
                pieces.append(("table_row", text, line))
        elif block.kind == "card":
            flush()
            pieces.append(("card", f"Related article: {block.text}", block.line))
        else:
            buffer.append(block)
    flush()
    if section.kind == "faq" and pieces:
        pieces = [(k if k != "text" else "faq", f"**Q: {section.title}**\n{t}", ln) for k, t, ln in pieces]
    breadcrumb = section.breadcrumb
    out = []
    for kind, text, line in pieces:
        # What is stored beside the vector (language, staleness) is part of the id, so a change re-stores the chunk.
        marker = f"\n{CHUNK_FORMAT}\n{page.lang}" + ("\nstale" if stale else "") + ("\ndisputed" if disputed else "")
        digest = hashlib.sha256(f"{section.id}\n{page.title}\n{breadcrumb}\n{text}{marker}".encode()).hexdigest()[:24]
        out.append(Chunk(digest, page.id, page.title, section.id, breadcrumb, section.url, kind, line, text,
                         page.lang, page.key, stale, disputed))
    return _dedupe(out)


def _pack(blocks: list[Block], max_tokens: int) -> list[tuple[str, str, int]]:
    """Pack consecutive prose blocks into chunks of at most max_tokens; split oversized blocks."""
    out: list[tuple[str, str, int]] = []
    parts: list[str] = []
    size, first_line = 0, blocks[0].line
    for block in blocks:
        for piece in _split(block.text, max_tokens):
            n = count_tokens(piece)
            if parts and size + n > max_tokens:
                out.append(("text", "\n\n".join(parts), first_line))
                parts, size, first_line = [], 0, block.line
            parts.append(piece)
            size += n
    if parts:
        out.append(("text", "\n\n".join(parts), first_line))
    return out


def _split(text: str, max_tokens: int) -> list[str]:
    """Split text over max_tokens at line, then sentence, then token boundaries."""
    if count_tokens(text) <= max_tokens:
        return [text]
    units = text.split("\n") if "\n" in text else re.split(r"(?<=[.!?。])\s+", text)
    if len(units) == 1:
        ids = encoding().encode(text, disallowed_special=())
        return [encoding().decode(ids[i : i + max_tokens]) for i in range(0, len(ids), max_tokens)]
    out: list[str] = []
    cur: list[str] = []
    for unit in units:
        candidate = "\n".join(cur + [unit]) if "\n" in text else " ".join(cur + [unit])
        if cur and count_tokens(candidate) > max_tokens:
            out.extend(_split(("\n" if "\n" in text else " ").join(cur), max_tokens))
            cur = [unit]
        else:
            cur.append(unit)
    if cur:
        out.extend(_split(("\n" if "\n" in text else " ").join(cur), max_tokens))
    return out


def _dedupe(chunks: list[Chunk]) -> list[Chunk]:
    """Drop exact repeats inside one section (same id)."""
    seen: set[str] = set()
    return [c for c in chunks if not (c.id in seen or seen.add(c.id))]
