"""Misbehaving model servers for the stub: each returns a `Raw` answer a broken or hostile server might send."""
from __future__ import annotations

import json

from tests.openai_stub import Raw, chunk, sse


def html_page() -> Raw:
    """Script a 200 carrying a proxy's HTML error page."""
    return Raw(b"<!doctype html><html><body><h1>502 Bad Gateway</h1></body></html>", "text/html")


def wrong_json() -> Raw:
    """Script a 200 carrying JSON that is not a chat completion."""
    return Raw(json.dumps({"object": "list", "data": [], "status": "ok"}).encode(), "application/json")


def wrong_json_events() -> Raw:
    """Script well-formed events whose JSON is not a chat-completion chunk."""
    return Raw(sse({"choices": "none", "message": 7}, {"error": None}, "[DONE]"))


def broken_sse() -> Raw:
    """Script a stream that starts a sentence, sends an event that is not JSON, and hangs up."""
    return Raw(sse(chunk({"role": "assistant", "content": "Seedream 4.0 is fr"}), "{not json", chunk({"content": "ee"})),
               cut=True)


def binary_body() -> Raw:
    """Script a 200 stream of bytes that are not text."""
    return Raw(bytes(range(128, 256)) * 64 + bytes(range(0, 32)) * 16)


def nul_bytes() -> Raw:
    """Script a 200 stream of NUL bytes."""
    return Raw(b"\x00" * 4096)


def nul_text() -> Raw:
    """Script a well-formed stream whose text carries NUL characters."""
    return Raw(sse(chunk({"role": "assistant", "content": "Seedream 4.0 \u0000\u0000 is"}), chunk({}, "stop"), "[DONE]"))


def bad_gzip() -> Raw:
    """Script a body that claims gzip encoding but is not compressed."""
    return Raw(sse(chunk({"role": "assistant", "content": "Hello"}), "[DONE]"), headers=(("Content-Encoding", "gzip"),))


def empty_stream() -> Raw:
    """Script a stream that ends at once with no message."""
    return Raw(sse("[DONE]"))


def endless_text(piece: str = "unlimited ") -> Raw:
    """Script a stream of text that never ends (until the client hangs up)."""
    return Raw(sse(chunk({"content": piece})), repeat=10**7)


def endless_empty_chunks() -> Raw:
    """Script a stream of empty deltas that never ends (until the client hangs up)."""
    return Raw(sse(chunk({})), repeat=10**7)


def stall_mid_stream(seconds: float = 120.0) -> Raw:
    """Script a stream that sends half a sentence and then nothing for `seconds` (until the stub stops)."""
    return Raw(sse(chunk({"role": "assistant", "content": "Seedream 4.0 is "})), stall=seconds)
