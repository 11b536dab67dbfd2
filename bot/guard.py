"""ASGI guards in front of every route: request size limits, and which browser origins may call the API."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import anyio
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.settings import Settings

MAX_HEADER_BYTES = 16 * 1024  # request line and headers together; uvicorn refuses more before reading them
MAX_BODY_BYTES = 64 * 1024  # any /api/ request
MAX_PAGE_BODY_BYTES = 1024 * 1024  # the chat page sends its whole visible conversation with each message
BODY_TIMEOUT = 30.0  # seconds to receive a whole body: a trickled one must not hold a connection forever
NO_BODY = {"GET", "HEAD", "OPTIONS"}


def error_body(code: str, message: str) -> dict[str, Any]:
    """Return the JSON shape of every error."""
    return {"error": {"code": code, "message": message}}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """Return an error as a JSON response."""
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)


class RequestLimits:
    """Refuse oversized headers and bodies, and bodies sent too slowly, before any route sees them."""

    def __init__(self, app: ASGIApp, max_header_bytes: int = MAX_HEADER_BYTES) -> None:
        self.app, self.max_header_bytes = app, max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        size = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
        size += sum(len(k) + len(v) + 4 for k, v in scope["headers"])
        if size > self.max_header_bytes:
            await error_response(431, "headers_too_large", f"The request headers are too large (limit "
                                 f"{self.max_header_bytes} bytes).")(scope, receive, send)
            return
        limit = MAX_BODY_BYTES if scope["path"].startswith("/api/") else MAX_PAGE_BODY_BYTES
        headers = Headers(scope=scope)
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await _too_large(limit)(scope, receive, send)
            return
        if scope["method"] in NO_BODY and length is None and "transfer-encoding" not in headers:
            await self.app(scope, receive, send)
            return
        # Read the whole (small) body first: chunked uploads are counted, slow ones cut off.
        chunks: list[bytes] = []
        total = 0
        try:
            with anyio.fail_after(BODY_TIMEOUT):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return
                    chunk = message.get("body", b"")
                    total += len(chunk)
                    if total > limit:
                        await _too_large(limit)(scope, receive, send)
                        return
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            await error_response(408, "timeout", "The request body took too long to arrive.")(scope, receive, send)
            return
        await self.app(scope, replay_body(b"".join(chunks), receive), send)


def replay_body(body: bytes, receive: Receive) -> Receive:
    """Return a receive callable that gives an already read body once, then passes through."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: a disconnect, which streaming responses listen for

    return replay


def _too_large(limit: int) -> JSONResponse:
    return error_response(413, "too_large", f"The request body is too large (limit {limit} bytes).")


def _origin_of(url: str) -> str:
    """Return scheme://host[:port] of a URL, lower-cased."""
    parts = urlsplit(url.strip())
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else ""


class OriginPolicy:
    """Which browser origins may call the API: the app's own, PUBLIC_URL's, and ALLOWED_ORIGINS."""

    def __init__(self, origins: set[str], any_origin: bool = False) -> None:
        self.origins, self.any_origin = origins, any_origin

    @classmethod
    def from_settings(cls, settings: Settings) -> OriginPolicy:
        """Build the policy from settings."""
        listed = [o.strip() for o in settings.allowed_origins.split(",") if o.strip()]
        origins = {_origin_of(o) for o in listed if o != "*"} - {""}
        if settings.public_url and _origin_of(settings.public_url):
            origins.add(_origin_of(settings.public_url))
        return cls(origins, "*" in listed)

    def is_same_origin(self, origin: str, scope: Scope) -> bool:
        """Return True when the origin is the address the request was sent to."""
        host = Headers(scope=scope).get("host", "")
        return bool(host) and origin.lower() == f"{scope.get('scheme', 'http')}://{host}".lower()

    def allows(self, origin: str) -> bool:
        """Return True when a cross-origin caller may use the API."""
        return self.any_origin or origin.lower() in self.origins


class OriginGuard:
    """Refuse API calls from origins off the allow-list; add CORS headers for allowed ones."""

    def __init__(self, app: ASGIApp, policy: OriginPolicy) -> None:
        self.app, self.policy = app, policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        cross = origin is not None and not self.policy.is_same_origin(origin, scope)
        if cross and not self.policy.allows(origin):
            # No CORS headers: the browser keeps the page from reading anything of the API.
            await error_response(403, "origin_not_allowed",
                                 f"The site {origin} is not allowed to use this chat API.")(scope, receive, send)
            return
        cors = [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin"),
                (b"access-control-expose-headers", b"Retry-After, X-Profile")] if cross and origin else []
        if cross and scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            preflight = Response(status_code=204, headers={"Access-Control-Allow-Methods": "GET, POST, OPTIONS",
                                                           "Access-Control-Allow-Headers": "Content-Type",
                                                           "Access-Control-Max-Age": "600"})
            preflight.raw_headers.extend(cors)
            await preflight(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *cors]}
            await send(message)

        await self.app(scope, receive, send_with_cors if cors else send)
