"""A scripted, local OpenAI-compatible HTTP server for tests (chat completions, embeddings, models)."""
from __future__ import annotations

import base64
import hashlib
import json
import math
import struct
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Union


@dataclass(frozen=True)
class Reply:
    """An assistant message: text content and/or tool calls as (name, args, call id) triples."""
    content: str | None = None
    calls: tuple[tuple[str, dict[str, Any] | str, str], ...] = ()


@dataclass(frozen=True)
class Error:
    """An HTTP error answer with an OpenAI-style JSON body and an optional Retry-After header."""
    status: int
    body: dict[str, Any] | str | None = None
    retry_after: float | None = None


@dataclass(frozen=True)
class Delay:
    """Wait `seconds` before sending `then` (to trigger client timeouts)."""
    seconds: float
    then: "Response"


@dataclass(frozen=True)
class Raw:
    """A broken server: `body` sent `repeat` times as a chunked 200 (whatever was asked), then maybe a stall or a cut."""
    body: bytes
    content_type: str = "text/event-stream"
    headers: tuple[tuple[str, str], ...] = ()
    repeat: int = 1
    stall: float = 0.0
    cut: bool = False


Response = Union[Reply, Error, Delay, Raw, str]
Responder = Callable[[dict[str, Any]], Response]


def text(content: str) -> Reply:
    """Script a plain text answer."""
    return Reply(content)


def tool_call(name: str, args: dict[str, Any] | str, call_id: str | None = None) -> Reply:
    """Script an answer with a single tool call (arguments as a dict, or a string sent as it is)."""
    args = args if isinstance(args, str) else dict(args)
    return Reply(None, ((name, args, call_id or f"call_{uuid.uuid4().hex[:12]}"),))


def tool_calls(calls: Iterable[Reply | tuple[Any, ...]], content: str | None = None) -> Reply:
    """Script one assistant message with several tool calls (`tool_call(...)` items or (name, args[, id]) tuples)."""
    items = [c if isinstance(c, Reply) else tool_call(*c) for c in calls]
    return Reply(content, tuple(call for item in items for call in item.calls))


def error(status: int, body: dict[str, Any] | str | None = None, retry_after: float | None = None) -> Error:
    """Script an HTTP error; `body` is a message string or a whole JSON body."""
    return Error(status, body, retry_after)


def delay(seconds: float, then: Response | None = None) -> Delay:
    """Script a pause before an answer (default text "OK")."""
    return Delay(seconds, then if then is not None else Reply("OK"))


def sse(*events: dict[str, Any] | str) -> bytes:
    """Return Server-Sent Events: each dict as JSON, each string as it is."""
    return b"".join(f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n".encode() for e in events)


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    """Return a well-formed chat-completion chunk carrying `delta`."""
    return {"id": "chatcmpl-raw", "object": "chat.completion.chunk", "created": 0, "model": "gpt-4o-mini",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]}


def prompt_tokens(request: dict[str, Any]) -> int:
    """Return the stub's rough prompt token count: message characters (content and tool calls) / 4."""
    chars = 0
    for msg in request.get("messages", []):
        content = msg.get("content")
        parts = content if isinstance(content, list) else [{"text": content or ""}]
        chars += sum(len(p.get("text", "")) for p in parts if isinstance(p, dict))
        chars += sum(len(json.dumps(tc.get("function", {}))) for tc in msg.get("tool_calls") or [])
    return math.ceil(chars / 4)


