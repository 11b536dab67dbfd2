"""Re-index while `python app.py` serves: no failed request, the new generation is picked up without a restart."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.browser_helpers import serve_app
from tests.conftest import ROOT, run_cli
from tests.site_server import SiteServer

QUESTIONS = ["Why are my credits dropping?", "Is Seedream 4.0 unlimited for me?", "where do I see my active benefits",
             "시드림 4.0 무제한인가요?", "how do I get the free video model in Agent 2.0?"]
FIXTURE_PAGE = """---
title: Descaling the blue kettle
description: TEST FIXTURE page for the re-index tests; invented content, not Carat documentation.
---

## Descaling the blue kettle

Descale the blue kettle every forty boils with a spoon of citric acid.
"""
KETTLE = "how often should I descale the blue kettle?"
FIXTURE_SITE = ROOT / "tests" / "fixtures" / "site"


class Load:
    """Clients asking the app in a loop; every answer that is not a 200 is kept."""

    def __init__(self, base: str, clients: int) -> None:
        self.base, self.stop = base, threading.Event()
        self.ok, self.failures = 0, []  # type: ignore[var-annotated]
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(n,)) for n in range(clients)]

    def _run(self, n: int) -> None:
        with httpx.Client(timeout=60) as client:
            i = n
            while not self.stop.is_set():
                try:
                    path = "/healthz" if i % 4 == 3 else "/api/chat"
                    resp = (client.get(f"{self.base}{path}") if path == "/healthz"
                            else client.post(f"{self.base}{path}", json={"message": QUESTIONS[i % len(QUESTIONS)]}))
                    outcome = (resp.status_code, resp.text[:300])
                except httpx.HTTPError as err:
                    outcome = (0, repr(err))
                with self.lock:
                    if outcome[0] == 200:
                        self.ok += 1
                    else:
                        self.failures.append(outcome)
                i += 1

    def __enter__(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=120)


def _generation(base: str) -> int:
    return httpx.get(f"{base}/healthz", timeout=30).json()["generation"]


def _wait_generation(base: str, generation: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _generation(base) == generation:
            return
        time.sleep(0.2)
    pytest.fail(f"the app did not pick up generation {generation} (still on {_generation(base)})")


def _retrieved(base: str, question: str) -> list[str]:
    resp = httpx.post(f"{base}/api/chat", json={"message": question}, timeout=60)
    assert resp.status_code == 200, resp.text
    return [r["section_id"] for r in resp.json()["retrieved"]]


def _index(env: dict[str, str]) -> None:
    proc = run_cli("index", "--json", env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr


def _reindex_under_load(tmp_path: Path, pages_dir: Path, extra_env: dict[str, str], site: str = "") -> None:
    # A grace period of 0 drops the old generation's segments at once: readers must still never fail.
    env = {"PAGES_DIR": str(pages_dir), "DATA_DIR": str(tmp_path / "var"), "RATE_LIMIT_IP": "0",
           "RATE_LIMIT_SESSION": "0", "INDEX_GRACE_SECONDS": "0", **extra_env}
    _index(env)
    with serve_app(tmp_path / "var", env=env, log_path=tmp_path / "app.log", timeout=120) as base:
        assert _generation(base) == 1
        with Load(base, clients=4) as load:
            page = pages_dir / "kettle.mdx"
            page.write_text(FIXTURE_PAGE, encoding="utf-8")
            _index(env)
            _wait_generation(base, 2)
            assert "kettle#descaling-the-blue-kettle" in _retrieved(base, KETTLE)
            page.unlink()
            _index(env)
            _wait_generation(base, 3)
            assert "kettle#descaling-the-blue-kettle" not in _retrieved(base, KETTLE)
            if site:
                sync = run_cli("sync", "--json", env={**env, "DOCS_BASE_URL": site}, timeout=300)
                assert sync.returncode == 0, sync.stdout + sync.stderr
                _wait_generation(base, 4)
                assert "en/guide/kettle#descaling" in _retrieved(base, KETTLE)
            time.sleep(1)
        assert load.failures == [] and load.ok > 10
        log = (tmp_path / "app.log").read_text(errors="replace")
        assert "Error finding id" not in log and "Traceback" not in log


def test_reindex_and_sync_while_serving_embedded(tmp_path: Path, pages_dir: Path) -> None:
    with SiteServer(FIXTURE_SITE) as site:
        _reindex_under_load(tmp_path, pages_dir, {}, site.base_url)


def test_reindex_while_serving_chroma_server(tmp_path: Path, pages_dir: Path, chroma_server: int) -> None:
    _reindex_under_load(tmp_path, pages_dir, {"CHROMA_HOST": "127.0.0.1", "CHROMA_PORT": str(chroma_server)})
