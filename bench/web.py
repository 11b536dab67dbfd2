"""Web benchmark: start-up time of `python app.py`, then /api/chat under concurrent clients, and server memory.

Usage: .venv/bin/python bench/web.py [--clients 16] [--seconds 30] [--data-dir DIR]
Targets: healthy within 10 s with the index present, p95 <= 250 ms, RSS <= 600 MB.
Also prints where the server's time per request goes (its Server-Timing header, SERVER_TIMING=1), the server's
CPU per answer against the answer's own CPU in one process, and the throughput the cores allow.
"""
from __future__ import annotations

import argparse
import itertools
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bot.timing import parse as parse_timing  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = [
    "Is Seedream 4.0 unlimited for me?",
    "Why are my credits dropping?",
    "How do I get the free video model in Agent 2.0?",
    "크레딧이 왜 계속 줄어드나요?",
    "Does Kling use credits?",
    "Is Nanobanana 2 unlimited on Max annual?",
]
PROFILES = [None, {"plan": "Plus"}, {"plan": "Premium", "billing": "annual", "signup_date": "2026-03-01"}]


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """Return a memory figure of a process in MB, from /proc/PID/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def launch(data_dir: Path, log: Path) -> tuple[subprocess.Popen[bytes], str, float]:
    """Start the app offline on a data folder, without rate limits; return the process, base URL and seconds to healthy."""
    env = {**os.environ, "DATA_DIR": str(data_dir), "RATE_LIMIT_IP": "0", "RATE_LIMIT_SESSION": "0",
           "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
           "SERVER_TIMING": "1"}
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        env.pop(var, None)
    return start_app(env, log)


def start_app(env: dict[str, str], log: Path, timeout: float = 120) -> tuple[subprocess.Popen[bytes], str, float]:
    """Start `python app.py` with this environment; return the process, its base URL and the seconds until /healthz answered 200."""
    port = free_port()
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port)], cwd=ROOT,
                            env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"the app exited with code {proc.returncode}; see {log}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return proc, base, time.perf_counter() - started
        except httpx.HTTPError:
            pass
        if time.perf_counter() - started > timeout:
            proc.kill()
            raise SystemExit(f"the app was not healthy after {timeout:.0f} s")
        time.sleep(0.05)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the app by PID (SIGINT, then SIGKILL)."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def load(base: str, clients: int, seconds: float, pid: int) -> dict[str, object]:
    """Post /api/chat from `clients` threads for `seconds`; return latencies, errors and peak RSS."""
    latencies: list[float] = []
    phases: list[dict[str, float]] = []  # each answer's Server-Timing
    errors: list[str] = []
    refused: list[float] = []  # deliberate 503/429 beyond capacity: how fast the client learned it
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client(n: int) -> None:
        questions = itertools.cycle(QUESTIONS[n % len(QUESTIONS):] + QUESTIONS[:n % len(QUESTIONS)])
        session, turns = None, 0
        with httpx.Client(base_url=base, timeout=30) as http:
            while time.perf_counter() < deadline:
                body: dict[str, object] = {"message": next(questions)}
                profile = PROFILES[(n + turns) % len(PROFILES)]
                if profile:
                    body["profile"] = profile
                if session:
                    body["session_id"] = session
                t0 = time.perf_counter()
                try:
                    resp = http.post("/api/chat", json=body)
                    took = time.perf_counter() - t0
                    with lock:
                        if resp.status_code == 200:
                            latencies.append(took)
                            phases.append(parse_timing(resp.headers.get("server-timing", "")))
                        elif resp.status_code in (429, 503) and resp.headers.get("Retry-After"):
                            refused.append(took)
                        else:
                            errors.append(f"{resp.status_code} {resp.text[:120]}")
                    if resp.status_code == 200:
                        session = resp.json()["session_id"]
                    elif resp.headers.get("Retry-After"):
                        time.sleep(min(float(resp.headers["Retry-After"]), 5))  # as a polite client does
                except httpx.HTTPError as exc:
                    with lock:
                        errors.append(f"{type(exc).__name__}: {exc}")
                turns += 1
                if turns % 5 == 0:  # a new conversation every five messages
                    session = None

    peak = [rss_mb(pid)]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.5):
            peak.append(rss_mb(pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    cpu_before = cpu_seconds(pid)
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds(pid) - cpu_before
    done.set()
    return {"latencies": latencies, "errors": errors, "refused": refused, "elapsed": elapsed, "peak_rss": max(peak),
            "phases": phases, "server_cpu": cpu}


def cpu_seconds(pid: int) -> float:
    """Return the CPU time (user + system) a process has used, in seconds, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def answer_cpu_ms(data_dir: Path) -> float:
    """Return the median CPU time of one answer in this process (the bench's questions, warm), in ms."""
    from bot.service import make_bot
    from bot.settings import get_settings

    bot = make_bot(get_settings(data_dir=data_dir, database_url="sqlite:///:memory:", openai_api_key=None,
                                openai_base_url=None))
    times = []
    for round_ in range(4):
        for n, q in enumerate(QUESTIONS):
            started = time.thread_time()
            bot.ask(q, profile=None if n % 2 else _profile(PROFILES[n % len(PROFILES)]))
            if round_:
                times.append((time.thread_time() - started) * 1000)
    return statistics.median(times)


