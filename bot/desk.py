"""Deliver handoff tickets to the support desk: a signed JSON webhook and/or an e-mail, each retried with backoff.

The webhook body is the ticket as JSON. Its header X-Carat-Signature is `t=<unix seconds>,v1=<hex>`, where hex is
HMAC-SHA256(HANDOFF_WEBHOOK_SECRET, "<t>.<body>"): the desk recomputes it (verify_signature does) and refuses old
timestamps, so a captured request cannot be replayed. X-Carat-Ticket carries the reference, the same on every retry,
so the desk can drop a duplicate.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
import ssl
import time
from collections.abc import Callable
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import make_msgid

from bot.settings import Settings
from bot.tickets import Delivery, Status, Ticket

log = logging.getLogger("bot.desk")

SIGNATURE_HEADER = "X-Carat-Signature"
TICKET_HEADER = "X-Carat-Ticket"
SIGNATURE_TOLERANCE = 300  # seconds a signed timestamp stays acceptable to the desk


class DeliveryFailed(Exception):
    """One delivery attempt failed; `retry` says whether trying again can help."""

    def __init__(self, detail: str, retry: bool) -> None:
        super().__init__(detail)
        self.detail, self.retry = detail, retry


def sign_body(secret: str, body: bytes, timestamp: int) -> str:
    """Return the X-Carat-Signature value for a webhook body sent at `timestamp` (Unix seconds)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(secret: str, body: bytes, header: str, now: float | None = None,
                     tolerance: int = SIGNATURE_TOLERANCE) -> bool:
    """Return True when the header signs this body with this secret and is recent (what a desk checks)."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - timestamp) > tolerance:
        return False
    return hmac.compare_digest(sign_body(secret, body, timestamp), f"t={timestamp},v1={parts.get('v1', '')}")


class Desk:
    """Send tickets to the configured channels; report per channel how it went."""

    def __init__(self, settings: Settings, *, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.sleep, self.clock = sleep, clock

    @property
    def channels(self) -> list[str]:
        """Return the configured channels: 'webhook', 'email' or both."""
        s = self.settings
        return [name for name, on in (("webhook", bool(s.handoff_webhook_url)), ("email", bool(s.smtp_host and s.smtp_to)))
                if on]

    def deliver(self, ticket: Ticket) -> tuple[Status, list[Delivery]]:
        """Send a ticket everywhere configured; it counts as delivered when at least one channel took it."""
        senders = {"webhook": self._webhook, "email": self._email}
        deliveries = [self._with_retries(channel, ticket, senders[channel]) for channel in self.channels]
        if not deliveries:
            return "not_configured", []
        return ("delivered" if any(d.ok for d in deliveries) else "failed"), deliveries

    def _with_retries(self, channel: str, ticket: Ticket, send: Callable[[Ticket], str]) -> Delivery:
        """Try a channel, waiting HANDOFF_BACKOFF seconds before the first retry and twice as long each time."""
        attempts, wait = 0, self.settings.handoff_backoff
        while True:
            attempts += 1
            try:
                detail = send(ticket)
                return Delivery(channel=channel, ok=True, attempts=attempts, detail=detail, at=_now())  # type: ignore[arg-type]
            except DeliveryFailed as exc:
                # Logged without the URL or the address: a webhook URL often carries a token.
                log.warning("handoff %s: %s attempt %d failed: %s", ticket.ref, channel, attempts, exc.detail)
                if not exc.retry or attempts > self.settings.handoff_retries:
                    return Delivery(channel=channel, ok=False, attempts=attempts, detail=exc.detail, at=_now())  # type: ignore[arg-type]
            self.sleep(wait)
            wait *= 2

    def _webhook(self, ticket: Ticket) -> str:
        """POST the signed ticket; 2xx is success, 408/429/5xx and network errors are worth a retry."""
        import httpx

        s = self.settings
        assert s.handoff_webhook_url and s.handoff_webhook_secret
        body = json.dumps(ticket.payload(), ensure_ascii=False, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "carat-support-bot",
                   SIGNATURE_HEADER: sign_body(s.handoff_webhook_secret.get_secret_value(), body, int(self.clock())),
                   TICKET_HEADER: ticket.ref}
        try:
            resp = httpx.post(s.handoff_webhook_url, content=body, headers=headers, timeout=s.handoff_timeout,
                              follow_redirects=False)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(type(exc).__name__, retry=True) from None
        if 200 <= resp.status_code < 300:
            return f"HTTP {resp.status_code}"
        raise DeliveryFailed(f"HTTP {resp.status_code}", retry=resp.status_code in (408, 425, 429) or resp.status_code >= 500)

    def _email(self, ticket: Ticket) -> str:
        """E-mail the ticket to SMTP_TO (Reply-To: the customer); 4xx replies and network errors are worth a retry."""
        s = self.settings
        msg = email_message(ticket, s.smtp_from, s.smtp_to or "")
        try:
            if s.smtp_security == "ssl":
                server: smtplib.SMTP = smtplib.SMTP_SSL(s.smtp_host or "", s.smtp_port, timeout=s.handoff_timeout,
                                                        context=ssl.create_default_context())
            else:
                server = smtplib.SMTP(s.smtp_host or "", s.smtp_port, timeout=s.handoff_timeout)
            with server:
                if s.smtp_security == "starttls":
                    server.starttls(context=ssl.create_default_context())
                if s.smtp_username:
                    server.login(s.smtp_username, s.smtp_password.get_secret_value() if s.smtp_password else "")
                refused = server.send_message(msg)
        except smtplib.SMTPResponseException as exc:
            raise DeliveryFailed(f"SMTP {exc.smtp_code}", retry=400 <= exc.smtp_code < 500) from None
        except smtplib.SMTPRecipientsRefused:
            raise DeliveryFailed("recipient refused", retry=False) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryFailed(type(exc).__name__, retry=True) from None
        if refused:
            raise DeliveryFailed("recipient refused", retry=False)
        return "accepted"


def email_message(ticket: Ticket, sender: str, recipient: str) -> EmailMessage:
    """Return the e-mail a support desk gets for a ticket: plain text, the customer as Reply-To."""
    msg = EmailMessage()
    msg["Subject"] = f"[Carat support] {ticket.ref}: {ticket.reason.replace('_', ' ')}"
    msg["From"] = sender
    msg["To"] = recipient
    if ticket.email:
        msg["Reply-To"] = ticket.email
    msg["Message-ID"] = make_msgid(domain="carat-support")
    msg[TICKET_HEADER] = ticket.ref
    profile = ", ".join(f"{k}: {v}" for k, v in ticket.profile.items() if v not in (None, "", False)) or "not given"
    lines = [f"Ticket {ticket.ref} ({ticket.created_at:%Y-%m-%d %H:%M} UTC)", f"Reason: {ticket.reason}",
             f"Customer e-mail: {ticket.email or 'not given'}", f"Language: {ticket.language}", f"Profile: {profile}",
             f"Conversation: {ticket.session_id}", "", "Transcript:"]
    for turn in ticket.transcript:
        lines += ["", f"Customer: {turn.get('question', '')}", f"Bot: {turn.get('answer', '')}"]
    msg.set_content("\n".join(lines))
    return msg


def _now() -> datetime:
    return datetime.now(timezone.utc)
