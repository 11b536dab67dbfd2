"""Parse Mintlify MDX help pages into titled sections of blocks (pure Python)."""
from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

from markdown_it import MarkdownIt
from markdown_it.token import Token

from bot.errors import SourceError
from bot.mdx_tree import Node, Text, build_tree, parse_header

PAGE_SUFFIXES = (".mdx", ".md")
LANG_DIR = re.compile(r"^[a-z]{2}$")  # help-center pages live under en/, ko/, ... (same path in every language)
CALLOUTS = {"Info", "Tip", "Warning", "Note", "Check", "Danger", "Callout"}
JSX_COMMENT = re.compile(r"\{/\*.*?\*/\}", re.S)
SLUG_DROP = re.compile(r"[^\w\- ]", re.U)


@dataclass(frozen=True)
class Table:
    """A markdown table: header cells and rows of plain-text cells."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    row_lines: tuple[int, ...]
    rows_md: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class Block:
    """One unit of content: a paragraph, list, callout, table, card or code block."""

    kind: str
    text: str
    line: int
    label: str = ""
    table: Table | None = None


@dataclass(frozen=True)
class Section:
    """A heading (or accordion) with its own content blocks."""

    id: str
    anchor: str
    path: tuple[str, ...]
    title: str
    url: str
    line: int
    kind: str = "heading"
    blocks: tuple[Block, ...] = ()

    @property
    def tables(self) -> tuple[Table, ...]:
        """Return the tables in this section."""
        return tuple(b.table for b in self.blocks if b.table is not None)

    @property
    def breadcrumb(self) -> str:
        """Return the heading path joined for people to read."""
        return " › ".join(self.path)


@dataclass(frozen=True)
class Page:
    """One help-center page."""

    id: str
    title: str
    description: str
    url: str
    file: Path
    sections: tuple[Section, ...]
    meta: tuple[tuple[str, str], ...] = ()

    @property
    def lang(self) -> str:
        """Return the page's language: its first folder (en, ko, ...), English when it has none."""
        head = self.id.split("/", 1)[0]
        return head if LANG_DIR.match(head) and "/" in self.id else "en"

    @property
    def key(self) -> str:
        """Return the page's path without its language folder: twins in two languages share it."""
        return self.id.split("/", 1)[1] if self.lang != "en" or self.id.startswith("en/") else self.id

    @property
    def unofficial(self) -> bool:
        """Return True for a translation written ahead of the official page (front matter `translation: unofficial`)."""
        return dict(self.meta).get("translation") == "unofficial"

    def section(self, anchor: str) -> Section | None:
        """Return the section with this anchor, if any."""
        return next((s for s in self.sections if s.anchor == anchor), None)


def slugify(text: str) -> str:
    """Return a GitHub-style heading anchor."""
    return SLUG_DROP.sub("", text.strip().lower()).replace(" ", "-")