def _profile(raw: dict[str, str] | None):  # type: ignore[no-untyped-def]
    from bot.types import Profile

    return Profile(**raw) if raw else None


def breakdown(phases: list[dict[str, float]]) -> list[str]:
    """Return lines saying where the server's time per answer went (mean ms per phase)."""
    if not phases or not any(phases):
        return ["  (no Server-Timing header: SERVER_TIMING is off)"]
    names = list(dict.fromkeys(n for p in phases for n in p))
    mean = {n: statistics.fmean(p.get(n, 0.0) for p in phases) for n in names}
    total = mean.get("total", 0.0)
    parts = ("admit", "queue", "load", "answer", "save", "serialize")
    framework = total - sum(mean.get(n, 0.0) for n in parts)
    work = mean.get("answer", 0.0) - mean.get("prepare", 0.0) - mean.get("search", 0.0)
    lines = [f"  server time per answer, mean of {len(phases)} (Server-Timing): total {total:.1f} ms ="]
    lines.append("    " + ", ".join(f"{n} {mean.get(n, 0.0):.1f}" for n in parts) + f", framework and middleware {framework:.1f}")
    lines.append(f"    answer = prepare {mean.get('prepare', 0.0):.1f} + search {mean.get('search', 0.0):.1f} "
                 f"(embedding {mean.get('embed', 0.0):.1f}) + policy, render and handoff {work:.1f}")
    return lines


def pct(values: list[float], q: float) -> float:
    """Return the q-th percentile (0-100) of values, in milliseconds."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def main() -> None:
    """Run the benchmark and print its figures."""
    from bot.threads import limit_native_threads

    limit_native_threads()  # as every entry point: one native thread per worker
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--data-dir", type=Path, default=None, help="reuse a data folder (default: a fresh temp one)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="carat-bench-") as tmp:
        data_dir = args.data_dir or Path(tmp) / "var"
        log = Path(tmp) / "app.log"
        proc, _, cold = launch(data_dir, log)  # builds the index when it is missing
        stop(proc)
        proc, base, warm = launch(data_dir, log)
        try:
            idle = rss_mb(proc.pid)
            print(f"start-up to healthy: {cold:.2f} s (first run, index built if missing), "
                  f"{warm:.2f} s with the index present (target <= 10 s)")
            before = cpu_seconds(proc.pid)
            time.sleep(5)
            print(f"server RSS idle: {idle:.0f} MB; CPU while idle {100 * (cpu_seconds(proc.pid) - before) / 5:.1f}% of a core")
            httpx.post(f"{base}/api/chat", json={"message": QUESTIONS[0]}, timeout=30)  # warm caches
            result = load(base, args.clients, args.seconds, proc.pid)
            lat: list[float] = result["latencies"]  # type: ignore[assignment]
            errors: list[str] = result["errors"]  # type: ignore[assignment]
            refused: list[float] = result["refused"]  # type: ignore[assignment]
            total = len(lat) + len(errors) + len(refused)
            print(f"/api/chat, {args.clients} concurrent clients for {result['elapsed']:.1f} s:")
            print(f"  requests {total}, ok {len(lat)}, errors {len(errors)} (target 0), "
                  f"refused with Retry-After {len(refused)} (p95 {pct(refused, 95):.0f} ms), "
                  f"throughput {len(lat) / result['elapsed']:.1f} answers/s")  # type: ignore[operator]
            print(f"  latency p50 {pct(lat, 50):.0f} ms, p95 {pct(lat, 95):.0f} ms (target <= 250 ms), "
                  f"p99 {pct(lat, 99):.0f} ms, mean {1000 * statistics.fmean(lat) if lat else float('nan'):.0f} ms")
            print(f"  server RSS peak {result['peak_rss']:.0f} MB, VmHWM {rss_mb(proc.pid, 'VmHWM'):.0f} MB "
                  f"(target <= 600 MB)")
            for line in breakdown(result["phases"]):  # type: ignore[arg-type]
                print(line)
            answers = max(len(lat), 1)
            server_ms = 1000 * result["server_cpu"] / answers  # type: ignore[operator]
            own = answer_cpu_ms(data_dir)
            cores = os.cpu_count() or 1
            bound = cores * 1000 / own
            print(f"  server CPU per answer {server_ms:.1f} ms vs the answer alone {own:.1f} ms in one process "
                  f"({server_ms / own:.1f}x); core-bound throughput {cores} cores / {own:.1f} ms = {bound:.0f} answers/s, "
                  f"reached {len(lat) / result['elapsed'] / bound:.0%} (target >= 80%)")  # type: ignore[operator]
            for line in sorted(set(errors))[:5]:
                print(f"  error: {line}")
        finally:
            stop(proc)


if __name__ == "__main__":
    main()
