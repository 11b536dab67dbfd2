"""HTTP layer: chat as JSON and as Server-Sent Events, feedback, health, the widget script."""
from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from typing import Any, Literal
from urllib.parse import urlsplit

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.errors import BotError, InputError
from bot.service import MAX_MESSAGE_CHARS, SupportBot, make_bot
from bot.settings import Settings, get_settings
from bot.types import Answer, Profile, StreamEvent
from bot.widget import accepted_profile, widget_script

log = logging.getLogger("bot.api")

MAX_BODY_BYTES = 64 * 1024
SESSION_PATTERN = r"^[A-Za-z0-9_-]{8,64}$"
GENERIC_ERROR = "Something went wrong on our side. Please try again in a moment."
_DONE = object()


class ApiError(Exception):
    """An HTTP error with a status, a stable code and a plain message."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


class Workers:
    """Run the bot's blocking calls in threads, at most `capacity` at once, first come first served."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._limiter: anyio.CapacityLimiter | None = None

    async def run(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Call fn in a worker thread; a bounded, fair queue keeps latency even under load."""
        if self._limiter is None:  # made lazily: it needs the running event loop
            self._limiter = anyio.CapacityLimiter(self.capacity)
        return await anyio.to_thread.run_sync(lambda: fn(*args, **kwargs), limiter=self._limiter)


def error_body(code: str, message: str) -> dict[str, Any]:
    """Return the JSON shape of every error."""
    return {"error": {"code": code, "message": message}}


class RateLimiter:
    """Sliding one-minute windows per IP address and per conversation, in memory."""

    WINDOW = 60.0

    def __init__(self, per_ip: int, per_session: int, clock: Any = time.monotonic) -> None:
        self.limits = {"ip": per_ip, "session": per_session}
        self.clock = clock
        self.hits: dict[tuple[str, str], deque[float]] = {}
        self.lock = threading.Lock()

    def check(self, ip: str, session_id: str | None) -> None:
        """Count one request, or raise a 429 ApiError with the seconds to wait."""
        keys = [("ip", ip)] + ([("session", session_id)] if session_id else [])
        now = self.clock()
        with self.lock:
            if len(self.hits) > 50_000:
                self._sweep(now)
            for key in keys:
                limit = self.limits[key[0]]
                window = self.hits.setdefault(key, deque())
                while window and now - window[0] >= self.WINDOW:
                    window.popleft()
                if limit and len(window) >= limit:
                    wait = max(1, math.ceil(window[0] + self.WINDOW - now))
                    what = "this conversation" if key[0] == "session" else "your address"
                    raise ApiError(429, "rate_limited", f"Too many messages from {what}: the limit is {limit} a minute. "
                                                        f"Try again in {wait} seconds.", {"Retry-After": str(wait)})
            for key in keys:
                self.hits[key].append(now)

    def _sweep(self, now: float) -> None:
        """Forget keys idle for a whole window, so memory stays bounded."""
        for key in [k for k, w in self.hits.items() if not w or now - w[-1] >= self.WINDOW]:
            del self.hits[key]


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


class GuardMiddleware:
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
            body = error_body("origin_not_allowed", f"The site {origin} is not allowed to use this chat API.")
            await JSONResponse(body, status_code=403)(scope, receive, send)
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

        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_BODY_BYTES:
            # Refused before reading: a JSON error the widget can show (route limits catch chunked bodies).
            too_big = JSONResponse(error_body("too_large", f"The request body is too large (limit {MAX_BODY_BYTES} bytes)."),
                                   status_code=413)
            too_big.raw_headers.extend(cors)
            await too_big(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *cors]}
            await send(message)

        await self.app(scope, receive, send_with_cors if cors else send)


class ProfileIn(BaseModel):
    """A customer profile as sent by a client: raw strings, so a signature covers exactly them."""

    model_config = ConfigDict(extra="forbid")

    plan: str | None = Field(None, max_length=40, description="Plus, Premium, Max, Pro or Business.")
    billing: str | None = Field(None, max_length=40, description="monthly or annual.")
    signup_date: str | None = Field(None, max_length=40, description="Date the customer joined (YYYY-MM-DD).")


class ChatRequest(BaseModel):
    """One customer message, with optional conversation and profile."""

    model_config = ConfigDict(extra="forbid")

    message: str = Field(description=f"The customer's message (at most {MAX_MESSAGE_CHARS} characters).")
    session_id: str | None = Field(None, description="Conversation id from an earlier answer; omit to start one.")
    profile: ProfileIn | None = Field(None, description="What the host site knows of the customer's subscription.")
    profile_sig: str | None = Field(None, max_length=128, description="Hex HMAC-SHA256 of the profile (required when WIDGET_SECRET is set).")
    profile_expires: int | None = Field(None, description="Unix time after which the profile signature is refused.")


class FeedbackRequest(BaseModel):
    """A thumbs up or down on one answer."""

    model_config = ConfigDict(extra="forbid")

    session_id: str = Field(pattern=SESSION_PATTERN)
    turn_id: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")
    rating: Literal["up", "down"]
    comment: str | None = Field(None, max_length=2000)


def _client_ip(request: Request) -> str:
    """Return the caller's address (uvicorn resolves trusted proxy headers into it)."""
    return request.client.host if request.client else "unknown"


def _sse(event: str, data: Any) -> str:
    """Return one Server-Sent Event (data: a JSON-able value or JSON text already)."""
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"event: {event}\ndata: {text}\n\n"


def _event_payload(ev: StreamEvent) -> tuple[str, Any]:
    """Return the SSE name and data of a stream event."""
    if ev.type == "token":
        return "token", {"text": ev.text}
    if ev.type == "final" and ev.answer is not None:
        return "final", ev.answer.model_dump_json()
    return "error", {"error": ev.error or {"code": "internal", "message": GENERIC_ERROR}}


async def _stream_body(first: StreamEvent, events: Iterator[StreamEvent], workers: Workers) -> AsyncIterator[str]:
    """Yield SSE text for a bot stream, turning a late failure into an error event."""
    yield _sse(*_event_payload(first))
    while True:
        try:
            ev = await workers.run(next, events, _DONE)
        except BotError as exc:
            yield _sse("error", exc.to_dict())
            return
        except Exception:
            log.exception("chat stream failed")
            yield _sse("error", error_body("internal", GENERIC_ERROR))
            return
        if ev is _DONE:
            return
        yield _sse(*_event_payload(ev))


def _validation_message(exc: RequestValidationError) -> tuple[str, list[dict[str, str]]]:
    """Return a plain summary of a request validation failure (never echoing the input)."""
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return "The request body is not valid JSON.", []
    fields = [{"field": ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body", "problem": str(e.get("msg", ""))}
              for e in errors]
    return "Invalid request: " + "; ".join(f"{f['field']}: {f['problem']}" for f in fields), fields


def install_error_handlers(app: FastAPI) -> None:
    """Answer every failure as {"error": {"code", "message"}}, never with a stack trace."""

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(InputError)
    async def _input(request: Request, exc: InputError) -> JSONResponse:
        return JSONResponse(exc.to_dict(), status_code=400)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, fields = _validation_message(exc)
        body = error_body("invalid_request", message)
        if fields:
            body["error"]["fields"] = fields
        return JSONResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}
        message = "The request body is too large." if exc.status_code == 413 else str(exc.detail)
        return JSONResponse(error_body(codes.get(exc.status_code, "http_error"), message),
                            status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body("internal", GENERIC_ERROR), status_code=500)


def add_routes(app: FastAPI, bot: SupportBot, settings: Settings, limiter: RateLimiter, policy: OriginPolicy) -> None:
    """Add the API routes; each one parses, limits, calls the bot and serialises."""

    # Offline answers are CPU-bound: threads beyond the cores only fight over the GIL and widen the tail.
    capacity = settings.chat_concurrency if bot.mode == "llm" else min(settings.chat_concurrency, max(2, os.cpu_count() or 2))
    workers = Workers(capacity)

    def admit(request: Request, req: ChatRequest) -> tuple[Profile | None, str]:
        if isinstance(req.message, str) and len(req.message.strip()) > MAX_MESSAGE_CHARS:
            raise ApiError(413, "too_large", f"The message is too long ({len(req.message.strip())} characters; "
                                             f"the limit is {MAX_MESSAGE_CHARS}).")
        limiter.check(_client_ip(request), req.session_id)
        raw = req.profile.model_dump() if req.profile else None
        return accepted_profile(raw, req.profile_sig, req.profile_expires, settings.widget_secret)

    @app.post("/api/chat", tags=["chat"], max_body_size=MAX_BODY_BYTES, response_model=Answer)
    async def chat(request: Request, req: ChatRequest) -> Response:
        """Answer one message; returns the whole Answer as JSON."""
        profile, status = admit(request, req)
        answer = await workers.run(bot.ask, req.message, session_id=req.session_id, profile=profile)
        # Serialised by pydantic directly: FastAPI's generic encoder costs more than the offline answer.
        return Response(answer.model_dump_json(), media_type="application/json", headers={"X-Profile": status})

    @app.post("/api/chat/stream", tags=["chat"], max_body_size=MAX_BODY_BYTES,
              response_class=StreamingResponse,
              responses={200: {"content": {"text/event-stream": {}},
                               "description": "`token` events ({text}), then one `final` event (the Answer), "
                                              "or an `error` event ({error: {code, message}})."}})
    async def chat_stream(request: Request, req: ChatRequest) -> StreamingResponse:
        """Answer one message as Server-Sent Events: token deltas, then the final Answer."""
        profile, status = admit(request, req)
        events = bot.stream(req.message, session_id=req.session_id, profile=profile)
        # Pull the first event here so bad input still gets a plain JSON 400, not a broken stream.
        first = await workers.run(next, events, _DONE)
        if first is _DONE:
            raise RuntimeError("the answer stream ended without a final event")
        return StreamingResponse(_stream_body(first, events, workers), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "X-Profile": status})

    @app.post("/api/feedback", tags=["chat"], max_body_size=MAX_BODY_BYTES)
    async def feedback(request: Request, req: FeedbackRequest) -> dict[str, Any]:
        """Store a thumbs up/down (and an optional comment) on one answer."""
        limiter.check(_client_ip(request), None)
        try:
            await workers.run(bot.feedback, req.session_id, req.turn_id, req.rating, req.comment)
        except InputError:
            # Every other field was checked by the request model: what is left is an unknown turn.
            raise ApiError(404, "not_found", "No such answer in this conversation.") from None
        return {"ok": True}

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> JSONResponse:
        """Report whether search can answer, the index generation it serves, and which answer mode is on."""
        index, generation, problem = await anyio.to_thread.run_sync(_index_health, bot)
        body = {"status": "ok" if index else "degraded", "index": index, "generation": generation, "mode": bot.mode}
        if problem:
            body["problem"] = problem
        return JSONResponse(body, status_code=200 if index else 503)

    script = widget_script(sorted(policy.origins), policy.any_origin, settings.support_url)

    @app.get("/widget.js", tags=["widget"], response_class=Response)
    async def widget_js() -> Response:
        """Serve the embeddable chat widget."""
        return Response(script, media_type="application/javascript; charset=utf-8",
                        headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"})


def _index_health(bot: SupportBot) -> tuple[bool, int | None, str]:
    """Return whether search can answer now, the generation it answers from, and why not."""
    try:
        health = bot.retriever.health()
    except Exception:
        log.exception("index check failed")
        return False, None, "the index check failed"
    return health.ok, health.generation, health.problem


def create_app(settings: Settings | None = None, bot: SupportBot | None = None, *, web: bool = True) -> FastAPI:
    """Build the web app: API routes and the widget first, the Gradio page mounted at / last."""
    settings = settings or get_settings()
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    bot = bot or make_bot(settings, ensure_index=True)
    limiter = RateLimiter(per_ip=settings.rate_limit_ip, per_session=settings.rate_limit_session)
    policy = OriginPolicy.from_settings(settings)
    app = FastAPI(title="Carat support", version="1.0",
                  description="Answers questions about Carat from the help center; checks unlimited-model eligibility.")
    app.state.bot, app.state.settings, app.state.limiter = bot, settings, limiter
    install_error_handlers(app)
    add_routes(app, bot, settings, limiter, policy)
    app.add_middleware(GuardMiddleware, policy=policy)
    if web:
        from bot.web import mount_web

        app = mount_web(app, bot, settings, limiter)
    return app