def fake_embedding(value: str, dim: int = 8) -> list[float]:
    """Return a deterministic, L2-normalised vector derived from a hash of `value`."""
    raw = b"".join(hashlib.sha256(f"{i}:{value}".encode()).digest() for i in range(dim // 32 + 1))
    vector = [b / 127.5 - 1.0 for b in raw[:dim]]
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]


class OpenAIStub:
    """Serve scripted chat completions on 127.0.0.1; use as a context manager."""

    def __init__(self, *script: Response | Responder, responder: Responder | None = None,
                 default: Response = "OK", model: str = "gpt-4o-mini", embedding_dim: int = 8,
                 stream_chunk_chars: int = 4) -> None:
        """Queue `script`; `responder` (or `default`) answers once the queue is empty."""
        self.script: deque[Response | Responder] = deque(script)
        self.responder, self.default, self.model = responder, default, model
        self.embedding_dim, self.stream_chunk_chars = embedding_dim, stream_chunk_chars
        self.requests: list[dict[str, Any]] = []
        self.embedding_requests: list[dict[str, Any]] = []
        self._lock, self._stopping = threading.Lock(), threading.Event()
        self._server: ThreadingHTTPServer | None = None

    def add(self, *responses: Response | Responder) -> OpenAIStub:
        """Append answers to the script."""
        self.script.extend(responses)
        return self

    @property
    def calls(self) -> int:
        """Return the number of chat-completion requests received."""
        return len(self.requests)

    @property
    def last(self) -> dict[str, Any]:
        """Return the latest chat-completion request body."""
        return self.requests[-1]

    @property
    def base_url(self) -> str:
        """Return the OpenAI base URL ("http://127.0.0.1:PORT/v1")."""
        assert self._server is not None, "stub not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> OpenAIStub:
        """Bind a free port and serve in a daemon thread."""
        self._stopping.clear()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), name="openai-stub", daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port (pending delays end at once)."""
        self._stopping.set()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> OpenAIStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _next(self, request: dict[str, Any]) -> Response:
        """Record `request` and return the answer to send."""
        with self._lock:
            self.requests.append(request)
            item = self.script.popleft() if self.script else (self.responder or self.default)
        answer = item(request) if callable(item) else item
        return self.default if answer is None else answer


def _make_handler(stub: OpenAIStub) -> type[BaseHTTPRequestHandler]:
    """Build a request handler class bound to `stub`."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Keep test output quiet."""

        def handle(self) -> None:
            """Serve the connection; a client hanging up (timeouts, retries) is not an error."""
            try:
                super().handle()
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        def do_GET(self) -> None:
            """Serve the model list."""
            if self.path.rstrip("/").endswith("/models"):
                model = {"id": stub.model, "object": "model", "created": 0, "owned_by": "stub"}
                return self._json(200, {"object": "list", "data": [model]})
            self._json(404, _error_body(404, f"no route {self.path}"))

        def do_POST(self) -> None:
            """Serve chat completions and embeddings."""
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            if self.path.rstrip("/").endswith("/chat/completions"):
                return self._chat(body)
            if self.path.rstrip("/").endswith("/embeddings"):
                return self._embeddings(body)
            self._json(404, _error_body(404, f"no route {self.path}"))

        def _chat(self, request: dict[str, Any]) -> None:
            """Answer one chat-completion request from the script."""
            answer = stub._next(request)
            while isinstance(answer, Delay):
                if stub._stopping.wait(answer.seconds):
                    self.close_connection = True
                    return
                answer = answer.then
            if isinstance(answer, Raw):
                return self._raw(answer)
            if isinstance(answer, str):
                answer = Reply(answer)
            if isinstance(answer, Error):
                body = answer.body if isinstance(answer.body, dict) else _error_body(answer.status, answer.body)
                headers = {} if answer.retry_after is None else {"Retry-After": f"{answer.retry_after:g}"}
                return self._json(answer.status, body, headers)
            head = {"id": f"chatcmpl-{uuid.uuid4().hex[:16]}", "created": int(time.time()),
                    "model": request.get("model") or stub.model}
            usage = _usage(request, answer)
            if request.get("stream"):
                with_usage = bool((request.get("stream_options") or {}).get("include_usage"))
                return self._stream(answer, head, usage, with_usage)
            message: dict[str, Any] = {"role": "assistant", "content": answer.content, "refusal": None}
            if answer.calls:
                message["tool_calls"] = [{"id": i, "type": "function",
                                          "function": {"name": n, "arguments": _arguments(a)}}
                                         for n, a, i in answer.calls]
            choice = {"index": 0, "message": message, "finish_reason": _finish(answer), "logprobs": None}
            self._json(200, {**head, "object": "chat.completion", "choices": [choice], "usage": usage})

        def _stream(self, answer: Reply, head: dict[str, Any], usage: dict[str, int], with_usage: bool) -> None:
            """Send the answer as Server-Sent Events, in small deltas."""
            self.send_response(200)
            for key, value in (("Content-Type", "text/event-stream"), ("Transfer-Encoding", "chunked")):
                self.send_header(key, value)
            self.end_headers()
            head = {**head, "object": "chat.completion.chunk"}
            extra = {"usage": None} if with_usage else {}

            def send(delta: dict[str, Any], finish: str | None = None) -> None:
                choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
                self._chunk(f"data: {json.dumps({**head, 'choices': [choice], **extra})}\n\n")

            n = max(1, stub.stream_chunk_chars)
            send({"role": "assistant", "content": ""})
            content = answer.content or ""
            for i in range(0, len(content), n):
                send({"content": content[i:i + n]})
            for index, (name, args, call_id) in enumerate(answer.calls):
                send({"tool_calls": [{"index": index, "id": call_id, "type": "function",
                                      "function": {"name": name, "arguments": ""}}]})
                arguments = _arguments(args)
                for i in range(0, len(arguments), n):
                    send({"tool_calls": [{"index": index, "function": {"arguments": arguments[i:i + n]}}]})
            send({}, _finish(answer))
            if with_usage:
                self._chunk(f"data: {json.dumps({**head, 'choices': [], 'usage': usage})}\n\n")
            self._chunk("data: [DONE]\n\n")
            self.wfile.write(b"0\r\n\r\n")

        def _chunk(self, data: str | bytes) -> None:
            """Write one chunk of a chunked transfer-encoded body."""
            raw = data.encode() if isinstance(data, str) else data
            self.wfile.write(f"{len(raw):x}\r\n".encode() + raw + b"\r\n")

        def _raw(self, answer: Raw) -> None:
            """Send a broken server's answer; stop as soon as the client hangs up or the stub stops."""
            self.send_response(200)
            for key, value in (("Content-Type", answer.content_type), ("Transfer-Encoding", "chunked"),
                               *answer.headers):
                self.send_header(key, value)
            self.end_headers()
            self.close_connection = True
            for _ in range(answer.repeat):
                if stub._stopping.is_set():
                    return
                self._chunk(answer.body)
            self.wfile.flush()
            if answer.stall and stub._stopping.wait(answer.stall):
                return
            if not answer.cut:
                self.wfile.write(b"0\r\n\r\n")

        def _embeddings(self, request: dict[str, Any]) -> None:
            """Answer an embeddings request with deterministic fake vectors."""
            stub.embedding_requests.append(request)
            raw = request.get("input", [])
            inputs = [raw] if isinstance(raw, str) or (raw and isinstance(raw[0], int)) else raw
            dim, data = int(request.get("dimensions") or stub.embedding_dim), []
            for index, value in enumerate(inputs):
                vector: Any = fake_embedding(value if isinstance(value, str) else json.dumps(value), dim)
                if request.get("encoding_format") == "base64":
                    vector = base64.b64encode(struct.pack(f"<{dim}f", *vector)).decode()
                data.append({"object": "embedding", "index": index, "embedding": vector})
            tokens = sum(math.ceil(len(str(v)) / 4) for v in inputs)
            self._json(200, {"object": "list", "data": data, "model": request.get("model") or stub.model,
                             "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

        def _json(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            """Send a JSON response."""
            raw = json.dumps(body).encode()
            self.send_response(status)
            for key, value in {"Content-Type": "application/json", "Content-Length": str(len(raw)),
                               **(headers or {})}.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(raw)

    return Handler


def _arguments(args: dict[str, Any] | str) -> str:
    """Return tool-call arguments as sent: a dict as JSON, a string as it is (to script broken arguments)."""
    return args if isinstance(args, str) else json.dumps(args)


def _finish(answer: Reply) -> str:
    """Return the finish reason for `answer`."""
    return "tool_calls" if answer.calls else "stop"


def _usage(request: dict[str, Any], answer: Reply) -> dict[str, int]:
    """Return a rough usage block for `answer` to `request`."""
    out = (answer.content or "") + "".join(n + _arguments(a) for n, a, _ in answer.calls)
    prompt, completion = prompt_tokens(request), max(1, math.ceil(len(out) / 4))
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _error_body(status: int, message: str | None = None) -> dict[str, Any]:
    """Return an OpenAI-style error body for `status`."""
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    kind = "rate_limit_error" if status == 429 else "server_error" if status >= 500 else "invalid_request_error"
    code = "rate_limit_exceeded" if status == 429 else phrase.lower().replace(" ", "_")
    return {"error": {"message": message or f"{status} {phrase}", "type": kind, "param": None, "code": code}}
