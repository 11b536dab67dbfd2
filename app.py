"""Serve the Carat support web app: chat page at /, JSON and streaming API, embeddable widget."""
from __future__ import annotations

import argparse
import logging


def main(argv: list[str] | None = None) -> None:
    """Parse flags, build the app (and the index if missing) and serve it with uvicorn."""
    # Set before anything imports Gradio or huggingface_hub, which read them once.
    from bot.server import quiet_third_parties
    from bot.threads import limit_native_threads

    quiet_third_parties()
    limit_native_threads()  # one native thread per request worker, before numpy and the engine load
    from bot.server import serve
    from bot.settings import get_settings

    settings = get_settings()
    parser = argparse.ArgumentParser(description="Serve the Carat support chat page, API and widget.")
    parser.add_argument("--host", default=settings.host, help=f"address to bind (default {settings.host})")
    parser.add_argument("--port", type=int, default=settings.port, help=f"port to listen on (default {settings.port})")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serve(settings, args.host, args.port)


if __name__ == "__main__":
    main()
