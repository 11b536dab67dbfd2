"""Rate limits per client address and per conversation, counted in a store every app server can share."""
from __future__ import annotations

import ipaddress
import logging
import math
import re
import threading
import time

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.errors import ConfigurationError, StorageError
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from bot.errors import BotError, InputError

log = logging.getLogger("bot.limits")

SESSION_KEY = re.compile(r"[A-Za-z0-9_-]{8,64}")
# A shared store that is slow or gone must not hold chat requests: fail fast, count locally meanwhile.
STORE_TIMEOUT = 0.5
WARN_EVERY = 60.0


class RateLimited(BotError):
    """Too many requests in the window; carries the seconds to wait."""

    code = "rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def address_key(host: str | None) -> str:
    """Return the rate-limit bucket of a client address (an IPv6 client is bucketed by its /64)."""
    try:
        ip = ipaddress.ip_address((host or "").strip())
    except ValueError:
        return "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        # One subscriber usually holds a whole /64: per-address buckets would be free to rotate.
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def open_storage(uri: str) -> Storage:
    """Return the counter store for a URI ('memory://', 'redis://host:port/db', ...)."""
    try:
        return storage_from_string(uri, wrap_exceptions=True, socket_timeout=STORE_TIMEOUT,
                                   socket_connect_timeout=STORE_TIMEOUT)
    except ConfigurationError as exc:
        raise BotError(f"RATE_LIMIT_STORAGE {uri.split('://')[0]}:// cannot be used ({exc}); "
                       "for Redis install the 'redis' extra: pip install '.[redis]'") from None


class RateLimiter:
    """Moving windows (the `limits` library) per address and per conversation, checked before any work."""

    def __init__(self, per_ip: int, per_session: int, storage_uri: str = "memory://", window: int = 60) -> None:
        self.items: dict[str, RateLimitItem | None] = {
            "ip": RateLimitItemPerSecond(per_ip, window) if per_ip else None,
            "session": RateLimitItemPerSecond(per_session, window) if per_session else None,
        }
        self.shared = not storage_uri.startswith("memory")
        self.storage = open_storage(storage_uri)
        self.strategy = MovingWindowRateLimiter(self.storage)
        self._local: MovingWindowRateLimiter | None = None
        self._warned = 0.0
        self._lock = threading.Lock()

    def hit_ip(self, host: str | None) -> None:
        """Count one request from a client address, or raise RateLimited."""
        self._hit("ip", address_key(host))

    def hit_session(self, session_id: str) -> None:
        """Count one request of a conversation (a well-formed, known id), or raise RateLimited."""
        if not SESSION_KEY.fullmatch(session_id):
            raise InputError("session_id must be 8-64 letters, digits, '-' or '_'")
        self._hit("session", session_id)

    def healthy(self) -> bool:
        """Return True when the counter store answers (always, for the in-process store)."""
        if not self.shared:
            return True
        try:
            return bool(self.storage.check())
        except Exception:  # any failure of the store means "not reachable"
            return False

    def _hit(self, kind: str, key: str) -> None:
        item = self.items[kind]
        if item is None:
            return
        strategy = self.strategy
        try:
            allowed = strategy.hit(item, kind, key)
        except StorageError as exc:
            strategy = self._fallback(exc)
            allowed = strategy.hit(item, kind, key)
        if allowed:
            return
        try:
            reset = strategy.get_window_stats(item, kind, key).reset_time
        except StorageError:
            reset = time.time() + item.get_expiry()
        wait = max(1, math.ceil(reset - time.time()))
        what = "this conversation" if kind == "session" else "your address"
        per = "a minute" if item.get_expiry() == 60 else f"every {item.get_expiry()} seconds"
        raise RateLimited(f"Too many messages from {what}: the limit is {item.amount} {per}. "
                          f"Try again in {wait} seconds.", retry_after=wait)

    def _fallback(self, exc: StorageError) -> MovingWindowRateLimiter:
        """Return an in-process limiter to use while the shared store is unreachable."""
        with self._lock:
            if self._local is None:
                self._local = MovingWindowRateLimiter(MemoryStorage())
            if time.monotonic() - self._warned > WARN_EVERY:
                self._warned = time.monotonic()
                log.warning("rate-limit store unreachable (%s); counting per server until it is back",
                            type(exc.storage_error).__name__)
            return self._local
