"""HTTP layer: chat as JSON and as Server-Sent Events, feedback, health, the widget script."""
from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.conversation import StorageUnavailable, check_session_id
from bot.errors import BotError, InputError
from bot.guard import MAX_BODY_BYTES, OriginGuard, OriginPolicy, RequestLimits, error_body, error_response
from bot.handoff import UnknownConversation
from bot.health import (SEARCH_UNAVAILABLE, Check, check_database, check_disk, check_index, check_rate_limits,
                        is_search_failure, summarise)
from bot.limits import RateLimited, RateLimiter
from bot.service import (MAX_COMMENT_CHARS, MAX_EMAIL_CHARS, MAX_MESSAGE_CHARS, SupportBot, check_message, check_text,
                         make_bot)
from bot import timing
from bot.settings import Settings, get_settings
from bot.types import Answer, Handoff, Profile, StreamEvent
from bot.widget import accepted_profile, widget_script

log = logging.getLogger("bot.api")

SESSION_PATTERN = r"^[A-Za-z0-9_-]{8,64}$"
GENERIC_ERROR = "Something went wrong on our side. Please try again in a moment."
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
HEALTH_TIMEOUT = 3.0  # seconds per check: a hung database must not hang the probe
HEALTH_REUSE = 1.0  # seconds a health result is reused: probing in a loop must not load the database
_DONE = object()


