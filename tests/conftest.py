"""Shared fixtures: no outside network, temporary data folders, one built index per session."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bot.threads import limit_native_threads

limit_native_threads()  # as every entry point: before numpy and the embedding engine load

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "knowledge" / "help-center" / "en" / "troubleshooting" / "usage-plan" / "unlimited-benefit-scope.mdx"
PAGE_ID = "en/troubleshooting/usage-plan/unlimited-benefit-scope"

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
    os.environ.pop(var, None)

_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: object) -> object:
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, str) and self.family in (socket.AF_INET, socket.AF_INET6):
        if not (host.startswith("127.") or host in ("localhost", "::1")):
            raise ConnectionRefusedError(f"tests may not reach {host}")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def no_outside_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse any connection that leaves this machine."""
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)


@pytest.fixture()
def pages_dir(tmp_path: Path) -> Path:
    """Return a writable copy of the shipped help-center folder."""
    dest = tmp_path / "help-center"
    shutil.copytree(ROOT / "knowledge" / "help-center", dest)
    return dest


@pytest.fixture()
def settings(tmp_path: Path, pages_dir: Path):
    """Return settings pointing at a temp data folder and a temp copy of the pages."""
    from bot.settings import get_settings

    return get_settings(data_dir=tmp_path / "var", pages_dir=pages_dir)


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory):
    """Return (settings, store, retriever) over an index of the shipped pages, built once."""
    from bot.retrieval import Glossary, Retriever
    from bot.settings import get_settings
    from bot.store import Store, build_index

    s = get_settings(data_dir=tmp_path_factory.mktemp("var"))
    store = Store(s)
    build_index(s, store)
    return s, store, Retriever(store, Glossary.load(s.glossary_file))


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `python -m bot ARGS` in a subprocess and return the finished process."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env=full_env, capture_output=True,
                          text=True, timeout=timeout)


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def run_chroma(folder: Path) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """Run `chroma run` on a free 127.0.0.1 port over folder; yield (port, process), stop it by PID."""
    import httpx

    exe = Path(sys.executable).with_name("chroma")
    if not exe.exists():
        exe = Path(shutil.which("chroma") or "chroma")
    port = free_port()
    proc = subprocess.Popen([str(exe), "run", "--path", str(folder), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail("the Chroma server did not start")
        yield port, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)


@pytest.fixture()
def chroma_server(tmp_path: Path) -> Iterator[int]:
    """Return the port of a Chroma server on 127.0.0.1 for this test."""
    with run_chroma(tmp_path / "srv") as (port, _):
        yield port
