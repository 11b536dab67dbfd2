"""What of Gradio the chat page may reach: its own few routes, with request bodies checked before Gradio."""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from bot.guard import error_response, replay_body

SESSION_HASH = re.compile(r"[a-z0-9]{4,64}")
EVENT_ID = re.compile(r"[a-f0-9]{8,64}")
# Everything the page loads and calls (recorded from a real browser); the rest of Gradio (upload, file
# serving, run/predict, call, the API info, monitoring, ...) is not used by the product and answers 404.
STATIC_PREFIXES = ("/assets/", "/static/")
PAGE_GETS = {"/", "/config", "/theme.css", "/favicon.ico", "/robots.txt", "/manifest.json"}
HEARTBEAT = re.compile(r"/gradio_api/heartbeat/([^/]*)")
JOIN, DATA, CANCEL = "/gradio_api/queue/join", "/gradio_api/queue/data", "/gradio_api/cancel"

Validator = Callable[[Any], str | None]


class BadRequest(Exception):
    """A request body the page would never send."""


def page_contract(blocks: Any) -> dict[int, tuple[list[Validator], bool]]:
    """Return, per server-side event of the page, a validator per input and whether it takes event data."""
    contract = {}
    for fn_id, fn in blocks.fns.items():
        if fn.fn is None:  # runs in the browser only
            continue
        contract[fn_id] = ([_validator(c) for c in fn.inputs], bool(fn.collects_event_data))
    return contract


def _validator(component: Any) -> Validator:
    """Return a check of the value the page sends for a component (None when valid, else the problem)."""
    import gradio as gr

    if isinstance(component, gr.State):
        return lambda value: None  # the server keeps the state; whatever is sent is ignored
    if isinstance(component, gr.Radio):
        choices = [value for _, value in component.choices]
        return lambda value: None if value is None or value in choices else "not one of the choices"
    if isinstance(component, gr.Textbox):
        limit = component.max_length

        def text(value: Any) -> str | None:
            if value is not None and not isinstance(value, str):
                return "not text"
            return "too long" if value and limit and len(value) > limit else None

        return text
    model = getattr(component, "data_model", None)
    if model is not None:
        def typed(value: Any) -> str | None:
            try:
                model.model_validate(value)
            except Exception:  # pydantic's ValidationError, or a TypeError from an odd payload
                return "not in the expected shape"
            return None

        return typed
    return lambda value: None


def check_join(body: Any, contract: dict[int, tuple[list[Validator], bool]]) -> None:
    """Raise BadRequest unless body is a queue/join request the page could send."""
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    fn_index = body.get("fn_index")
    if not isinstance(fn_index, int) or isinstance(fn_index, bool) or fn_index not in contract:
        raise BadRequest("unknown event")
    _check_session_hash(body.get("session_hash"))
    validators, takes_event_data = contract[fn_index]
    data = body.get("data")
    if not isinstance(data, list) or len(data) != len(validators):
        raise BadRequest(f"data must be a list of {len(validators)} values")
    for n, (check, value) in enumerate(zip(validators, data)):
        problem = check(value)
        if problem:
            raise BadRequest(f"input {n} is {problem}")
    if not isinstance(body.get("trigger_id", 0), (int, type(None))):
        raise BadRequest("trigger_id must be a number")
    event = body.get("event_data")
    if takes_event_data:
        index = event.get("index") if isinstance(event, dict) else None
        if not (isinstance(index, int) or (isinstance(index, list) and index and all(isinstance(i, int) for i in index))) \
                or "value" not in event:
            raise BadRequest("event_data must carry an index and a value")


def _check_session_hash(value: Any) -> None:
    if not isinstance(value, str) or not SESSION_HASH.fullmatch(value):
        raise BadRequest("session_hash must be 4-64 lower-case letters or digits")


def _has_unpaired_surrogate(value: Any) -> bool:
    """Return True when any string in a parsed JSON value holds a lone surrogate (not encodable as UTF-8)."""
    if isinstance(value, str):
        return any("\ud800" <= ch <= "\udfff" for ch in value)
    if isinstance(value, list):
        return any(_has_unpaired_surrogate(v) for v in value)
    if isinstance(value, dict):
        return any(_has_unpaired_surrogate(k) or _has_unpaired_surrogate(v) for k, v in value.items())
    return False


class PageGuard:
    """Wrap the mounted Gradio app: 404 for routes the page does not use, 4xx for bodies it would not send."""

    def __init__(self, app: ASGIApp, blocks: Any) -> None:
        self.app, self.blocks = app, blocks
        self.contract = page_contract(blocks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":
            await error_response(404, "not_found", "Not found.")(scope, receive, send)
            return
        path, method = _route_path(scope), scope["method"]
        try:
            if method in ("GET", "HEAD") and (path in PAGE_GETS or path.startswith(STATIC_PREFIXES)):
                pass
            elif method == "GET" and (beat := HEARTBEAT.fullmatch(path)):
                _check_session_hash(beat.group(1))
            elif method == "GET" and path == DATA:
                self._check_data(scope)
            elif method == "POST" and path in (JOIN, CANCEL):
                body = await _read(receive)
                self._check_post(path, body)
                receive = replay_body(body, receive)
            else:
                await error_response(404, "not_found", "Not found.")(scope, receive, send)
                return
        except BadRequest as exc:
            await error_response(400, "bad_request", f"Invalid request: {exc}.")(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _check_post(self, path: str, raw: bytes) -> None:
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise BadRequest("the body is not valid JSON") from None
        if _has_unpaired_surrogate(body):
            raise BadRequest("the text holds an unpaired surrogate")
        if path == JOIN:
            check_join(body, self.contract)
            return
        if not isinstance(body, dict) or body.get("fn_index") not in self.contract:
            raise BadRequest("unknown event")
        _check_session_hash(body.get("session_hash"))
        event_id = body.get("event_id")
        if event_id is not None and not (isinstance(event_id, str) and EVENT_ID.fullmatch(event_id)):
            raise BadRequest("unknown event id")

    def _check_data(self, scope: Scope) -> None:
        """Refuse a stream for a session with nothing queued (Gradio fails after starting the response)."""
        from urllib.parse import parse_qs

        values = parse_qs((scope.get("query_string") or b"").decode("latin-1")).get("session_hash", [])
        _check_session_hash(values[0] if len(values) == 1 else None)
        pending = getattr(getattr(self.blocks, "_queue", None), "pending_messages_per_session", None)
        if pending is not None and values[0] not in pending:
            raise BadRequest("nothing is queued for this session")


def _route_path(scope: Scope) -> str:
    """Return the request path below the mount point (the page is mounted at /, maybe under a root path)."""
    path, root = scope["path"], scope.get("root_path", "")
    return (path[len(root):] or "/") if root and path.startswith(root) else path


async def _read(receive: Receive) -> bytes:
    """Return the whole request body (RequestLimits in front has already bounded it)."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)
