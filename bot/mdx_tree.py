"""The MDX syntax layer: the page header, and components nested around markdown text runs."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import yaml

from bot.errors import SourceError

VOID_HTML = {"img", "br", "hr", "source", "input", "meta", "link", "iframe"}
TAG_START = re.compile(r"<(/?)([A-Za-z][\w.]*)(?=[\s/>]|$)")
ATTR = re.compile(r"""([\w-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|\{([^{}]*)\})""")
FENCE = re.compile(r"^\s*(```|~~~)")


@dataclass
class Node:
    name: str
    attrs: dict[str, str]
    line: int
    children: list[Node | Text] = field(default_factory=list)


@dataclass
class Text:
    lines: list[str]
    line: int


def parse_header(lines: list[str], file: str) -> tuple[str, str, int, dict[str, str]]:
    """Return title, description, the index of the first body line and any other front-matter fields."""
    i = _skip_blank(lines, 0)
    title = description = ""
    extra: dict[str, str] = {}
    if i < len(lines) and lines[i].strip() == "---":
        end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == "---"), None)
        if end is None:
            raise SourceError("front matter opened with '---' is never closed", file=file, line=i + 1)
        try:
            meta = yaml.safe_load("\n".join(lines[i + 1 : end])) or {}
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            line = i + 2 + mark.line if mark else i + 1
            raise SourceError(f"front matter is not valid YAML ({getattr(err, 'problem', err)})", file=file, line=line) from err
        if not isinstance(meta, dict):
            raise SourceError("front matter must be 'key: value' lines", file=file, line=i + 1)
        title = str(meta.get("title") or "").strip()
        description = str(meta.get("description") or "").strip()
        extra = {str(k): str(v) for k, v in meta.items() if k not in ("title", "description") and v is not None}
        if not title:
            raise SourceError("front matter has no title", file=file, line=i + 1)
        i = _skip_blank(lines, end + 1)
    else:
        # Mintlify's markdown export starts with a quoted note pointing at llms.txt; it is not content.
        if i < len(lines) and lines[i].startswith(">"):
            j = i
            while j < len(lines) and lines[j].startswith(">"):
                j += 1
            if "llms.txt" in "\n".join(lines[i:j]) or "Documentation Index" in "\n".join(lines[i:j]):
                i = _skip_blank(lines, j)
    if i < len(lines) and re.match(r"^#\s+\S", lines[i]):
        title = title or lines[i].lstrip("#").strip()
        i = _skip_blank(lines, i + 1)
        if not description and i < len(lines) and lines[i].startswith(">"):
            quoted = []
            while i < len(lines) and lines[i].startswith(">"):
                quoted.append(lines[i].lstrip(">").strip())
                i += 1
            description = " ".join(q for q in quoted if q)
    if not title:
        raise SourceError(
            "page has no title: expected front matter with 'title:' or a '# Title' line", file=file, line=i + 1
        )
    return title, description, i, extra


def _skip_blank(lines: list[str], i: int) -> int:
    while i < len(lines) and not lines[i].strip():
        i += 1
    return i


def _scan_tag(lines: list[str], i: int, col: int, file: str) -> tuple[str, bool, bool, dict[str, str], int, int]:
    """Read one tag starting at lines[i][col]; return name, closing, self-closing, attrs, end line, end col."""
    m = TAG_START.match(lines[i], col)
    assert m is not None
    closing, name = m.group(1) == "/", m.group(2)
    text, quote, depth = "", "", 0
    row, pos = i, m.end()
    while row < len(lines):
        line = lines[row]
        while pos < len(line):
            ch = line[pos]
            if quote:
                quote = "" if ch == quote else quote
            elif ch in "\"'":
                quote = ch
            elif ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            elif ch == ">" and depth == 0:
                self_closing = text.rstrip().endswith("/")
                attrs = {k: a or b or c for k, a, b, c in ATTR.findall(text)}
                return name, closing, self_closing, attrs, row, pos + 1
            text += ch
            pos += 1
        text += "\n"
        row, pos = row + 1, 0
    raise SourceError(f"tag <{'/' if closing else ''}{name}> is never finished with '>'", file=file, line=i + 1)


def build_tree(lines: list[str], start: int, file: str) -> Node:
    """Group body lines into nested components and text runs; check every tag is closed."""
    root = Node("#root", {}, start + 1)
    stack = [root]
    in_fence = False
    i = start
    while i < len(lines):
        line = lines[i]
        if FENCE.match(line):
            in_fence = not in_fence
        col = len(line) - len(line.lstrip())
        rest = line[col:]
        if in_fence or FENCE.match(line) or not TAG_START.match(rest):
            close_at = _trailing_close(rest, stack) if not in_fence else -1
            if close_at > 0:
                _add_text(stack[-1], line[: col + close_at], i)
                lines[i] = " " * (col + close_at) + rest[close_at:]
                continue
            _add_text(stack[-1], line, i)
            i += 1
            continue
        name, closing, self_closing, attrs, end_row, end_col = _scan_tag(lines, i, col, file)
        if closing:
            if stack[-1] is root or stack[-1].name != name:
                expected = f"</{stack[-1].name}> for the tag opened on line {stack[-1].line}" if stack[-1] is not root else "no closing tag"
                raise SourceError(f"unexpected </{name}>: expected {expected}", file=file, line=i + 1)
            stack.pop()
        else:
            node = Node(name, attrs, i + 1)
            stack[-1].children.append(node)
            if not self_closing and name.lower() not in VOID_HTML:
                stack.append(node)
        remainder = lines[end_row][end_col:]
        if remainder.strip():
            lines[end_row] = " " * end_col + remainder
            i = end_row
        else:
            i = end_row + 1
    if in_fence:
        raise SourceError("code block opened with ``` is never closed", file=file, line=len(lines))
    if len(stack) > 1:
        node = stack[-1]
        raise SourceError(f"<{node.name}> is never closed", file=file, line=node.line)
    return root


def _trailing_close(rest: str, stack: list[Node]) -> int:
    """Return where a closing tag of the open component starts inside a text line, or -1."""
    if len(stack) < 2:
        return -1
    idx = rest.find(f"</{stack[-1].name}")
    return idx


def _add_text(node: Node, line: str, i: int) -> None:
    if node.children and isinstance(node.children[-1], Text) and node.children[-1].line + len(node.children[-1].lines) == i + 1:
        node.children[-1].lines.append(line)
    else:
        node.children.append(Text([line], i + 1))
