"""Entry point: python -m eval COMMAND."""
from __future__ import annotations

import sys

from bot.threads import limit_native_threads

limit_native_threads()  # before numpy and the embedding engine load

from eval.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
