"""A local help-center site for tests and benches: serves a folder like a Mintlify site on 127.0.0.1.

`/docs/llms.txt` and `/docs/<path>.md` come from files under the folder; answers carry an ETag and
Last-Modified and honour If-None-Match / If-Modified-Since (304). Faults can be scripted per path.
"""
from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

PREFIX = "/docs/"


class _Server(ThreadingHTTPServer):
    # The default backlog (5) drops connections when a sync opens several at once: a 1 s SYN retry.
    request_queue_size = 128
    daemon_threads = True


class SiteServer:
    """Serve `root` at http://127.0.0.1:PORT/docs/ until stopped; count requests and bodies sent."""

    def __init__(self, root: Path, *, etags: bool = True) -> None:
        self.root = root
        self.etags = etags
        self.faults: dict[str, list[int]] = {}   # path -> statuses to answer first, one per request
        self.delays: dict[str, float] = {}       # path -> seconds to wait before answering
        self.content_types: dict[str, str] = {}  # path -> Content-Type instead of text/markdown
        self.requests: list[tuple[str, int]] = []
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """Return the docs base URL (what DOCS_BASE_URL is set to)."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/docs"

    def __enter__(self) -> SiteServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def statuses(self) -> Counter[int]:
        """Return how many answers of each status were sent."""
        with self._lock:
            return Counter(status for _, status in self.requests)

    def reset(self) -> None:
        """Forget the requests seen so far."""
        with self._lock:
            self.requests.clear()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real site

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                path = unquote(urlsplit(self.path).path)
                delay = site.delays.get(path)
                if delay:
                    time.sleep(delay)
                with site._lock:
                    queued = site.faults.get(path)
                    fault = queued.pop(0) if queued else None
                if fault is not None:
                    self._send(fault, b"temporarily unavailable", path, {"Retry-After": "0"})
                    return
                file = site.root / path[len(PREFIX):] if path.startswith(PREFIX) else None
                if file is None or ".." in Path(path).parts or not file.is_file():
                    self._send(404, b"not found", path)
                    return
                body = file.read_bytes()
                etag = f'"{hashlib.sha1(body).hexdigest()}"'
                mtime = int(file.stat().st_mtime)
                headers = {"Last-Modified": formatdate(mtime, usegmt=True)}
                if site.etags:
                    headers["ETag"] = etag
                    if self.headers.get("If-None-Match") == etag:
                        self._send(304, b"", path, headers)
                        return
                since = self.headers.get("If-Modified-Since")
                if since and not self.headers.get("If-None-Match"):
                    try:
                        if mtime <= parsedate_to_datetime(since).timestamp():
                            self._send(304, b"", path, headers)
                            return
                    except (TypeError, ValueError):
                        pass
                self._send(200, body, path, headers)

            def _send(self, status: int, body: bytes, path: str, headers: dict[str, str] | None = None) -> None:
                with site._lock:
                    site.requests.append((path, status))
                self.send_response(status)
                self.send_header("Content-Type", site.content_types.get(path, "text/markdown; charset=utf-8"))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                if status != 304:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if status != 304:
                    self.wfile.write(body)

        return Handler


def main() -> None:
    """Serve a folder until killed: `python -m tests.site_server FOLDER` prints the base URL first."""
    import sys

    with SiteServer(Path(sys.argv[1])) as site:
        print(site.base_url, flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()
