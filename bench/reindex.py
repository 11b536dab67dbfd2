"""Re-index while `python app.py` serves 16 clients: failed requests (target 0) and time to pick up each generation.

Usage: .venv/bin/python bench/reindex.py [--clients 16] [--rounds 3] [--mode both|embedded|server] [--grace 120]
Each round adds, edits or removes a synthetic page and runs `python -m bot index` in its own process,
as an operator (or `bot sync`) would, while the clients keep asking.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.synthetic import page_text  # noqa: E402
from tests.conftest import free_port, run_chroma  # noqa: E402

QUESTIONS = ["Is Seedream 4.0 unlimited for me?", "Why are my credits dropping?",
             "How do I get the free video model in Agent 2.0?", "크레딧이 왜 계속 줄어드나요?",
             "Does Kling use credits?", "where do I see my active benefits"]


class Clients:
    """Threads posting /api/chat in a loop; every status and latency is kept."""

    def __init__(self, base: str, n: int) -> None:
        self.base, self.stop = base, threading.Event()
        self.statuses: Counter[str] = Counter()
        self.latencies: list[float] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(i,)) for i in range(n)]

    def _run(self, i: int) -> None:
        with httpx.Client(base_url=self.base, timeout=60) as http:
            while not self.stop.is_set():
                t0 = time.perf_counter()
                try:
                    status = str(http.post("/api/chat", json={"message": QUESTIONS[i % len(QUESTIONS)]}).status_code)
                except httpx.HTTPError as err:
                    status = type(err).__name__
                with self.lock:
                    self.statuses[status] += 1
                    self.latencies.append(time.perf_counter() - t0)
                i += 1


def _generation(base: str) -> int | None:
    try:
        return httpx.get(f"{base}/healthz", timeout=10).json().get("generation")
    except (httpx.HTTPError, ValueError):
        return None


def _start_app(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while _generation(base) is None:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the app did not start; see {log}")
        time.sleep(0.2)
    return proc, base


def run(mode: str, clients: int, rounds: int, grace: float, chroma_port: int | None) -> None:
    """Serve, load, re-index `rounds` times; print the figures of one store mode."""
    with tempfile.TemporaryDirectory(prefix="carat-reindex-") as tmp:
        pages = Path(tmp) / "pages"
        shutil.copytree(ROOT / "knowledge" / "help-center", pages)
        env = {**os.environ, "DATA_DIR": str(Path(tmp) / "var"), "PAGES_DIR": str(pages), "RATE_LIMIT_IP": "0",
               "RATE_LIMIT_SESSION": "0", "INDEX_GRACE_SECONDS": str(grace), "GRADIO_ANALYTICS_ENABLED": "False",
               "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}
        for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
            env.pop(var, None)
        if chroma_port is not None:
            env.update(CHROMA_HOST="127.0.0.1", CHROMA_PORT=str(chroma_port))
        subprocess.run([sys.executable, "-m", "bot", "index"], cwd=ROOT, env=env, check=True, capture_output=True)
        proc, base = _start_app(env, Path(tmp) / "app.log")
        pickups: list[float] = []
        try:
            load = Clients(base, clients)
            for t in load.threads:
                t.start()
            time.sleep(2)
            page = pages / "en" / "synthetic-bench.mdx"
            for r in range(rounds):
                if r % 3 == 2:
                    page.unlink()
                else:
                    page.write_text(page_text(1, "en", edit=r), encoding="utf-8")
                expected = (_generation(base) or 0) + 1
                subprocess.run([sys.executable, "-m", "bot", "index"], cwd=ROOT, env=env, check=True,
                               capture_output=True)
                t0 = time.perf_counter()
                while _generation(base) != expected and time.perf_counter() - t0 < 60:
                    time.sleep(0.05)
                pickups.append(time.perf_counter() - t0)
            time.sleep(2)
            load.stop.set()
            for t in load.threads:
                t.join()
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=20)
        total = sum(load.statuses.values())
        errors = total - load.statuses.get("200", 0)
        lat = sorted(load.latencies)
        print(f"{mode}: {clients} clients, {rounds} re-indexes (grace {grace:g} s): {total} requests, "
              f"errors {errors} (target 0) {dict(load.statuses)}")
        print(f"  latency during re-indexing p50 {1000 * statistics.median(lat):.0f} ms, "
              f"p95 {1000 * lat[int(0.95 * (len(lat) - 1))]:.0f} ms; new generation served "
              f"{', '.join(f'{p:.2f}' for p in pickups)} s after `bot index` finished")


def main() -> None:
    """Run the load test in the chosen store modes."""
    from bot.threads import limit_native_threads

    limit_native_threads()  # as every entry point: one native thread per worker
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--grace", type=float, default=120.0, help="INDEX_GRACE_SECONDS (0: drop at once)")
    parser.add_argument("--mode", choices=["both", "embedded", "server"], default="both")
    args = parser.parse_args()
    if args.mode in ("both", "embedded"):
        run("embedded store", args.clients, args.rounds, args.grace, None)
    if args.mode in ("both", "server"):
        with tempfile.TemporaryDirectory(prefix="carat-chroma-") as tmp, run_chroma(Path(tmp)) as (port, _):
            run("Chroma server", args.clients, args.rounds, args.grace, port)


if __name__ == "__main__":
    main()
