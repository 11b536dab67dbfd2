"""The manifest of one index generation: its pages, the immutable segments holding their chunks."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

FORMAT = 2


@dataclass(frozen=True)
class PageEntry:
    """One indexed page: the hash of its file, its chunk ids in reading order, when it was fetched, its marks."""

    sha: str
    ids: tuple[str, ...]
    fetched_at: str = ""
    marks: str = ""  # what other pages decided about its chunks (stale twin, disputed sections)


@dataclass(frozen=True)
class Segment:
    """One Chroma collection of chunks; written once, never changed after it is published."""

    name: str
    ids: tuple[str, ...]


@dataclass(frozen=True)
class Retired:
    """A segment no generation uses any more, kept for readers still on an older one."""

    name: str
    at: float


@dataclass(frozen=True)
class Manifest:
    """Which pages and segments make up the live index."""

    generation: int = 0
    built_at: str = ""
    embedder: str = ""
    recipe: str = ""
    pages: dict[str, PageEntry] = field(default_factory=dict)
    segments: tuple[Segment, ...] = ()
    retired: tuple[Retired, ...] = ()

    @property
    def ids(self) -> tuple[str, ...]:
        """Return the live chunk ids, page by page in reading order."""
        return tuple(cid for pid in sorted(self.pages) for cid in self.pages[pid].ids)

    def head(self) -> dict[str, Any]:
        """Return the small record readers poll: enough to tell that a new generation exists."""
        return {"format": FORMAT, "generation": self.generation, "built_at": self.built_at,
                "chunks": sum(len(p.ids) for p in self.pages.values()), "pages": len(self.pages)}

    def to_json(self) -> str:
        """Return the whole manifest as JSON."""
        return json.dumps({
            "format": FORMAT, "generation": self.generation, "built_at": self.built_at,
            "embedder": self.embedder, "recipe": self.recipe,
            "pages": {pid: [p.sha, list(p.ids), p.fetched_at, p.marks] for pid, p in sorted(self.pages.items())},
            "segments": [[s.name, list(s.ids)] for s in self.segments],
            "retired": [[r.name, r.at] for r in self.retired],
        }, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str) -> Manifest | None:
        """Parse a stored manifest; None for a format this version does not read."""
        data = json.loads(raw)
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            return None
        return cls(
            generation=int(data["generation"]), built_at=data["built_at"], embedder=data["embedder"],
            recipe=data["recipe"],
            pages={pid: PageEntry(entry[0], tuple(entry[1]), *entry[2:]) for pid, entry in data["pages"].items()},
            segments=tuple(Segment(name, tuple(ids)) for name, ids in data["segments"]),
            retired=tuple(Retired(name, float(at)) for name, at in data["retired"]),
        )
