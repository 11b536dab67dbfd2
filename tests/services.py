"""Real services for tests and benchmarks: PostgreSQL, Redis and a Chroma server from their packages,
each on a free 127.0.0.1 port in its own temporary folder, started and stopped by PID."""
from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.browser_helpers import ROOT, free_port, wait_healthy

REDIS_SERVER = Path("/usr/bin/redis-server")


def _postgres_bin() -> Path | None:
    """Return the newest installed PostgreSQL server folder (Debian: /usr/lib/postgresql/N/bin)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


def require(binary: Path | None, package: str) -> Path:
    """Return the binary; fail in CI, skip elsewhere, when its Debian package is missing."""
    if binary is not None and binary.exists():
        return binary
    message = f"{package} is missing: install it with `apt-get install -y {package}`"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def _wait(ready: Callable[[], Any], what: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode}")
        try:
            if ready():
                return
        except Exception:  # not up yet
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{what} did not start within {timeout} s")


def _stop(proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Postgres:
    """A throw-away PostgreSQL cluster (as the `postgres` user when running as root: it refuses root)."""

    def __init__(self) -> None:
        self.bin = require(_postgres_bin(), "postgresql")
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="carat-pg-"))
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
        self.proc: subprocess.Popen[bytes] | None = None
        self._run([str(self.bin / "initdb"), "-D", str(self.dir / "data"), "-U", "postgres", "-A", "trust",
                   "-E", "UTF8", "--no-locale", "--no-sync"])

    @property
    def url(self) -> str:
        """Return the SQLAlchemy URL of the cluster's default database."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _cmd(self, args: list[str]) -> list[str]:
        runuser = shutil.which("runuser") or "/usr/sbin/runuser"
        return [runuser, "-u", "postgres", "--", *args] if self.as_postgres else args

    def _run(self, args: list[str]) -> None:
        subprocess.run(self._cmd(args), check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        import psycopg

        self.proc = subprocess.Popen(self._cmd([
            str(self.bin / "postgres"), "-D", str(self.dir / "data"), "-p", str(self.port), "-k", str(self.dir),
            "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=100"]),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        dsn = f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres connect_timeout=2"
        _wait(lambda: psycopg.connect(dsn).close() is None, "postgres", self.proc)

    def stop(self) -> None:
        """Stop the server (fast shutdown: open connections are cut, as in a restart)."""
        pid_file = self.dir / "data" / "postmaster.pid"
        if self.proc is not None and self.proc.poll() is None and pid_file.exists():
            # Signal the postmaster itself: runuser, its parent, does not pass signals on.
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGINT)
        _stop(self.proc, signal.SIGINT)
        self.proc = None

    def close(self) -> None:
        """Stop the server and delete its files."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Redis:
    """A Redis server without persistence."""

    def __init__(self) -> None:
        self.bin = require(REDIS_SERVER, "redis-server")
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Return the redis:// URL of database 0."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server and wait until it answers PING."""
        import redis

        self.proc = subprocess.Popen([str(self.bin), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--daemonize", "no"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait(lambda: redis.Redis(port=self.port, socket_timeout=1).ping(), "redis-server", self.proc)

    def stop(self) -> None:
        """Stop the server."""
        _stop(self.proc)
        self.proc = None


class Chroma:
    """A Chroma server (the `chroma` command of the chromadb package) over its own folder."""

    def __init__(self) -> None:
        exe = Path(sys.executable).with_name("chroma")
        self.exe = exe if exe.exists() else Path(shutil.which("chroma") or "chroma")
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="carat-chroma-"))
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the server and wait for its heartbeat."""
        import httpx

        self.proc = subprocess.Popen([str(self.exe), "run", "--path", str(self.dir), "--host", "127.0.0.1",
                                      "--port", str(self.port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{self.port}/api/v2/heartbeat"
        _wait(lambda: httpx.get(url, timeout=1).status_code == 200, "chroma", self.proc)

    def stop(self) -> None:
        """Stop the server."""
        _stop(self.proc)
        self.proc = None

    def close(self) -> None:
        """Stop the server and delete its files."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class App:
    """`python app.py` on a free port with its own data folder and log; stopped (or killed) by PID."""

    def __init__(self, data_dir: Path, env: dict[str, str], log_path: Path) -> None:
        self.data_dir, self.env, self.log_path = data_dir, env, log_path
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Return the app's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120) -> None:
        """Start the app and wait until /healthz answers 200."""
        env = {**os.environ, "DATA_DIR": str(self.data_dir), "GRADIO_ANALYTICS_ENABLED": "False",
               "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1", "ANONYMIZED_TELEMETRY": "False", **self.env}
        for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
            if var not in self.env:
                env.pop(var, None)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(self.port)],
                                         cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_healthy(f"{self.url}/healthz", self.proc, timeout)
        except (RuntimeError, TimeoutError) as exc:
            raise RuntimeError(f"{exc}\n--- app log ---\n{self.log()[-3000:]}") from None

    def kill(self) -> None:
        """Kill the app at once (SIGKILL), as a crash would."""
        _stop(self.proc, signal.SIGKILL)
        self.proc = None

    def stop(self) -> None:
        """Stop the app (SIGINT)."""
        _stop(self.proc, signal.SIGINT)
        self.proc = None

    def log(self) -> str:
        """Return what the app printed so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class Fleet:
    """Two app servers sharing PostgreSQL, Redis and a Chroma server."""

    pg: Postgres
    redis: Redis
    chroma: Chroma
    apps: list[App]


@contextmanager
def run_fleet(folder: Path, env: dict[str, str] | None = None) -> Iterator[Fleet]:
    """Start PostgreSQL, Redis and Chroma, build the index into Chroma, then two app servers (trusting
    X-Forwarded-For from 127.0.0.1, so callers can act as many customers); stop everything after."""
    from bot.settings import get_settings
    from bot.store import build_index

    pg, redis, chroma = Postgres(), Redis(), Chroma()
    apps: list[App] = []
    try:
        pg.start()
        redis.start()
        chroma.start()
        build_index(get_settings(data_dir=folder / "indexer", chroma_host="127.0.0.1", chroma_port=chroma.port))
        app_env = {"DATABASE_URL": pg.url, "RATE_LIMIT_STORAGE": redis.url, "CHROMA_HOST": "127.0.0.1",
                   "CHROMA_PORT": str(chroma.port), "FORWARDED_ALLOW_IPS": "127.0.0.1", **(env or {})}
        apps = [App(folder / f"var{n}", app_env, folder / f"app{n}.log") for n in (1, 2)]
        together(*(app.start for app in apps))
        yield Fleet(pg, redis, chroma, apps)
    finally:
        for app in apps:
            app.stop()
        chroma.close()
        redis.stop()
        pg.close()


def together(*calls: Callable[[], Any]) -> list[BaseException]:
    """Run the calls in threads released at the same moment; return the exceptions they raised."""
    gate = threading.Barrier(len(calls))
    errors: list[BaseException] = []

    def run(call: Callable[[], Any]) -> None:
        gate.wait()
        try:
            call()
        except BaseException as exc:  # noqa: BLE001 - reported to the caller
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def race_first_turn(stores: list[Any], session_id: str) -> list[BaseException]:
    """Store the first turn of one new conversation from several stores at once; return what failed."""
    from bot.conversation import Conversation
    from bot.types import Answer

    answer = Answer(answer="ok", route="answer")
    return together(*(lambda s=s: s.save_turn(Conversation(session_id), "hello", answer) for s in stores))
