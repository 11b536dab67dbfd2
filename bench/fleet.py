"""Fleet benchmark: two app servers on PostgreSQL, Redis and a Chroma server (all on 127.0.0.1).

Prints three figures: load held (concurrent clients, errors, latency, lost turns), faults survived
(a server killed, PostgreSQL restarted, Redis and Chroma taken away, each under load), inputs tried
(hostile requests, all answered 4xx, no traceback in the logs).

Usage: .venv/bin/python bench/fleet.py [--clients 32] [--seconds 30]
Needs Debian's postgresql and redis-server packages. Targets: 0 errors under load; every fault with
0 lost acknowledged turns, 0 answers of 500 and recovery within 60 s; every input a 4xx.
"""
from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.conversation import ConversationStore  # noqa: E402
from tests.services import App, Chroma, Postgres, Redis, run_fleet  # noqa: E402

QUESTIONS = [
    "Is Seedream 4.0 unlimited for me?",
    "Why are my credits dropping?",
    "How do I get the free video model in Agent 2.0?",
    "크레딧이 왜 계속 줄어드나요?",
    "I'm on Premium annual since 2026-03-01. Is Flux2 Pro unlimited?",
    "what about Kling?",
]


@dataclass
class Tally:
    """What a stretch of load did."""

    codes: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    acknowledged: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, code: str, seconds: float, turn_id: str | None) -> None:
        with self.lock:
            self.codes[code] += 1
            if turn_id:
                self.latencies.append(seconds)
                self.acknowledged.append(turn_id)


def customer(n: int, apps: list[App], tally: Tally, stop: threading.Event, address: str) -> None:
    """Ask questions as one customer (own address, a new conversation every five turns) until stopped.

    Like a proxy, a request a server cannot take (connection refused) goes to the other server.
    """
    questions = itertools.cycle(QUESTIONS[n % len(QUESTIONS):] + QUESTIONS[:n % len(QUESTIONS)])
    session, turns = None, 0
    with httpx.Client(timeout=60, headers={"X-Forwarded-For": address}) as http:
        while not stop.is_set():
            body: dict[str, Any] = {"message": next(questions)}
            if session:
                body["session_id"] = session
            started = time.perf_counter()
            code, turn_id = "connection error", None
            for app in (apps[(n + turns) % 2], apps[(n + turns + 1) % 2]):
                try:
                    resp = http.post(f"{app.url}/api/chat", json=body)
                except httpx.TransportError:
                    continue
                code = str(resp.status_code)
                if resp.status_code == 200:
                    turn_id, session = resp.json()["turn_id"], resp.json()["session_id"]
                break
            tally.add(code, time.perf_counter() - started, turn_id)
            turns += 1
            if turns % 5 == 0:
                session = None
            if turn_id is None:
                stop.wait(0.5)  # back off after a refusal, as a browser would


def run_load(apps: list[App], clients: int, during: Callable[[], None], first_address: int = 0) -> Tally:
    """Run `clients` customers (each with its own address) while `during()` runs; return the tally."""
    tally, stop = Tally(), threading.Event()
    addresses = [f"10.{(first_address + n) // 250}.{(first_address + n) % 250}.7" for n in range(clients)]
    threads = [threading.Thread(target=customer, args=(n, apps, tally, stop, addresses[n])) for n in range(clients)]
    for t in threads:
        t.start()
    try:
        during()
    finally:
        stop.set()
        for t in threads:
            t.join()
    return tally


def lost(pg: Postgres, tally: Tally) -> int:
    """Return how many acknowledged turns the database does not hold."""
    stored = {t["id"] for t in ConversationStore(pg.url).iter_turns()}
    return len(set(tally.acknowledged) - stored)


