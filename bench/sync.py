"""`bot sync` against a synthetic 50-page site on 127.0.0.1: first pull, no change, one page edited.

Usage: .venv/bin/python bench/sync.py [--pages 50]
Targets: a sync with no change <= 2 s (downloads and embeds nothing); a one-page edit re-embeds only
that page's changed chunks.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.synthetic import page_ids, page_text, write_site  # noqa: E402
from bot.ingest import load_chunks  # noqa: E402
from bot.settings import get_settings  # noqa: E402
from bot.store import Store  # noqa: E402
from bot.sync import sync_site  # noqa: E402


@contextmanager
def serve_site(folder: Path) -> Iterator[str]:
    """Serve the site from its own process (as a real site would be); yield its base URL, stop it by PID."""
    proc = subprocess.Popen([sys.executable, "-m", "tests.site_server", str(folder)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    try:
        yield (proc.stdout.readline() if proc.stdout else "").strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    """Serve a synthetic site, sync it three ways and print the figures."""
    from bot.threads import limit_native_threads

    limit_native_threads()  # as every entry point: one native thread per worker
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        site_dir = Path(tmp) / "site"
        write_site(site_dir, args.pages)
        with serve_site(site_dir) as base_url:
            cfg = get_settings(data_dir=Path(tmp) / "var", pages_dir=Path(tmp) / "pages", docs_base_url=base_url)
            store = Store(cfg)
            first = sync_site(cfg, store=store)
            print(f"first sync: {first.listed} pages, {first.index.chunks} chunks embedded, {first.seconds:.2f}s")

            times, results = [], []
            for _ in range(5):
                t = time.perf_counter()
                results.append(sync_site(cfg, store=store))
                times.append(time.perf_counter() - t)
            last = results[-1]
            print(f"sync, no change: median {statistics.median(times):.3f}s, max {max(times):.3f}s "
                  f"({last.requests} requests, {last.unchanged} pages unchanged, {last.downloaded_bytes} bytes downloaded, "
                  f"embedded {last.index.embedded}) (target <= 2 s, nothing downloaded or embedded)")

            index, lang, page_id = page_ids(args.pages)[0]
            before = {c.id for c in load_chunks(cfg.pages_path, cfg.docs_base_url, cfg.chunk_tokens, cfg.rules_file)
                      if c.page_id == page_id}
            (site_dir / f"{page_id}.md").write_text(page_text(index, lang, edit=1), encoding="utf-8")
            edited = sync_site(cfg, store=store)
            after = {c.id for c in load_chunks(cfg.pages_path, cfg.docs_base_url, cfg.chunk_tokens, cfg.rules_file)
                     if c.page_id == page_id}
            changed = len(after - before)
            print(f"sync, one page edited: {len(edited.changed)} page changed, embedded {edited.index.embedded} of "
                  f"{len(after)} chunks on that page ({changed} changed), {edited.seconds:.2f}s "
                  f"({'only the changed chunks' if edited.index.embedded == changed else 'MORE than the changed chunks'})")


if __name__ == "__main__":
    main()
