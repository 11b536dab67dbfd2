"""What the last site sync saw: validators and hashes per page, kept beside the pages it wrote."""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bot.errors import SourceError

STATE_FILE = ".sync.json"
FORMAT = 1


@dataclass
class PageState:
    """One synced page: where it came from, its HTTP validators, the hash of the copy written and when."""

    url: str
    sha: str
    fetched_at: str
    etag: str = ""
    last_modified: str = ""


@dataclass
class SyncState:
    """The site's index (with its validators) and every page a sync manages."""

    site: str = ""
    index_url: str = ""
    index_etag: str = ""
    index_last_modified: str = ""
    index_text: str = ""
    pages: dict[str, PageState] = field(default_factory=dict)

    @classmethod
    def load(cls, pages_dir: Path) -> SyncState:
        """Read the state file; a missing file is an empty state."""
        path = pages_dir / STATE_FILE
        if not path.is_file():
            return cls()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != FORMAT:
                return cls()
            pages = {pid: PageState(**p) for pid, p in data.get("pages", {}).items()}
            return cls(data.get("site", ""), data.get("index_url", ""), data.get("index_etag", ""),
                       data.get("index_last_modified", ""), data.get("index_text", ""), pages)
        except (ValueError, TypeError, AttributeError) as err:
            raise SourceError(f"sync state is not readable ({err}); delete it to sync from scratch",
                              file=str(path)) from err

    def save(self, pages_dir: Path) -> None:
        """Write the state file atomically."""
        data = {"format": FORMAT, **asdict(self)}
        raw = json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True).encode()
        path = pages_dir / STATE_FILE
        if not path.is_file() or path.read_bytes() != raw:  # an unchanged state leaves the file untouched
            write_atomic(path, raw)

    def fetched(self) -> dict[str, tuple[str, str]]:
        """Return (sha, fetched_at) of each synced page's copy."""
        return {pid: (p.sha, p.fetched_at) for pid, p in self.pages.items()}


def write_atomic(path: Path, data: bytes) -> None:
    """Write a file so readers see the old content or the new, never a partial one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)
