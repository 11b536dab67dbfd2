"""Print full-index time, no-change re-index time and search latency (p50/p95, embedding included)."""
from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from bot.retrieval import Glossary, Retriever
from bot.settings import ROOT, get_settings
from bot.store import Store, build_index


def _cli_seconds(*args: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    """Build a fresh index in a temp folder and time it, then time searches."""
    from bot.threads import limit_native_threads

    limit_native_threads()  # as every entry point: one native thread per worker
    import os

    with tempfile.TemporaryDirectory() as tmp:
        settings = get_settings(data_dir=Path(tmp) / "var")
        started = time.perf_counter()
        store = Store(settings)
        full = build_index(settings, store)
        full_s = time.perf_counter() - started
        again, noop_times = [], []
        for _ in range(5):
            t = time.perf_counter()
            again.append(build_index(settings, store))
            noop_times.append(time.perf_counter() - t)
        print(f"full index: {full.chunks} chunks, embedded {full.embedded}, {full_s:.2f}s in-process (target <= 5 s)")
        noop = statistics.median(noop_times)
        print(f"re-index, no change: embedded {again[-1].embedded}, median {noop * 1000:.1f} ms in-process, "
              "parsing included (target <= 0.5 s)")

        retriever = Retriever(store, Glossary.load(settings.glossary_file))
        questions = [q["q"] for q in yaml.safe_load((ROOT / "eval" / "retrieval_questions.yaml").read_text())["questions"]]
        retriever.search(questions[0])  # load the snapshot and the model once
        times = []
        for _ in range(3):
            for q in questions:
                t = time.perf_counter()
                retriever.search(q)
                times.append((time.perf_counter() - t) * 1000)
        times.sort()
        p95 = times[int(len(times) * 0.95) - 1]
        print(f"search: n={len(times)} p50 {statistics.median(times):.1f} ms, p95 {p95:.1f} ms (target p50 <= 30 ms)")

        env = {**os.environ, "DATA_DIR": str(Path(tmp) / "cli")}
        first = _cli_seconds("index", env=env)
        second = _cli_seconds("index", env=env)
        print(f"`python -m bot index` wall time, process start included: first {first:.2f}s, unchanged {second:.2f}s")


if __name__ == "__main__":
    main()
