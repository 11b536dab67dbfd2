"""Time the eligibility engine: one verdict, and loading + validating the rules file.

Run: .venv/bin/python bench/eligibility.py
"""
from __future__ import annotations

import statistics
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.eligibility import Engine, load_rules  # noqa: E402
from bot.settings import get_settings  # noqa: E402

AS_OF = date(2026, 11, 20)
# A mix of fully known profiles, missing facts and variant combining.
CASES = [
    ("Seedream 4.0", None, "premium", "annual", "2026-03-01"),
    ("nanobanana pro 4k", None, "plus", "monthly", "2025-11-25"),
    ("carat video", None, "max", "annual", "2026-06-01"),
    ("chatgpt image 2.0", None, "premium", "monthly", None),
    ("sora2", None, None, None, None),
    ("nanobanana 2", "1K", "pro", "annual", "2026-01-10"),
]


def percentile(samples: list[float], q: float) -> float:
    """Return the q-th percentile (0-100) of samples."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def time_verdicts(engine: Engine, rounds: int = 3000) -> list[float]:
    """Return per-verdict times in microseconds."""
    samples = []
    for n in range(rounds):
        model, variant, plan, billing, signup = CASES[n % len(CASES)]
        start = time.perf_counter()
        engine.evaluate(model, variant, plan, billing, signup, as_of=AS_OF)
        samples.append((time.perf_counter() - start) * 1e6)
    return samples


def time_loads(path: Path, rounds: int = 30) -> list[float]:
    """Return load+validate+compile times in milliseconds."""
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        Engine(load_rules(path))
        samples.append((time.perf_counter() - start) * 1e3)
    return samples


def main() -> None:
    """Print the figures."""
    from bot.threads import limit_native_threads

    limit_native_threads()  # as every entry point: one native thread per worker
    path = get_settings().rules_file
    engine = Engine.from_file(path)
    time_verdicts(engine, 300)  # warm caches
    verdict = time_verdicts(engine)
    load = time_loads(path)
    print(f"rules file: {path}")
    print(f"one verdict:   median {statistics.median(verdict):7.1f} µs   p95 {percentile(verdict, 95):7.1f} µs   (target: median <= 50 µs; {len(verdict)} runs)")
    print(f"load+validate: median {statistics.median(load):7.1f} ms   p95 {percentile(load, 95):7.1f} ms   (target: <= 50 ms; {len(load)} runs)")


if __name__ == "__main__":
    main()
