"""Turn help-center pages into token-sized chunks with section paths, ids and citation URLs."""
from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from bot import mdx, mdx_tree, tokens
from bot.errors import SourceError
from bot.manifest import PageEntry
from bot.mdx import LANG_DIR, PAGE_SUFFIXES, Block, Page, Section, load_pages, parse_page, strip_markdown
from bot.tokens import count_tokens, encoding


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


def chunk_pages(pages: list[Page], max_tokens: int) -> list[Chunk]:
    """Return the chunks of every page, in reading order; a twin page out of step with its English page is marked stale."""
    from bot.twins import stale_pages

    stale = stale_pages(pages)
    return [c for page in pages for s in page.sections for c in chunk_section(page, s, max_tokens, stale=page.id in stale)]


def load_chunks(pages_dir: Path, base_url: str, max_tokens: int) -> list[Chunk]:
    """Parse the pages folder and chunk it."""
    return chunk_pages(load_pages(pages_dir, base_url), max_tokens)


def page_files(pages_dir: Path) -> dict[str, Path]:
    """Return the page files under pages_dir by page id; refuse a missing or empty folder."""
    if not pages_dir.is_dir():
        raise SourceError("help-center folder does not exist", file=str(pages_dir))
    files: dict[str, Path] = {}
    for path in sorted(p for p in pages_dir.rglob("*") if p.suffix in PAGE_SUFFIXES and p.is_file()):
        page_id = path.relative_to(pages_dir).with_suffix("").as_posix()
        if page_id in files:
            raise SourceError(f"two files for one page ({files[page_id].name} and {path.name})", file=str(path))
        files[page_id] = path
    if not files:
        raise SourceError("no help-center pages (.mdx or .md) found", file=str(pages_dir))
    return files


def recipe(base_url: str, max_tokens: int) -> str:
    """Return a key of everything that shapes stored chunks: parser, chunker and tokenizer code, base URL, size."""
    from bot import lexical, twins
    from bot.eligibility import reading

    digest = hashlib.sha256()
    for module in (mdx, mdx_tree, tokens, twins, reading, lexical):
        digest.update(Path(module.__file__ or "").read_bytes())
    digest.update(Path(__file__).read_bytes())
    return f"{digest.hexdigest()[:16]}|{base_url.rstrip('/')}|{max_tokens}"


def file_sha(path: Path) -> str:
    """Return the SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _page_key(page_id: str) -> str:
    """Return a page id without its language folder, as Page.key does, without parsing the page."""
    head, _, rest = page_id.partition("/")
    return rest if rest and LANG_DIR.match(head) else page_id


def chunk_changed(pages_dir: Path, base_url: str, max_tokens: int, known: Mapping[str, PageEntry],
                  fetched: Mapping[str, tuple[str, str]]) -> tuple[dict[str, PageEntry], list[Chunk]]:
    """Return every page's entry and the chunks of the pages read again; unchanged files are not parsed.

    A page is read again when its file changed, or when a twin of it in another language changed,
    appeared or went (whether a translation is stale depends on its English page). fetched maps a
    page id to (sha, time) of the copy a sync wrote; the time counts only for that copy.
    """
    from bot.twins import stale_pages

    files = page_files(pages_dir)
    shas = {pid: file_sha(path) for pid, path in files.items()}
    touched = {pid for pid in files if pid not in known or known[pid].sha != shas[pid]} | (set(known) - set(files))
    keys = {_page_key(pid) for pid in touched}
    parsed = [parse_page(files[pid], root=pages_dir, base_url=base_url) for pid in files if _page_key(pid) in keys]
    stale = stale_pages(parsed)
    chunks: list[Chunk] = []
    ids: dict[str, tuple[str, ...]] = {}
    for page in parsed:
        new = [c for s in page.sections for c in chunk_section(page, s, max_tokens, stale=page.id in stale)]
        chunks += new
        ids[page.id] = tuple(c.id for c in new)
    pages: dict[str, PageEntry] = {}
    for page_id in files:
        synced_sha, fetched_at = fetched.get(page_id, ("", ""))
        pages[page_id] = PageEntry(shas[page_id], ids[page_id] if page_id in ids else known[page_id].ids,
                                   fetched_at if synced_sha == shas[page_id] else "")
    return pages, chunks


def chunk_section(page: Page, section: Section, max_tokens: int, *, stale: bool = False) -> list[Chunk]:
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
        marker = "\nstale" if stale else ""  # staleness is part of what is stored, so it gets its own id
        digest = hashlib.sha256(f"{section.id}\n{page.title}\n{breadcrumb}\n{text}{marker}".encode()).hexdigest()[:24]
        out.append(Chunk(digest, page.id, page.title, section.id, breadcrumb, section.url, kind, line, text,
                         page.lang, page.key, stale))
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
