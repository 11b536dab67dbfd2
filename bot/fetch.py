"""Fetch the published help center over HTTP: the llms.txt index and each page's markdown copy."""
from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import unquote, urljoin, urlsplit

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

MAX_PAGE_BYTES = 2_000_000
RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 10.0
USER_AGENT = "carat-support-bot-sync/1"
LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
SEGMENT = re.compile(r"^\w[\w.-]*$", re.U)


class FetchError(Exception):
    """A request that did not give a usable answer, after retries."""


class _Retryable(Exception):
    """A response worth asking again for (429, 5xx), carrying its Retry-After."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Listed:
    """A page named by llms.txt: its page id (path under the site) and where its markdown is."""

    page_id: str
    url: str


@dataclass(frozen=True)
class Fetched:
    """One answer: 304 (not modified, no body) or 200 with the body and its validators."""

    status: int
    body: bytes = b""
    etag: str = ""
    last_modified: str = ""


def llms_urls(base_url: str) -> list[str]:
    """Return where llms.txt may be: under the docs base, then at the site's root."""
    base = base_url.rstrip("/")
    parts = urlsplit(base)
    root = f"{parts.scheme}://{parts.netloc}/llms.txt"
    return list(dict.fromkeys([f"{base}/llms.txt", root]))


def parse_llms(text: str, base_url: str) -> tuple[list[Listed], list[str]]:
    """Return the pages llms.txt lists under the docs base, and the links it lists elsewhere.

    A link to another host under the same docs path (the site's canonical domain, when DOCS_BASE_URL
    is a mirror) is fetched from DOCS_BASE_URL; with a docs base at the root, other hosts are skipped.
    """
    base = base_url.rstrip("/") + "/"
    base_parts = urlsplit(base)
    pages: dict[str, Listed] = {}
    skipped: list[str] = []
    for href in LINK.findall(text):
        url = urljoin(base, href.strip())
        parts = urlsplit(url)
        same_site = (parts.scheme, parts.netloc) == (base_parts.scheme, base_parts.netloc)
        if not parts.path.startswith(base_parts.path) or not (same_site or base_parts.path != "/"):
            skipped.append(url)
            continue
        path = unquote(parts.path[len(base_parts.path):]).strip("/")
        stem = re.sub(r"\.mdx?$", "", path)
        segments = stem.split("/")
        if not stem or not all(SEGMENT.match(s) and s not in (".", "..") for s in segments):
            skipped.append(url)
            continue
        md_url = f"{base_parts.scheme}://{base_parts.netloc}{parts.path}" + ("" if path != stem else ".md")
        pages.setdefault(stem, Listed(stem, md_url))
    return list(pages.values()), skipped


def _wait(state: RetryCallState) -> float:
    """Back off exponentially with jitter; a server's Retry-After wins, within a cap."""
    backoff = wait_exponential_jitter(multiplier=0.5, max=8, jitter=0.5)(state)
    exc = state.outcome.exception() if state.outcome else None
    if isinstance(exc, _Retryable) and exc.retry_after is not None:
        return min(max(exc.retry_after, 0.0), MAX_RETRY_AFTER)
    return backoff


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        try:
            return parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None


class Fetcher:
    """GET with conditional headers, bounded concurrency, a timeout per request and retries with backoff."""

    def __init__(self, *, concurrency: int, timeout: float, retries: int,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.concurrency = concurrency
        self.timeout = timeout
        self.retries = retries
        self.transport = transport
        self.requests = 0
        self.downloaded = 0

    def client(self) -> httpx.AsyncClient:
        """Return an HTTP client sized to the concurrency."""
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        return httpx.AsyncClient(timeout=httpx.Timeout(self.timeout), limits=limits, transport=self.transport,
                                 headers={"User-Agent": USER_AGENT}, follow_redirects=True)

    async def get(self, client: httpx.AsyncClient, url: str, etag: str = "", last_modified: str = "") -> Fetched:
        """Fetch url; 304 when the validators still match; raise FetchError when it cannot be had."""
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            async for attempt in AsyncRetrying(stop=stop_after_attempt(self.retries + 1), wait=_wait, reraise=True,
                                               retry=retry_if_exception_type((_Retryable, httpx.TransportError))):
                with attempt:
                    return await self._once(client, url, headers)
        except _Retryable as err:
            raise FetchError(str(err)) from None
        except httpx.TimeoutException:
            raise FetchError(f"no answer within {self.timeout:g} s") from None
        except httpx.TransportError as err:
            raise FetchError(f"cannot connect ({type(err).__name__})") from None
        raise FetchError("no attempt was made")  # pragma: no cover - tenacity always attempts once

    async def _once(self, client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> Fetched:
        self.requests += 1
        async with client.stream("GET", url, headers=headers) as resp:
            if resp.status_code == 304:
                return Fetched(304)
            if resp.status_code in RETRY_STATUS:
                raise _Retryable(f"HTTP {resp.status_code}", _retry_after(resp.headers.get("retry-after")))
            if resp.status_code != 200:
                raise FetchError(f"HTTP {resp.status_code}")
            if "html" in resp.headers.get("content-type", "").lower():
                raise FetchError("the server sent an HTML page, not markdown")
            body = bytearray()
            async for part in resp.aiter_bytes():
                body += part
                if len(body) > MAX_PAGE_BYTES:
                    raise FetchError(f"larger than {MAX_PAGE_BYTES} bytes")
            self.downloaded += len(body)
            return Fetched(200, bytes(body), resp.headers.get("etag", ""), resp.headers.get("last-modified", ""))