def strip_markdown(text: str) -> str:
    """Return text with markdown emphasis, code marks and link targets removed."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"(\*\*|__|`)", "", text)
    return re.sub(r"(?<!\w)\*(?!\s)|(?<!\s)\*(?!\w)", "", text)


def load_pages(pages_dir: Path, base_url: str) -> list[Page]:
    """Parse every page under pages_dir; refuse an empty folder."""
    if not pages_dir.is_dir():
        raise SourceError("help-center folder does not exist", file=str(pages_dir))
    files = sorted(p for p in pages_dir.rglob("*") if p.suffix in PAGE_SUFFIXES and p.is_file())
    if not files:
        raise SourceError("no help-center pages (.mdx or .md) found", file=str(pages_dir))
    return [parse_page(f, root=pages_dir, base_url=base_url) for f in files]


# MDX's ES module lines ("import { Banner } from '/snippets/banner.mdx'", "export const x = 1") are code, not text.
ESM_LINE = re.compile(r"""^(?:import\s+(?:[\w*{}\s,]+\s+from\s+)?['"][^'"]+['"];?|export\s+(?:const|let|var|function|default)\b.*)\s*$""")
FENCE = re.compile(r"^\s*(```|~~~)")


def _without_esm(lines: list[str]) -> list[str]:
    """Blank out MDX import/export lines outside code blocks (line numbers stay as they were)."""
    out, fenced = [], False
    for line in lines:
        if FENCE.match(line):
            fenced = not fenced
        out.append("" if not fenced and ESM_LINE.match(line) else line)
    return out


def parse_page(path: Path, *, root: Path, base_url: str) -> Page:
    """Parse one MDX page; raise SourceError naming file and line on malformed input."""
    try:
        raw = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise SourceError(f"not UTF-8 text ({err.reason})", file=str(path)) from err
    page_id = path.relative_to(root).with_suffix("").as_posix()
    page_url = f"{base_url.rstrip('/')}/{page_id}"
    lines = _without_esm(JSX_COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), raw).split("\n"))
    title, description, body_start, meta = parse_header(lines, str(path))
    title, description = strip_markdown(title), strip_markdown(description)
    tree = build_tree(lines, body_start, str(path))
    builder = _SectionBuilder(page_id, page_url, base_url, title, str(path))
    builder.walk(tree.children)
    return Page(page_id, title, description, page_url, path, builder.finish(), tuple(sorted(meta.items())))


class _SectionBuilder:
    """Walk the component tree in order, cutting it into sections by headings and accordions."""

    def __init__(self, page_id: str, page_url: str, base_url: str, title: str, file: str) -> None:
        self.page_id, self.page_url, self.base_url, self.file = page_id, page_url, base_url.rstrip("/"), file
        self.md = MarkdownIt("commonmark", {"html": True}).enable("table")
        self.heads: list[tuple[int, str]] = []
        self.sections: list[dict] = []
        self.anchors: dict[str, int] = {}
        self._open("", (), 1, "page")
        self.sections[0]["title"] = title

    def _open(self, title: str, path: tuple[str, ...], line: int, kind: str) -> None:
        anchor = ""
        if title:
            base = slugify(title)
            n = self.anchors.get(base, 0)
            self.anchors[base] = n + 1
            anchor = base if n == 0 else f"{base}-{n}"
        self.sections.append({"title": title, "path": path, "line": line, "kind": kind, "anchor": anchor, "blocks": []})

    def finish(self) -> tuple[Section, ...]:
        out, seen = [], set()
        for s in self.sections:
            if id(s) in seen or (s["kind"] == "page" and not s["blocks"]):
                continue
            seen.add(id(s))
            sid = f"{self.page_id}#{s['anchor']}" if s["anchor"] else self.page_id
            url = f"{self.page_url}#{s['anchor']}" if s["anchor"] else self.page_url
            out.append(Section(sid, s["anchor"], s["path"], s["title"], url, s["line"], s["kind"], tuple(s["blocks"])))
        return tuple(out)

    def _current_path(self) -> tuple[str, ...]:
        return tuple(t for _, t in self.heads)

    def _emit(self, block: Block) -> None:
        if block.text.strip() or block.table:
            self.sections[-1]["blocks"].append(block)

    def walk(self, children: list[Node | Text]) -> None:
        for child in children:
            if isinstance(child, Text):
                self._markdown(child)
            else:
                self._component(child)

    def _component(self, node: Node) -> None:
        if node.name == "Accordion" or node.name == "Expandable":
            title = strip_markdown(node.attrs.get("title", "")).strip() or "Details"
            resume = self.sections[-1]
            self._open(title, self._current_path() + (title,), node.line, "faq")
            self.walk(node.children)
            # Content after the accordion belongs to the heading that held it.
            self.sections.append(resume)
            return
        if node.name in CALLOUTS:
            text = self._render_children(node)
            self._emit(Block("callout", text, node.line, label=node.name))
            return
        if node.name == "Card":
            title = node.attrs.get("title", "").strip()
            href = self._absolute(node.attrs.get("href", "")) if node.attrs.get("href") else ""
            body = self._render_children(node)
            head = f"[{title}]({href})" if href else f"**{title}**"
            self._emit(Block("card", f"{head}: {body}" if body else head, node.line, label=title))
            return
        if node.name == "Step" and node.attrs.get("title"):
            self._emit(Block("text", f"**{node.attrs['title']}**", node.line))
        elif node.name == "Tab" and node.attrs.get("title"):
            self._emit(Block("text", f"**{node.attrs['title']}**", node.line))
        self.walk(node.children)

    def _render_children(self, node: Node) -> str:
        """Render a component's content as markdown text (no sections inside)."""
        parts = []
        for child in node.children:
            if isinstance(child, Text):
                parts.extend(b.text for b in self._blocks(child))
            else:
                inner = self._render_children(child)
                if inner:
                    parts.append(inner)
        return "\n".join(p for p in parts if p.strip())

    def _markdown(self, text: Text) -> None:
        self._blocks(text, emit=self._emit)

    def _blocks(self, text: Text, emit: Callable[[Block], None] | None = None) -> list[Block]:
        """Parse a text run; with emit, headings open sections and blocks go out in order."""
        src = textwrap.dedent("\n".join(text.lines))
        tokens = self.md.parse(src)
        out: list[Block] = []
        headings = emit is not None
        if emit is None:
            emit = out.append
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            line = text.line + (tok.map[0] if tok.map else 0)
            if tok.type == "heading_open":
                title = strip_markdown(self._inline(tokens[i + 1])).strip()
                if headings:
                    level = int(tok.tag[1])
                    if level == 1:
                        level = 2  # a stray H1 in the body is treated as a top section
                    while self.heads and self.heads[-1][0] >= level:
                        self.heads.pop()
                    self.heads.append((level, title))
                    self._open(title, self._current_path(), line, "heading")
                else:
                    emit(Block("text", f"**{title}**", line))
                i += 3
                continue
            if tok.type == "paragraph_open":
                emit(Block("text", self._inline(tokens[i + 1]), line))
                i += 3
                continue
            if tok.type in ("bullet_list_open", "ordered_list_open", "blockquote_open"):
                end = self._close_index(tokens, i)
                emit(Block("list" if "list" in tok.type else "quote", self._render_nested(tokens[i : end + 1]), line))
                i = end + 1
                continue
            if tok.type == "table_open":
                end = self._close_index(tokens, i)
                table = self._table(tokens[i : end + 1], text.line)
                emit(Block("table", "", line, table=table))
                i = end + 1
                continue
            if tok.type in ("fence", "code_block"):
                emit(Block("code", f"```\n{tok.content.rstrip()}\n```", line))
            i += 1
        return out

    @staticmethod
    def _close_index(tokens: list[Token], start: int) -> int:
        depth = 0
        for j in range(start, len(tokens)):
            depth += tokens[j].nesting
            if depth == 0:
                return j
        return len(tokens) - 1

    def _render_nested(self, tokens: list[Token]) -> str:
        """Render a list or quote as markdown lines."""
        lines: list[str] = []
        stack: list[list[int]] = []  # per list level: [ordered?, counter]
        for j, tok in enumerate(tokens):
            if tok.type in ("bullet_list_open", "ordered_list_open"):
                stack.append([tok.type == "ordered_list_open", int(tok.attrs.get("start", 1) or 1) - 1])
            elif tok.type in ("bullet_list_close", "ordered_list_close"):
                stack.pop()
            elif tok.type == "list_item_open":
                stack[-1][1] += 1
            elif tok.type == "inline":
                indent = "  " * max(len(stack) - 1, 0)
                prev = tokens[j - 2] if j >= 2 else None
                starts_item = prev is not None and prev.type == "list_item_open"
                if stack and starts_item:
                    marker = f"{stack[-1][1]}." if stack[-1][0] else "-"
                    lines.append(f"{indent}{marker} {self._inline(tok)}")
                else:
                    lines.append(f"{indent}  {self._inline(tok)}" if stack else self._inline(tok))
        return "\n".join(lines)

    def _table(self, tokens: list[Token], first_line: int) -> Table:
        rows: list[tuple[str, ...]] = []
        lines: list[int] = []
        cur: list[str] = []
        for tok in tokens:
            if tok.type == "tr_open":
                cur = []
                lines.append(first_line + (tok.map[0] if tok.map else 0))
            elif tok.type == "inline":
                cur.append(self._inline(tok))
            elif tok.type == "tr_close":
                rows.append(tuple(cur))
        header_md, body_md = rows[0], tuple(rows[1:])
        plain = lambda r: tuple(strip_markdown(c).strip() for c in r)  # noqa: E731
        return Table(plain(header_md), tuple(plain(r) for r in body_md), tuple(lines[1:]), body_md)

    def _inline(self, tok: Token) -> str:
        """Render inline tokens as markdown with absolute links and no HTML."""
        out: list[str] = []
        hrefs: list[str] = []
        for child in tok.children or []:
            t = child.type
            if t == "text":
                out.append(child.content)
            elif t in ("strong_open", "strong_close"):
                out.append("**")
            elif t in ("em_open", "em_close"):
                out.append("*")
            elif t == "code_inline":
                out.append(f"`{child.content}`")
            elif t in ("softbreak", "hardbreak"):
                out.append(" " if t == "softbreak" else "\n")
            elif t == "link_open":
                hrefs.append(self._absolute(str(child.attrs.get("href", ""))))
                out.append("[")
            elif t == "link_close":
                out.append(f"]({hrefs.pop()})" if hrefs else "]")
            elif t == "image":
                out.append(child.content or "")
            elif t == "html_inline" and re.match(r"<br\s*/?>", child.content, re.I):
                out.append(" ")
        return re.sub(r"[ \t]+", " ", "".join(out)).strip()

    def _absolute(self, href: str) -> str:
        """Resolve a link against the docs site."""
        if not href or re.match(r"^[a-z][a-z0-9+.-]*:", href, re.I):
            return href
        if href.startswith("#"):
            return self.page_url + href
        if href.startswith("/"):
            return self.base_url + href
        return urljoin(self.page_url, href)
