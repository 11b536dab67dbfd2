"""Read YAML into plain Python data while remembering the line of every key and item."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.errors import SourceError

# libyaml composes several times faster than the pure-Python loader; both keep marks.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_STR = "tag:yaml.org,2002:str"

Loc = tuple[str | int, ...]


@dataclass
class LineIndex:
    """Map a location (keys and list positions from the root) to its 1-based line."""

    file: str
    lines: dict[Loc, int] = field(default_factory=dict)

    def line(self, loc: Loc) -> int | None:
        """Return the line of loc, or of its nearest recorded parent."""
        loc = tuple(loc)
        while loc:
            if loc in self.lines:
                return self.lines[loc]
            loc = loc[:-1]
        return self.lines.get((), None)

    def error(self, loc: Loc, message: str) -> SourceError:
        """Return a SourceError naming the file and the line of loc."""
        return SourceError(message, file=self.file, line=self.line(loc))


def load_yaml(path: Path) -> tuple[Any, LineIndex]:
    """Return the document at path as plain data plus its line index."""
    index = LineIndex(str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise SourceError("rules file does not exist", file=str(path)) from err
    except UnicodeDecodeError as err:
        raise SourceError(f"not UTF-8 text ({err.reason})", file=str(path)) from err
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark else None
        raise SourceError(f"invalid YAML: {err.problem or err}", file=str(path), line=line) from err
    if root is None:
        raise SourceError("rules file is empty", file=str(path))
    index.lines[()] = root.start_mark.line + 1
    return _convert(root, (), index), index


def _convert(node: yaml.Node, loc: Loc, index: LineIndex) -> Any:
    """Turn a composed node into plain data, recording lines and refusing duplicate keys."""
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise SourceError("mapping keys must be plain text", file=index.file, line=key_node.start_mark.line + 1)
            key = str(key_node.value)
            if key == "<<":
                raise SourceError("YAML merge keys ('<<') are not supported", file=index.file, line=key_node.start_mark.line + 1)
            if key in out:
                raise SourceError(f"duplicate key {key!r}", file=index.file, line=key_node.start_mark.line + 1)
            index.lines[loc + (key,)] = key_node.start_mark.line + 1
            out[key] = _convert(value_node, loc + (key,), index)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, item in enumerate(node.value):
            index.lines[loc + (i,)] = item.start_mark.line + 1
            items.append(_convert(item, loc + (i,), index))
        return items
    # Dates stay text so the schema, not the YAML library, judges them with a line number.
    if node.tag in (_TIMESTAMP, _STR):
        return node.value
    try:
        return yaml.constructor.SafeConstructor().construct_object(node)
    except yaml.YAMLError as err:
        raise SourceError(f"bad value {node.value!r}", file=index.file, line=node.start_mark.line + 1) from err
