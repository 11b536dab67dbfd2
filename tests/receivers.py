"""A support desk on 127.0.0.1 for tests: a webhook receiver (stdlib HTTP server) and an SMTP server (aiosmtpd)."""
from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from tests.browser_helpers import free_port


@dataclass
class Received:
    """One webhook request as the desk saw it."""

    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookReceiver:
    """Records every POST; answers with the queued status codes first, then `status`."""

    port: int = 0
    status: int = 200
    queue: list[int] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)

    @property
    def url(self) -> str:
        """Return the URL to set as HANDOFF_WEBHOOK_URL."""
        return f"http://127.0.0.1:{self.port}/tickets"


@contextmanager
def webhook_receiver() -> Iterator[WebhookReceiver]:
    """Run a webhook receiver in a thread; yield it, then shut it down."""
    state = WebhookReceiver()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - stdlib name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            state.requests.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
            code = state.queue.pop(0) if state.queue else state.status
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class SmtpReceiver:
    """Messages an SMTP server on 127.0.0.1 accepted; `refuse` answers that many DATA commands with 451 first."""

    port: int
    refuse: int = 0
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)


@contextmanager
def smtp_receiver() -> Iterator[SmtpReceiver]:
    """Run aiosmtpd on a free 127.0.0.1 port; yield what it receives, then stop it."""
    from aiosmtpd.controller import Controller

    state = SmtpReceiver(port=free_port())

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd hook
            if state.refuse > 0:
                state.refuse -= 1
                return "451 4.3.0 try again later"
            state.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            state.messages.append(message_from_bytes(envelope.content, policy=policy.default))  # type: ignore[arg-type]
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=state.port)
    controller.start()
    try:
        yield state
    finally:
        controller.stop()
