"""Synthetic help centers of 10, 100 and 1,000 pages: index, re-index, start-up, first requests, search, answers, memory.

Usage: .venv/bin/python bench/scale.py [--sizes 10,100,1000] [--keep DIR]
With --keep, folders (pages and index) stay in DIR and a later run reuses an index already built there.
Targets at 1,000 pages: start-up <= 5 s with the index present, search p50 <= 2x the 10-page figure,
RSS <= 600 MB, first request after start or re-index <= 2x a warm request, no-change re-index <= 1 s.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.synthetic import page_ids, page_text, write_pages  # noqa: E402
from bench.web import rss_mb, start_app, stop  # noqa: E402

SYNTHETIC_QUESTIONS = ["why does amber 0 basil?", "how do I fold the cobalt dune", "what is a quartz summit 2",
                       "harbor indigo juniper detail", "시드림 4.0 무제한인가요?"]


def _questions() -> list[str]:
    data = yaml.safe_load((ROOT / "eval" / "retrieval_questions.yaml").read_text(encoding="utf-8"))
    return [q["q"] for q in data["questions"]][:30] + SYNTHETIC_QUESTIONS


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def _disk_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6


def _ask(base: str, question: str) -> float:
    t0 = time.perf_counter()
    resp = httpx.post(f"{base}/api/chat", json={"message": question}, timeout=120)
    resp.raise_for_status()
    return time.perf_counter() - t0


def _edit(pages: Path, n: int, edit: int) -> None:
    index, lang, page_id = page_ids(n)[n // 2]
    (pages / f"{page_id}.mdx").write_text(page_text(index, lang, edit=edit), encoding="utf-8")


def run(n: int, folder: Path, questions: list[str]) -> dict[str, float]:
    """Measure one help-center size; print its figures and return the ones compared across sizes."""
    from bot.retrieval import Glossary, QueryCache, Retriever
    from bot.service import make_bot
    from bot.settings import get_settings
    from bot.store import Store, build_index

    pages, data = folder / "pages", folder / "var"
    if not pages.exists():
        shutil.copytree(ROOT / "knowledge" / "help-center", pages)
        write_pages(pages, n)
    settings = get_settings(pages_dir=pages, data_dir=data)
    store = Store(settings)
    if store.manifest() is None:
        t0 = time.perf_counter()
        full = build_index(settings, store)
        full_line = f"full index {time.perf_counter() - t0:.1f} s, embedded {full.embedded}"
    else:
        t0 = time.perf_counter()
        caught_up = build_index(settings, store)  # a kept index built by other code is brought up to date first
        full_line = (f"full index reused (--keep), brought up to date in {time.perf_counter() - t0:.1f} s "
                     f"(embedded {caught_up.embedded}, copied {caught_up.copied})")
    noop = []
    for _ in range(3):
        t0 = time.perf_counter()
        report = build_index(settings, store)
        noop.append(time.perf_counter() - t0)
    _edit(pages, n, edit=int(time.time()))
    t0 = time.perf_counter()
    one = build_index(settings, store)
    one_s = time.perf_counter() - t0
    print(f"{n} pages, {report.chunks} chunks: {full_line}; no-change re-index median {statistics.median(noop):.3f} s "
          f"(target <= 1 s); one page edited {one_s:.2f} s (embedded {one.embedded}, parsed {one.parsed} page)")

    retriever = Retriever(store, Glossary.load(settings.glossary_file))
    retriever.vectors = QueryCache(0)  # every query embedded, in both rounds: search work is what is measured
    t0 = time.perf_counter()
    retriever.load()
    load_s = time.perf_counter() - t0
    search = []
    for _ in range(2):
        for q in questions:
            t0 = time.perf_counter()
            retriever.search(q, k=5)
            search.append(time.perf_counter() - t0)
    bot = make_bot(settings)
    answers = []
    for q in questions:
        t0 = time.perf_counter()
        bot.ask(q)
        answers.append(time.perf_counter() - t0)
    print(f"  in-process: generation load {load_s:.2f} s; search p50 {_pct(search, 50):.1f} ms p95 {_pct(search, 95):.1f} ms; "
          f"answer p50 {_pct(answers, 50):.1f} ms p95 {_pct(answers, 95):.1f} ms")

    env = {**os.environ, "DATA_DIR": str(data), "PAGES_DIR": str(pages), "RATE_LIMIT_IP": "0",
           "RATE_LIMIT_SESSION": "0", "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1",
           "HF_HUB_DISABLE_TELEMETRY": "1"}
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        env.pop(var, None)
    proc, base, startup = start_app(env, folder / "app.log", timeout=300)
    try:
        rss_start = rss_mb(proc.pid, "VmRSS")
        first = _ask(base, questions[1])
        warm = statistics.median([_ask(base, q) for q in questions[:20]])
        generation = httpx.get(f"{base}/healthz", timeout=10).json()["generation"]
        _edit(pages, n, edit=int(time.time()) + 1)
        build_index(settings, store)  # another process publishes a new generation while the app serves
        right_after = _ask(base, questions[2])
        deadline = time.perf_counter() + 120
        while httpx.get(f"{base}/healthz", timeout=10).json()["generation"] == generation:
            if time.perf_counter() > deadline:
                raise SystemExit("the app did not pick up the new generation")
            time.sleep(0.05)
        on_new = _ask(base, questions[3])
        rss_peak = rss_mb(proc.pid, "VmHWM")
    finally:
        stop(proc)
    print(f"  app: start-up to healthy {startup:.2f} s (target <= 5 s at 1,000 pages); RSS {rss_start:.0f} MB after start, "
          f"peak {rss_peak:.0f} MB (target <= 600 MB); disk {_disk_mb(data):.0f} MB")
    print(f"  app: warm request {warm * 1000:.0f} ms; first after start {first * 1000:.0f} ms ({first / warm:.1f}x); "
          f"first after a re-index {right_after * 1000:.0f} ms ({right_after / warm:.1f}x), first on the new "
          f"generation {on_new * 1000:.0f} ms ({on_new / warm:.1f}x) (target <= 2x)")
    return {"search_p50": _pct(search, 50)}


def main() -> None:
    """Run every size and compare search latency with the smallest."""
    from bot.threads import limit_native_threads

    limit_native_threads()  # as every entry point: one native thread per worker, all cores for index batches
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--keep", type=Path, default=None, help="keep (and reuse) pages and indexes in this folder")
    args = parser.parse_args()
    questions = _questions()
    results = {}
    with tempfile.TemporaryDirectory(prefix="carat-scale-") as tmp:
        root = args.keep or Path(tmp)
        for n in (int(s) for s in args.sizes.split(",")):
            results[n] = run(n, root / f"pages-{n}", questions)
    smallest = min(results)
    for n, r in results.items():
        if n != smallest:
            ratio = r["search_p50"] / results[smallest]["search_p50"]
            print(f"search p50 at {n} pages: {ratio:.2f}x the {smallest}-page figure (target <= 2x)")


if __name__ == "__main__":
    main()
