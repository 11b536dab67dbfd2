"""Faults against `python app.py` itself (uvicorn in front): huge headers, spoofed client addresses, clean logs."""
from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.services import App

SEEDREAM = "Is Seedream 4.0 unlimited for me?"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """One app on SQLite with default proxy settings (FORWARDED_ALLOW_IPS unset) and a small address limit."""
    folder = tmp_path_factory.mktemp("server")
    server = App(folder / "var", {"RATE_LIMIT_IP": "4", "RATE_LIMIT_SESSION": "100"}, folder / "app.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def raw_request(port: int, head: bytes) -> bytes:
    """Send a raw request head; return what the server answered (it may hang up before reading it all)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            sock.sendall(head)
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            return sock.recv(4096)
        except (ConnectionResetError, TimeoutError):
            return b""


def test_huge_request_headers_are_refused_without_growing_memory(app: App):
    assert app.proc is not None
    before = rss_mb(app.proc.pid)
    for _ in range(8):
        head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Filler: " + b"a" * (4 * 1024 * 1024) + b"\r\n\r\n"
        answer = raw_request(app.port, head)
        assert answer == b"" or answer.startswith(b"HTTP/1.1 4"), answer[:100]
    assert rss_mb(app.proc.pid) - before < 64
    mid = httpx.get(f"{app.url}/healthz", headers={"X-Filler": "a" * 20_000}, timeout=10)
    assert mid.status_code in (400, 431)
    assert httpx.get(f"{app.url}/healthz", timeout=10).status_code == 200


def test_x_forwarded_for_is_not_believed_unless_configured(app: App):
    codes = []
    with httpx.Client(base_url=app.url, timeout=30) as http:
        for n in range(6):
            resp = http.post("/api/chat", json={"message": SEEDREAM}, headers={"X-Forwarded-For": f"203.0.113.{n}"})
            codes.append(resp.status_code)
    # Every request counts against the one real address: rotating the header buys nothing.
    assert codes[:4] == [200] * 4 and codes[4:] == [429, 429]


def test_gradio_internals_probed_leave_no_traceback_in_the_log(app: App):
    with httpx.Client(base_url=app.url, timeout=30) as http:
        codes = [
            http.post("/gradio_api/queue/join", json={"data": [], "fn_index": 99, "session_hash": "abcdef12"}),
            http.post("/gradio_api/queue/join", content=b'{"data": ["\\ud800"], "fn_index": 4, "session_hash": "ab12cd34"}',
                      headers={"content-type": "application/json"}),
            http.post("/gradio_api/run/predict", json={"data": [0], "fn_index": 0}),
            http.post("/gradio_api/run/predict", json={"data": [], "fn_index": 99}),
            http.get("/gradio_api/queue/data", params={"session_hash": "zzzzzz"}),
            http.post("/gradio_api/upload", files={"files": ("big.bin", b"\0" * 1_000_000)}),
            http.get("/api/nothing"), http.get("/api/chat"), http.post("/healthz"),
            http.post("/api/chat", content=b'{"message": "\\ud800"}', headers={"content-type": "application/json"}),
            http.post("/api/chat", content=b'{"message": "hi\\u0000"}', headers={"content-type": "application/json"}),
        ]
    assert all(400 <= r.status_code < 500 for r in codes), [(r.request.url.path, r.status_code) for r in codes]
    assert all(r.json()["error"]["code"] for r in codes)
    log = app.log()
    assert "Traceback" not in log and "Exception in ASGI application" not in log
