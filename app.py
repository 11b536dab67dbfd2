"""Serve the Carat support web app: chat page at /, JSON and streaming API, embeddable widget."""
from __future__ import annotations

import argparse
import logging
import os


def main(argv: list[str] | None = None) -> None:
    """Parse flags, build the app (and the index if missing) and serve it with uvicorn."""
    # Set before anything imports Gradio or huggingface_hub, which read them once.
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    from bot.threads import limit_native_threads

    limit_native_threads()  # one native thread per request worker, before numpy and the engine load

    import uvicorn

    from bot.api import create_app
    from bot.settings import get_settings

    settings = get_settings()
    parser = argparse.ArgumentParser(description="Serve the Carat support chat page, API and widget.")
    parser.add_argument("--host", default=settings.host, help=f"address to bind (default {settings.host})")
    parser.add_argument("--port", type=int, default=settings.port, help=f"port to listen on (default {settings.port})")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(settings)
    print(f"Carat support: http://{args.host}:{args.port}/  (API docs at /docs)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, timeout_graceful_shutdown=1, log_level="info")


if __name__ == "__main__":
    main()
