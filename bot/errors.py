"""Errors the bot reports to people: each has a code and a clear message."""
from __future__ import annotations

from typing import Any


class BotError(Exception):
    """An error with a stable code, a plain message and optional details."""

    code = "error"
    exit_code = 1

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON shape used by the CLI and the HTTP API."""
        return {"error": {"code": self.code, "message": self.message, **self.details}}


class InputError(BotError):
    """Bad input from a user: nothing was changed."""

    code = "bad_input"
    exit_code = 2


class SourceError(BotError):
    """A knowledge file (page or rules) is malformed; names the file and line."""

    code = "bad_source"
    exit_code = 2

    def __init__(self, message: str, *, file: str, line: int | None = None, **details: Any) -> None:
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {message}", file=file, line=line, **details)
