"""Release a model's streamed text sentence by sentence, each only after the answer check passed it (pure)."""
from __future__ import annotations

import re
from collections.abc import Callable

from bot.answer.grounding import Problem

# A sentence ends at . ! ? or a line break, followed by space; "2.0", "e.g." and URLs do not end one.
END = re.compile(r"(?<!\d)(?<!\be\.g)(?<!\bi\.e)[.!?。](?=\s)|\n")
MAX_HELD = 600  # characters held back at most before a long run without a sentence end is checked as it is


class SentenceGate:
    """Hold streamed text until a sentence is complete, check it, and release it; the first bad sentence closes the gate."""

    def __init__(self, check: Callable[[str], list[Problem]]) -> None:
        self.check = check
        self.held = ""
        self.released = ""
        self.problems: list[Problem] = []

    @property
    def closed(self) -> bool:
        """Return True once a sentence failed the check: nothing more is released."""
        return bool(self.problems)

    def feed(self, delta: str) -> list[str]:
        """Take a piece of streamed text; return the checked sentences it completed, in order."""
        if self.closed:
            return []
        self.held += delta
        out: list[str] = []
        while not self.closed:
            m = END.search(self.held)
            if m is None:
                if len(self.held) < MAX_HELD:
                    break
                cut = len(self.held)
            else:
                cut = m.end()
                while cut < len(self.held) and self.held[cut].isspace():
                    cut += 1
            piece, self.held = self.held[:cut], self.held[cut:]
            if self._pass(piece):
                out.append(piece)
        return out

    def flush(self) -> list[str]:
        """Check and release what is left at the end of the stream."""
        if self.closed or not self.held.strip():
            return []
        piece, self.held = self.held, ""
        return [piece] if self._pass(piece) else []

    def _pass(self, piece: str) -> bool:
        """Check one sentence in the context of what was released before it (pronouns refer back)."""
        if not piece.strip():
            self.released += piece
            return True
        problems = self.check(self.released + piece) if self.released else self.check(piece)
        if problems:
            self.problems = problems
            return False
        self.released += piece
        return True
