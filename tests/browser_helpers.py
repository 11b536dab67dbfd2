"""Helpers for tests that serve the app in a subprocess and drive it with Chromium."""
from __future__ import annotations

import functools
import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = ROOT / "tests" / "artifacts"


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require_chromium() -> None:
    """Fail in CI, skip elsewhere, when the system Chromium is missing."""
    if CHROMIUM.exists():
        return
    message = f"Chromium is missing at {CHROMIUM}: install it with `apt-get install -y chromium chromium-driver`"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def wait_healthy(url: str, proc: subprocess.Popen[bytes] | None = None, timeout: float = 60) -> float:
    """Poll url until it answers 200; return the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the app exited with code {proc.returncode} before it was healthy")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return time.monotonic() - started
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} was not healthy after {timeout} s")


@contextmanager
def serve_app(data_dir: Path, env: dict[str, str] | None = None, log_path: Path | None = None,
              timeout: float = 60) -> Iterator[str]:
    """Run `python app.py` on a free port with its own data folder; yield its base URL, stop it by PID."""
    port = free_port()
    full_env = {**os.environ, "DATA_DIR": str(data_dir), "GRADIO_ANALYTICS_ENABLED": "False",
                "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1", **(env or {})}
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        if var not in (env or {}):
            full_env.pop(var, None)
    log = open(log_path, "wb") if log_path else subprocess.DEVNULL
    proc = subprocess.Popen([sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port)], cwd=ROOT,
                            env=full_env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_healthy(f"{base}/healthz", proc, timeout)
        except (RuntimeError, TimeoutError) as exc:
            tail = log_path.read_text(errors="replace")[-3000:] if log_path else ""
            raise RuntimeError(f"{exc}\n--- app log ---\n{tail}") from None
        yield base
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if log_path:
            log.close()  # type: ignore[union-attr]


@contextmanager
def serve_folder(folder: Path) -> Iterator[int]:
    """Serve a folder over HTTP on 127.0.0.1 in a thread (a stand-in for a customer's site); yield the port."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass
