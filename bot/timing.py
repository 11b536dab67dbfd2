"""Where a request's time goes: named phases summed per request, sent as a Server-Timing header when enabled.

Pure Python: the web layer starts a request's record (`begin`) and writes the header; the layers below only
mark their phases (`phase`), which costs nothing when no record was begun (the CLI, the eval, the tests).
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_record: ContextVar[dict[str, float] | None] = ContextVar("request_timing", default=None)


def begin() -> dict[str, float]:
    """Start recording this request's phases (in this context and the worker threads it calls)."""
    record: dict[str, float] = {}
    _record.set(record)
    return record


def add(name: str, ms: float) -> None:
    """Add `ms` milliseconds to a phase of the current request (nothing when none is recorded)."""
    record = _record.get()
    if record is not None:
        record[name] = record.get(name, 0.0) + ms


@contextmanager
def phase(name: str) -> Iterator[None]:
    """Time a block as one phase of the current request."""
    if _record.get() is None:
        yield
        return
    started = time.perf_counter()
    try:
        yield
    finally:
        add(name, (time.perf_counter() - started) * 1000)


def header(record: dict[str, float], total_ms: float) -> str:
    """Return a Server-Timing header value: each phase, then the whole request as `total`."""
    parts = [f"{name};dur={ms:.2f}" for name, ms in record.items()]
    return ", ".join([*parts, f"total;dur={total_ms:.2f}"])


def parse(value: str) -> dict[str, float]:
    """Read a Server-Timing header value back into {phase: milliseconds} (for the benchmarks)."""
    out: dict[str, float] = {}
    for part in value.split(","):
        name, _, rest = part.strip().partition(";")
        for param in rest.split(";"):
            key, _, number = param.strip().partition("=")
            if key == "dur" and name:
                try:
                    out[name] = out.get(name, 0.0) + float(number)
                except ValueError:
                    pass
    return out
