"""Command-line interface: python -m bot COMMAND."""
from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from typing import NoReturn

from bot.errors import BotError

# Each module adds its sub-commands through register(subparsers).
COMMAND_MODULES = (
    "bot.commands",
    "bot.eligibility.cli",
    "bot.handoff_cli",
)


class _Parser(argparse.ArgumentParser):
    """An argument parser that reports usage errors as JSON when --json was asked for."""

    def error(self, message: str) -> NoReturn:
        if "--json" in sys.argv[1:]:
            print(json.dumps({"error": {"code": "bad_input", "message": message}}))
            sys.exit(2)
        super().error(message)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every sub-command registered."""
    parser = _Parser(prog="python -m bot", description="Carat support agent.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; report a BotError as JSON (with --json) or plain text."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except BotError as err:
        if getattr(args, "json", False):
            print(json.dumps(err.to_dict(), ensure_ascii=False, indent=2))
        else:
            print(f"error: {err.message}", file=sys.stderr)
        return err.exit_code
