"""One streamed chat-model call: text deltas as they arrive, one final message, one failure type."""
from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage

from bot.settings import Settings

# Control characters other than tab and newlines, and U+FFFD (bytes that were not UTF-8): no model writes
# them to a customer; a server that sends them is broken.
GARBAGE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]")


class ModelFailure(Exception):
    """The model path failed (transport, protocol, garbage or a bound); the turn is answered offline."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Limits:
    """Bounds on one model reply, so a broken or hostile server costs little CPU and memory."""

    max_tokens: int = 500
    max_tool_calls: int = 4
    max_tool_args_chars: int = 2000

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        """Return the bounds configured in settings."""
        return cls(max_tokens=settings.llm_max_tokens, max_tool_calls=settings.llm_max_tool_calls,
                   max_tool_args_chars=settings.llm_max_tool_args_chars)

    @property
    def max_text_chars(self) -> int:
        """Return the most reply text accepted: generous, as one token is rarely more than 4 characters."""
        return 16 * self.max_tokens

    @property
    def max_chunks(self) -> int:
        """Return the most stream chunks accepted: an honest server sends about one per token, plus a few."""
        return 2 * self.max_tokens + 32


@dataclass
class _ToolCallParts:
    """A tool call being assembled from stream chunks; argument pieces are joined once, at the end."""

    id: str = ""
    name: str = ""
    args: list[str] = field(default_factory=list)
    args_chars: int = 0


class ModelCall:
    """Stream one reply of a bound chat model; iterate for text deltas, then read `message`.

    Every failure while talking to the model, whatever its type, is raised as ModelFailure. Chunks are
    accumulated in lists (linear time) and the reply is bounded in chunks, text, tool calls and argument size.
    """

    def __init__(self, model: Any, messages: Sequence[BaseMessage], limits: Limits,
                 tools: frozenset[str] | None = None) -> None:
        self.model, self.messages, self.limits, self.tools = model, list(messages), limits, tools
        self._text: list[str] = []
        self._text_chars = 0
        self._calls: list[_ToolCallParts] = []
        self._by_index: dict[Any, _ToolCallParts] = {}
        self._usage = {"input_tokens": 0, "output_tokens": 0}
        self._message: AIMessage | None = None
        self._started = False

    @property
    def message(self) -> AIMessage:
        """Return the whole reply (text, tool calls with parsed arguments, usage); only after iterating."""
        if self._message is None:
            raise RuntimeError("iterate the model call before reading its message")
        return self._message

    def __iter__(self) -> Iterator[str]:
        """Yield each non-empty text delta; raise ModelFailure on any failure."""
        if self._started:
            raise RuntimeError("a model call streams once; make a new ModelCall to call again")
        self._started = True
        stream = None
        chunks = 0
        try:
            stream = iter(self.model.stream(self.messages))
            for chunk in stream:
                chunks += 1
                if chunks > self.limits.max_chunks:
                    raise ModelFailure(f"more than {self.limits.max_chunks} stream chunks")
                delta = self._take(chunk)
                if delta:
                    yield delta
            self._message = self._finish()
        except ModelFailure:
            raise
        except Exception as err:  # noqa: BLE001 - any SDK, HTTP, parse or LangChain error means the same here
            raise ModelFailure(f"{type(err).__name__}: {_short(err)}") from err
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()  # drop the HTTP response at once when we stop early

    def _take(self, chunk: Any) -> str:
        """Add one chunk to the reply and return its text."""
        delta = _content_text(getattr(chunk, "content", ""))
        if delta:
            if GARBAGE.search(delta):
                raise ModelFailure("control characters or undecodable bytes in the reply")
            self._text_chars += len(delta)
            if self._text_chars > self.limits.max_text_chars:
                raise ModelFailure(f"reply text longer than {self.limits.max_text_chars} characters")
            self._text.append(delta)
        for piece in getattr(chunk, "tool_call_chunks", None) or []:
            self._take_call(piece)
        usage = getattr(chunk, "usage_metadata", None) or {}
        for key in self._usage:
            self._usage[key] += int(usage.get(key) or 0)
        return delta

    def _take_call(self, piece: dict[str, Any]) -> None:
        """Add one tool-call piece: a new call when it opens one, else more arguments for its call."""
        index, call_id, name = piece.get("index"), piece.get("id"), piece.get("name")
        call = self._by_index.get(index) if index is not None else None
        if call is None and (index is not None or call_id or name or not self._calls):
            if len(self._calls) >= self.limits.max_tool_calls:
                raise ModelFailure(f"more than {self.limits.max_tool_calls} tool calls in one reply")
            call = _ToolCallParts()
            self._calls.append(call)
            if index is not None:
                self._by_index[index] = call
        call = call or self._calls[-1]
        call.id = call.id or (call_id or "")
        call.name = call.name or (name or "")
        args = piece.get("args") or ""
        call.args_chars += len(args)
        if call.args_chars > self.limits.max_tool_args_chars:
            raise ModelFailure(f"tool-call arguments longer than {self.limits.max_tool_args_chars} characters")
        if args:
            call.args.append(args)

    def _finish(self) -> AIMessage:
        """Join the pieces into one message; reject an empty reply and malformed tool calls."""
        text = "".join(self._text)
        tool_calls = []
        for n, call in enumerate(self._calls):
            if not call.name:
                raise ModelFailure("a tool call without a name")
            if self.tools is not None and call.name not in self.tools:
                raise ModelFailure(f"a call of an unknown tool {call.name[:40]!r}")
            raw = "".join(call.args).strip() or "{}"
            try:
                args = json.loads(raw)
            except ValueError:
                raise ModelFailure("tool-call arguments are not JSON") from None
            if not isinstance(args, dict):
                raise ModelFailure("tool-call arguments are not a JSON object")
            tool_calls.append({"name": call.name, "args": args, "id": call.id or f"call_{n}", "type": "tool_call"})
        if not text.strip() and not tool_calls:
            raise ModelFailure("the model returned nothing")
        usage = {**self._usage, "total_tokens": self._usage["input_tokens"] + self._usage["output_tokens"]}
        return AIMessage(content=text, tool_calls=tool_calls, usage_metadata=usage)  # type: ignore[arg-type]


def _content_text(content: Any) -> str:
    """Return the text of a chunk's content (a string, or a list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p if isinstance(p, str) else str(p.get("text") or "") for p in content
                       if isinstance(p, (str, dict)))
    return ""


def _short(err: BaseException) -> str:
    """Return the first line of an error message, cut short (server bodies can be long or hostile)."""
    lines = str(err).strip().splitlines()
    return (lines[0] if lines else "")[:200]
