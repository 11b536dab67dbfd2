"""Put the app together (API, widget, chat page) and serve it with uvicorn, with the limits a public site needs."""
from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI

from bot.api import create_app
from bot.guard import MAX_HEADER_BYTES
from bot.limits import RateLimiter
from bot.service import SupportBot, make_bot
from bot.settings import Settings, get_settings

MAX_CONNECTIONS = 2000


def quiet_third_parties() -> None:
    """Keep Gradio, huggingface_hub and Chroma from calling outside hosts (read once, at their import)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


def build_app(settings: Settings | None = None, bot: SupportBot | None = None, *, web: bool = True) -> FastAPI:
    """Build the whole app: API routes and the widget first, the chat page mounted at / last."""
    quiet_third_parties()
    settings = settings or get_settings()
    bot = bot or make_bot(settings, ensure_index=True)
    limiter = RateLimiter(per_ip=settings.rate_limit_ip, per_session=settings.rate_limit_session,
                          storage_uri=settings.rate_limit_storage)
    app = create_app(settings, bot, limiter)
    if web:
        from bot.web import mount_web

        app = mount_web(app, bot, settings, limiter)
    return app


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Return uvicorn's settings: h11 with a header size limit, and proxy headers only from trusted proxies."""
    proxies = settings.forwarded_allow_ips.strip()
    return {
        # h11 refuses request heads over the limit before buffering them (httptools has no limit).
        "http": "h11",
        "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
        # X-Forwarded-For is believed only from FORWARDED_ALLOW_IPS: otherwise anyone could pick their address.
        "proxy_headers": bool(proxies),
        "forwarded_allow_ips": proxies or None,
        # Open connections (the page holds two per tab): beyond this uvicorn answers 503 at once.
        "limit_concurrency": MAX_CONNECTIONS,
        "server_header": False,
        "timeout_graceful_shutdown": 1,
        "log_level": "info",
    }


def serve(settings: Settings, host: str, port: int) -> None:
    """Build the app and serve it until interrupted."""
    import uvicorn

    app = build_app(settings)
    print(f"Carat support: http://{host}:{port}/  (API docs at /docs)", flush=True)
    uvicorn.run(app, host=host, port=port, **uvicorn_options(settings))
