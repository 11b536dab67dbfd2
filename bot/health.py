"""Whether this app server can serve: database, search index, free disk, shared rate-limit store."""
from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.errors import BotError, InputError

log = logging.getLogger("bot.health")

# Without these a chat turn fails; the rate-limit store falls back to per-server counting.
CRITICAL = ("database", "index", "disk")
SEARCH_UNAVAILABLE = "Search is unavailable right now, so I can't look this up in the help center. Please try again in a few minutes."
# An exception raised inside these modules while answering means the search index failed.
INDEX_MODULES = ("chromadb", "bot.store", "bot.retrieval")


@dataclass
class Check:
    """One health check's result: ok, and a short reason a person can act on."""

    ok: bool
    detail: str
    generation: int | None = None  # the index check's: the generation this server answers from


def check_database(conversations: Any) -> Check:
    """Run a trivial query against the conversation database."""
    try:
        conversations.ping()
    except Exception as exc:  # any failure means chats cannot be stored
        log.warning("health: database check failed: %s", type(exc).__name__)
        return Check(False, f"unreachable ({type(exc).__name__})")
    return Check(True, "reachable")


def check_index(retriever: Any) -> Check:
    """Ask the retriever whether it can search now (store readable, a generation loaded) and which one it serves."""
    try:
        health = retriever.health()
    except Exception as exc:  # a Chroma server that is down, a corrupt folder
        log.warning("health: index check failed: %s", type(exc).__name__)
        return Check(False, f"unreachable ({type(exc).__name__})")
    if not health.ok:
        return Check(False, health.problem, health.generation)
    return Check(True, f"serving generation {health.generation}", health.generation)


def check_disk(folder: Path, min_free_mb: int) -> Check:
    """Compare the free space of the disk holding folder with the minimum."""
    path = folder
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        free_mb = shutil.disk_usage(path).free // (1024 * 1024)
    except OSError as exc:
        return Check(False, f"cannot read free space ({type(exc).__name__})")
    if free_mb < min_free_mb:
        return Check(False, f"{free_mb} MB free, below the minimum of {min_free_mb} MB")
    return Check(True, f"{free_mb} MB free")


def check_rate_limits(healthy: Callable[[], bool], shared: bool) -> Check:
    """Report whether the shared rate-limit store answers."""
    if not shared:
        return Check(True, "counted in this server's memory")
    if healthy():
        return Check(True, "shared store reachable")
    return Check(False, "shared store unreachable: each server counts alone until it is back")


def summarise(checks: dict[str, Check], mode: str) -> tuple[int, dict[str, Any]]:
    """Return the HTTP status and body of /healthz: 503 when a check chats depend on failed."""
    failed = [name for name, c in checks.items() if not c.ok]
    down = [name for name in failed if name in CRITICAL]
    status = "unavailable" if down else "degraded" if failed else "ok"
    body = {"status": status, "mode": mode, "index": checks["index"].ok, "generation": checks["index"].generation,
            "failed": failed,
            "checks": {name: {"ok": c.ok, "detail": c.detail} for name, c in checks.items()}}
    return (503 if down else 200), body


def is_search_failure(exc: BaseException) -> bool:
    """Return True when an exception (or one it was raised from) comes from the search index."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, InputError):
            return False
        if isinstance(current, BotError) and current.code in ("index_missing", "search_unavailable"):
            return True
        if type(current).__module__.startswith("chromadb") or _raised_in(current, INDEX_MODULES):
            return True
        current = current.__cause__ or current.__context__
    return False


def _raised_in(exc: BaseException, modules: tuple[str, ...]) -> bool:
    """Return True when a frame of the exception's traceback belongs to one of the modules."""
    tb = exc.__traceback__
    while tb is not None:
        name = tb.tb_frame.f_globals.get("__name__", "")
        if any(name == m or name.startswith(m + ".") for m in modules):
            return True
        tb = tb.tb_next
    return False
