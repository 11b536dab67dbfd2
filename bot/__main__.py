"""Run the command-line interface: python -m bot."""
import sys

from bot.threads import limit_native_threads

limit_native_threads()  # before numpy and the embedding engine load; indexing widens it per batch

from bot.cli import main  # noqa: E402

sys.exit(main())