def wait_healthy(app: App, timeout: float = 60) -> float:
    """Poll /healthz until it answers 200 with status ok; return the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            resp = httpx.get(f"{app.url}/healthz", timeout=5)
            if resp.status_code == 200 and resp.json()["status"] == "ok":
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    return float("inf")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))] if ordered else float("nan")


Fault = tuple[str, Callable[[], None], Callable[[], None]]


def faults(pg: Postgres, redis: Redis, chroma: Chroma, apps: list[App]) -> list[Fault]:
    """Return (name, break, repair) for each fault."""
    return [
        ("app server killed (SIGKILL) and restarted", apps[0].kill, apps[0].start),
        ("PostgreSQL restarted", pg.stop, pg.start),
        ("Redis stopped and started", redis.stop, redis.start),
        ("Chroma server stopped and started", chroma.stop, chroma.start),
    ]


def raw(text: str) -> dict[str, Any]:
    """Return request arguments for a JSON body written by hand (escapes reach the server as sent)."""
    return {"content": text.encode(), "headers": {"content-type": "application/json"}}


def inputs(app: App) -> list[tuple[str, httpx.Response]]:
    """Send hostile requests; return (what, response) pairs."""
    with httpx.Client(base_url=app.url, timeout=30, headers={"X-Forwarded-For": "10.250.0.1"}) as h:
        sid = h.post("/api/chat", json={"message": "hello, credits?"}).json()["session_id"]
        join = "/gradio_api/queue/join"
        probes: list[tuple[str, str, str, dict[str, Any]]] = [
            ("empty message", "POST", "/api/chat", {"json": {"message": "  "}}),
            ("message over the limit", "POST", "/api/chat", {"json": {"message": "x" * 2001}}),
            ("NUL in a message", "POST", "/api/chat", raw('{"message": "a\\u0000b"}')),
            ("lone surrogate", "POST", "/api/chat", raw('{"message": "\\ud800"}')),
            ("escape sequence", "POST", "/api/chat/stream", raw('{"message": "\\u001b[2J"}')),
            ("malformed JSON", "POST", "/api/chat", raw('{"message": ')),
            ("wrong types", "POST", "/api/chat", {"json": {"message": ["a"]}}),
            ("unknown field", "POST", "/api/chat", {"json": {"message": "hi", "admin": True}}),
            ("unknown plan", "POST", "/api/chat", {"json": {"message": "hi", "profile": {"plan": "Gold"}}}),
            ("impossible date", "POST", "/api/chat", {"json": {"message": "hi", "profile": {"signup_date": "2026-02-30"}}}),
            ("session id with a newline", "POST", "/api/chat", {"json": {"message": "hi", "session_id": sid + "\n"}}),
            ("60 KB session id", "POST", "/api/chat", {"json": {"message": "hi", "session_id": "a" * 60_000}}),
            ("path as a session id", "POST", "/api/chat", {"json": {"message": "hi", "session_id": "../../etc/passwd"}}),
            ("body over 64 KB", "POST", "/api/chat", raw('{"message": "' + "x" * 100_000 + '"}')),
            ("20 KB header", "GET", "/healthz", {"headers": {"x-filler": "a" * 20_000}}),
            ("disallowed origin", "POST", "/api/chat", {"json": {"message": "hi"}, "headers": {"Origin": "https://evil.example"}}),
            ("feedback on another session", "POST", "/api/feedback",
             {"json": {"session_id": "someone-elses-1", "turn_id": "x1", "rating": "up"}}),
            ("feedback comment with NUL", "POST", "/api/feedback",
             raw('{"session_id": "%s", "turn_id": "x1", "rating": "up", "comment": "\\u0000"}' % sid)),
            ("GET on a POST route", "GET", "/api/chat", {}),
            ("unknown /api/ path", "DELETE", "/api/sessions", {}),
            ("POST /healthz", "POST", "/healthz", {}),
            ("Gradio upload", "POST", "/gradio_api/upload", {"files": {"files": ("a.bin", b"\0" * 50_000)}}),
            ("Gradio file serving", "GET", "/gradio_api/file=/etc/passwd", {}),
            ("Gradio run/predict", "POST", "/gradio_api/run/predict", {"json": {"data": [], "fn_index": 99}}),
            ("Gradio call API", "POST", "/gradio_api/call/respond", {"json": {"data": ["hi"]}}),
            ("Gradio API info", "GET", "/gradio_api/info", {}),
            ("Gradio monitoring", "GET", "/monitoring", {}),
            ("queue/join unknown fn_index", "POST", join, {"json": {"data": [], "fn_index": 99, "session_hash": "abcdef12"}}),
            ("queue/join wrong data", "POST", join, {"json": {"data": [1, 2], "fn_index": 4, "session_hash": "abcdef12"}}),
            ("queue/join lone surrogate", "POST", join,
             raw('{"data": ["\\ud800"], "fn_index": 4, "session_hash": "abcdef12"}')),
            ("queue/data never joined", "GET", "/gradio_api/queue/data", {"params": {"session_hash": "nojoin123"}}),
        ]
        return [(what, h.request(method, path, **kwargs)) for what, method, path, kwargs in probes]


def main() -> None:
    """Start the fleet, run the three parts and print their figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--fault-seconds", type=float, default=6, help="how long each fault lasts")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="carat-fleet-") as tmp, run_fleet(Path(tmp)) as fleet:
        pg, redis, chroma, apps = fleet.pg, fleet.redis, fleet.chroma, fleet.apps
        tally = run_load(apps, args.clients, lambda: time.sleep(args.seconds))
        ok = len(tally.acknowledged)
        errors = sum(tally.codes.values()) - ok
        print(f"load held: {args.clients} clients x {args.seconds:.0f} s on 2 servers: {sum(tally.codes.values())} "
              f"requests, {ok} answered, {errors} errors (target 0), {lost(pg, tally)} acknowledged turns lost; "
              f"p50 {pct(tally.latencies, 50):.0f} ms, p95 {pct(tally.latencies, 95):.0f} ms, "
              f"{ok / args.seconds:.1f} answers/s")
        if errors:
            print(f"  by status: {dict(tally.codes)}")

        survived = 0
        rows = []
        for number, (name, breaks, repairs) in enumerate(faults(pg, redis, chroma, apps)):
            recovery = [float("inf")]

            def episode(breaks: Callable[[], None] = breaks, repairs: Callable[[], None] = repairs) -> None:
                time.sleep(2)
                breaks()
                time.sleep(args.fault_seconds)
                started = time.monotonic()
                repairs()
                for app in apps:
                    wait_healthy(app)
                recovery[0] = time.monotonic() - started
                time.sleep(2)

            # Fresh addresses for each stretch: the load before used up its own buckets.
            t = run_load(apps, 8, episode, first_address=1000 + 10 * number)
            missing = lost(pg, t)
            fives = t.codes.get("500", 0)
            ok_fault = missing == 0 and fives == 0 and recovery[0] < 60
            survived += ok_fault
            other = {k: v for k, v in t.codes.items() if k != "200"}
            rows.append(f"  {'ok  ' if ok_fault else 'FAIL'} {name}: {len(t.acknowledged)} answered, "
                        f"refused meanwhile {other or 'none'}, {missing} acknowledged turns lost, "
                        f"healthy again {recovery[0]:.1f} s after repair")
        print(f"faults survived: {survived}/{len(rows)} (each under 8 clients; 503s while a store is down "
              f"are expected, 500s and lost turns are not)")
        print("\n".join(rows))

        tried = inputs(apps[1])
        codes = Counter(f"{r.status_code // 100}xx" for _, r in tried)
        tracebacks = sum(a.log().count("Traceback") for a in apps)
        print(f"inputs tried: {len(tried)}, answered {dict(codes)} (target: all 4xx), "
              f"tracebacks in the server logs: {tracebacks}")
        for what, resp in tried:
            if not 400 <= resp.status_code < 500:
                print(f"  {what}: {resp.status_code} {resp.text[:120]}")
        lat = tally.latencies
        if lat:
            print(f"(load latency mean {1000 * statistics.fmean(lat):.0f} ms over {len(lat)} answers)")


if __name__ == "__main__":
    main()