class ApiError(Exception):
    """An HTTP error with a status, a stable code and a plain message."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


class Workers:
    """Run the bot's blocking calls in threads, at most `capacity` at once, first come first served.

    At most `queue` requests wait for a thread; one more is refused at once (503 with Retry-After)
    rather than waiting seconds behind the others: beyond capacity a client learns it quickly.
    """

    def __init__(self, capacity: int, queue: int) -> None:
        self.capacity = capacity
        self.queue = queue
        self._limiter: anyio.CapacityLimiter | None = None
        self.refused = 0

    async def run(self, fn: Any, *args: Any, admit: bool = True, **kwargs: Any) -> Any:
        """Call fn in a worker thread; a new request (`admit`) is refused when the queue is full."""
        if self._limiter is None:  # made lazily: it needs the running event loop
            self._limiter = anyio.CapacityLimiter(self.capacity)
        if admit and self._limiter.statistics().tasks_waiting >= self.queue:
            self.refused += 1
            raise ApiError(503, "busy", "The assistant is busy right now. Please try again in a moment.",
                           {"Retry-After": "1"})
        waiting = time.perf_counter()

        def call() -> Any:
            timing.add("queue", (time.perf_counter() - waiting) * 1000)  # waited for a worker thread
            return fn(*args, **kwargs)

        return await anyio.to_thread.run_sync(call, limiter=self._limiter)


@dataclass
class Admission:
    """What a chat request may use once it passed validation and the rate limits."""

    profile: Profile | None
    status: str
    session_id: str | None
    signed: bool
    expires: int | None


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
    session_id: str | None = Field(None, description="Conversation id from an earlier answer; omit to start one. "
                                                     "An id the server did not issue starts a new conversation.")
    profile: ProfileIn | None = Field(None, description="What the host site knows of the customer's subscription.")
    profile_sig: str | None = Field(None, max_length=128, description="Hex HMAC-SHA256 of the profile (required when WIDGET_SECRET is set).")
    profile_expires: int | None = Field(None, description="Unix time after which the profile signature is refused.")


class HandoffRequest(BaseModel):
    """A customer asking for a person from the form: the address to reply to, and consent to send it."""

    model_config = ConfigDict(extra="forbid")

    session_id: str = Field(pattern=SESSION_PATTERN, description="The conversation to pass on.")
    email: str | None = Field(None, max_length=MAX_EMAIL_CHARS, description="Where Carat support should reply "
                              "(required when a support desk is configured).")
    consent: bool = Field(False, description="The customer agreed that the conversation, plan details and address are sent.")
    profile: ProfileIn | None = Field(None, description="What the host site knows of the customer's subscription.")
    profile_sig: str | None = Field(None, max_length=128, description="Hex HMAC-SHA256 of the profile (WIDGET_SECRET).")
    profile_expires: int | None = Field(None, description="Unix time after which the profile signature is refused.")


class HandoffResult(BaseModel):
    """What became of a handoff (or of a rating that offers one): its state and the sentence to show."""

    ok: bool = True
    handoff: Handoff | None = None
    message: str = Field("", description="Markdown to show the customer (empty when nothing changed).")


class FeedbackRequest(BaseModel):
    """A thumbs up or down on one answer."""

    model_config = ConfigDict(extra="forbid")

    session_id: str = Field(pattern=SESSION_PATTERN)
    turn_id: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")
    rating: Literal["up", "down"]
    comment: str | None = Field(None, max_length=MAX_COMMENT_CHARS)


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
            ev = await workers.run(next, events, _DONE, admit=False)  # a started answer is finished
        except Exception as exc:
            yield _sse("error", _failure(exc, "chat stream")[1])
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


def _failure(exc: Exception, where: str) -> tuple[int, dict[str, Any]]:
    """Return the status and JSON body for an unexpected failure: search down, store down, or a bug."""
    if isinstance(exc, InputError):
        return 400, exc.to_dict()
    if isinstance(exc, StorageUnavailable):
        return 503, error_body("unavailable", exc.message)
    if is_search_failure(exc):
        # The search index (embedded store or Chroma server) failed: say so, not "something went wrong".
        log.warning("%s: search index unavailable (%s: %s)", where, type(exc).__name__, str(exc)[:200])
        return 503, error_body("search_unavailable", SEARCH_UNAVAILABLE)
    log.error("%s failed", where, exc_info=exc)
    return 500, error_body("internal", GENERIC_ERROR)


def install_error_handlers(app: FastAPI) -> None:
    """Answer every failure as {"error": {"code", "message"}}, never with a stack trace."""

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(InputError)
    async def _input(request: Request, exc: InputError) -> JSONResponse:
        return JSONResponse(exc.to_dict(), status_code=400)

    @app.exception_handler(RateLimited)
    async def _limited(request: Request, exc: RateLimited) -> JSONResponse:
        return error_response(429, exc.code, exc.message, {"Retry-After": str(exc.retry_after)})

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
        return error_response(exc.status_code, codes.get(exc.status_code, "http_error"), message,
                              getattr(exc, "headers", None))

    @app.exception_handler(BotError)
    async def _bot(request: Request, exc: BotError) -> JSONResponse:
        status, body = _failure(exc, f"{request.method} {request.url.path}")
        return JSONResponse(body, status_code=status)


class HttpMiddleware:
    """A pure ASGI middleware that looks at HTTP requests only (the others pass through untouched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.http(scope, receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


class ServerTiming(HttpMiddleware):
    """Record where each request's time goes and send it as a Server-Timing header (SERVER_TIMING)."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        record = timing.begin()

        async def stamp(message: Message) -> None:
            if message["type"] == "http.response.start":
                value = timing.header(record, (time.perf_counter() - started) * 1000)
                message = {**message, "headers": [*message.get("headers", []), (b"server-timing", value.encode())]}
            await send(message)

        await self.app(scope, receive, stamp)


class Failsafe(HttpMiddleware):
    """Turn any exception a route lets escape into the JSON error (Starlette's own handler re-raises it)."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            status, body = _failure(exc, f"{scope['method']} {scope['path'][:100]}")
            if not started:
                await JSONResponse(body, status_code=status)(scope, receive, send)


def add_routes(app: FastAPI, bot: SupportBot, settings: Settings, limiter: RateLimiter, policy: OriginPolicy) -> None:
    """Add the API routes; each one validates, limits, calls the bot and serialises."""

    # Offline answers are CPU-bound: threads beyond the cores only fight over the GIL and widen the tail.
    capacity = settings.chat_concurrency if bot.mode == "llm" else min(settings.chat_concurrency, max(2, os.cpu_count() or 2))
    workers = Workers(capacity, settings.chat_queue)

    async def admit(request: Request, req: ChatRequest) -> Admission:
        # Everything that needs no I/O is checked first: a refused request is never counted or stored.
        if isinstance(req.message, str) and len(req.message.strip()) > MAX_MESSAGE_CHARS:
            raise ApiError(413, "too_large", f"The message is too long ({len(req.message.strip())} characters; "
                                             f"the limit is {MAX_MESSAGE_CHARS}).")
        check_message(req.message)
        if req.session_id is not None:
            check_session_id(req.session_id)
        raw = req.profile.model_dump() if req.profile else None
        profile, status = accepted_profile(raw, req.profile_sig, req.profile_expires, settings.widget_secret)
        bot.check_profile(profile)
        await anyio.to_thread.run_sync(limiter.hit_ip, _client_ip(request))
        # Only a conversation the server issued has a bucket; any other id starts a new conversation.
        session_id = await anyio.to_thread.run_sync(bot.known_session, req.session_id)
        if session_id is not None:
            await anyio.to_thread.run_sync(limiter.hit_session, session_id)
        signed = bool(settings.widget_secret) and status == "accepted"
        return Admission(profile, status, session_id, signed, req.profile_expires if signed else None)

    def ask_kwargs(a: Admission) -> dict[str, Any]:
        return {"session_id": a.session_id, "profile": a.profile, "signed": a.signed, "signed_expires": a.expires}

    @app.post("/api/chat", tags=["chat"], max_body_size=MAX_BODY_BYTES, response_model=Answer)
    async def chat(request: Request, req: ChatRequest) -> Response:
        """Answer one message; returns the whole Answer as JSON."""
        with timing.phase("admit"):
            admitted = await admit(request, req)
        answer = await workers.run(bot.ask, req.message, **ask_kwargs(admitted))
        # Serialised by pydantic directly: FastAPI's generic encoder costs more than the offline answer.
        with timing.phase("serialize"):
            body = answer.model_dump_json()
        return Response(body, media_type="application/json", headers={"X-Profile": admitted.status})

    @app.post("/api/chat/stream", tags=["chat"], max_body_size=MAX_BODY_BYTES,
              response_class=StreamingResponse,
              responses={200: {"content": {"text/event-stream": {}},
                               "description": "`token` events ({text}), then one `final` event (the Answer), "
                                              "or an `error` event ({error: {code, message}})."}})
    async def chat_stream(request: Request, req: ChatRequest) -> StreamingResponse:
        """Answer one message as Server-Sent Events: token deltas, then the final Answer."""
        admitted = await admit(request, req)
        events = bot.stream(req.message, **ask_kwargs(admitted))
        # Pull the first event here so bad input still gets a plain JSON 400, not a broken stream.
        first = await workers.run(next, events, _DONE)
        if first is _DONE:
            raise RuntimeError("the answer stream ended without a final event")
        return StreamingResponse(_stream_body(first, events, workers), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no",
                                          "X-Profile": admitted.status})

    @app.post("/api/feedback", tags=["chat"], max_body_size=MAX_BODY_BYTES, response_model=HandoffResult)
    async def feedback(request: Request, req: FeedbackRequest) -> HandoffResult:
        """Store a thumbs up/down (and an optional comment) on one answer; a second thumbs-down offers a person."""
        check_session_id(req.session_id)
        comment = check_text(req.comment, "the comment", MAX_COMMENT_CHARS) if req.comment is not None else None
        await anyio.to_thread.run_sync(limiter.hit_ip, _client_ip(request))
        try:
            offer = await workers.run(bot.feedback, req.session_id, req.turn_id, req.rating, comment)
        except InputError:
            # Every field was checked above: what is left is an unknown turn.
            raise ApiError(404, "not_found", "No such answer in this conversation.") from None
        return HandoffResult(handoff=offer.handoff, message=offer.text) if offer else HandoffResult()

    @app.post("/api/handoff", tags=["chat"], max_body_size=MAX_BODY_BYTES, response_model=HandoffResult)
    async def handoff(request: Request, req: HandoffRequest) -> HandoffResult:
        """Pass the conversation to a person; `handoff.status` is `sent` only when the support desk has it."""
        check_session_id(req.session_id)
        raw = req.profile.model_dump() if req.profile else None
        profile, _ = accepted_profile(raw, req.profile_sig, req.profile_expires, settings.widget_secret)
        await anyio.to_thread.run_sync(limiter.hit_ip, _client_ip(request))
        await anyio.to_thread.run_sync(limiter.hit_session, req.session_id)
        try:
            outcome = await workers.run(bot.handoff, req.session_id, req.email, req.consent, profile)
        except UnknownConversation as exc:
            raise ApiError(404, exc.code, exc.message) from None
        return HandoffResult(handoff=outcome.handoff, message=outcome.text)

    last: list[tuple[float, int, dict[str, Any]]] = []

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> JSONResponse:
        """Check the database, the search index, free disk and the rate-limit store; 503 when chats would fail."""
        if last and time.monotonic() - last[0][0] < HEALTH_REUSE:
            return JSONResponse(last[0][2], status_code=last[0][1])
        checks: dict[str, Check] = {}

        async def run(name: str, fn: Any, *args: Any) -> None:
            try:
                with anyio.fail_after(HEALTH_TIMEOUT):
                    checks[name] = await anyio.to_thread.run_sync(fn, *args, abandon_on_cancel=True)
            except TimeoutError:
                checks[name] = Check(False, f"no answer within {HEALTH_TIMEOUT:.0f} s")

        async with anyio.create_task_group() as tg:
            tg.start_soon(run, "database", check_database, bot.conversations)
            tg.start_soon(run, "index", check_index, bot.retriever)
            tg.start_soon(run, "disk", check_disk, settings.data_dir, settings.min_free_disk_mb)
            tg.start_soon(run, "rate_limits", check_rate_limits, limiter.healthy, limiter.shared)
        status, body = summarise({n: checks[n] for n in ("database", "index", "disk", "rate_limits")}, bot.mode)
        last[:] = [(time.monotonic(), status, body)]
        return JSONResponse(body, status_code=status)

    script = widget_script(sorted(policy.origins), policy.any_origin, settings.suggested_questions,
                           max_chars=MAX_MESSAGE_CHARS)

    @app.get("/widget.js", tags=["widget"], response_class=Response)
    async def widget_js() -> Response:
        """Serve the embeddable chat widget."""
        return Response(script, media_type="application/javascript; charset=utf-8",
                        headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"})

    add_fallbacks(app)


def add_fallbacks(app: FastAPI) -> None:
    """Answer unknown /api/ paths with a JSON 404 and wrong methods with a JSON 405 naming the allowed ones."""
    routes = [r for r in app.routes if isinstance(r, APIRoute)]

    async def not_routed(request: Request) -> None:
        allowed = sorted({m for r in routes if r.path_regex.match(request.url.path) for m in r.methods})
        if allowed:
            raise ApiError(405, "method_not_allowed", f"{request.method} is not allowed here; use {', '.join(allowed)}.",
                           {"Allow": ", ".join(allowed)})
        raise ApiError(404, "not_found", f"There is no API endpoint at {request.url.path[:100]}.")

    # Routes added after the real ones, before the page is mounted at / (which would answer instead).
    for route in routes:
        if not route.path.startswith("/api/"):
            others = [m for m in METHODS if m not in route.methods]
            app.add_api_route(route.path, not_routed, methods=others, include_in_schema=False)
    app.add_api_route("/api/{rest:path}", not_routed, methods=METHODS, include_in_schema=False)


def create_app(settings: Settings | None = None, bot: SupportBot | None = None,
               limiter: RateLimiter | None = None) -> FastAPI:
    """Build the API app: JSON and streaming chat, feedback, health and the widget script (no page)."""
    settings = settings or get_settings()
    bot = bot or make_bot(settings, ensure_index=True)
    limiter = limiter or RateLimiter(per_ip=settings.rate_limit_ip, per_session=settings.rate_limit_session,
                                     storage_uri=settings.rate_limit_storage)
    policy = OriginPolicy.from_settings(settings)
    app = FastAPI(title="Carat support", version="1.0",
                  description="Answers questions about Carat from the help center; checks unlimited-model eligibility.")
    app.state.bot, app.state.settings, app.state.limiter = bot, settings, limiter
    install_error_handlers(app)
    add_routes(app, bot, settings, limiter, policy)
    # Last added runs first: origins are checked (and CORS added to every answer) before sizes.
    app.add_middleware(Failsafe)
    app.add_middleware(RequestLimits)
    app.add_middleware(OriginGuard, policy=policy)
    if settings.server_timing:
        app.add_middleware(ServerTiming)  # outermost: the whole request, middleware included
    return app
