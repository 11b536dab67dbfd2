"""Shapes shared by the answerers, the web layer and the eval harness."""
from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Route = Literal["answer", "eligibility", "clarify", "handoff", "refuse"]
Mode = Literal["llm", "offline", "degraded"]
Language = Literal["en", "ko"]


class Profile(BaseModel):
    """What is known of the customer's subscription; every field optional."""

    model_config = ConfigDict(extra="forbid")

    plan: str | None = Field(None, description="Plus, Premium, Max, Pro or Business.")
    billing: str | None = Field(None, description="monthly or annual.")
    signup_date: date | None = Field(None, description="Date the customer joined (YYYY-MM-DD).")

    def merged(self, other: Profile | None) -> Profile:
        """Return this profile with other's set fields winning."""
        if other is None:
            return self
        return self.model_copy(update=other.model_dump(exclude_none=True))

    def is_empty(self) -> bool:
        """Return True when nothing is known."""
        return not any(self.model_dump().values())


class Source(BaseModel):
    """A help-center section an answer relies on."""

    title: str
    section: str
    url: str
    section_id: str = ""


class ToolCall(BaseModel):
    """One call of a tool, with its arguments and its structured result."""

    name: str
    args: dict[str, Any]
    result: dict[str, Any]


class Usage(BaseModel):
    """Model usage for one turn (zero in offline mode)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    model_calls: int = 0


class Retrieved(BaseModel):
    """A section retrieval returned for the turn, with its scores."""

    section_id: str
    section: str
    url: str
    score: float
    dense: float


class Handoff(BaseModel):
    """Where handing the conversation to a person stands, for clients to show."""

    status: Literal["offered", "email_needed", "sent", "not_sent"] = Field(
        description="offered: a person is offered; email_needed: the customer asked, the reply address is needed; "
                    "sent: the support desk has the ticket; not_sent: the customer must contact support (contact_url).")
    reason: str = Field("", description="human, money, frustration, not_covered, failed_answers or thumbs_down.")
    ref: str = Field("", description="Ticket reference the customer can quote.")
    email: str = Field("", description="Where the reply will come (status sent).")
    contact_url: str = Field("", description="Where to contact support directly.")
    desk: bool = Field(False, description="True when the bot can send the conversation itself (a form is worth showing).")


class Answer(BaseModel):
    """Everything one turn produced."""

    answer: str
    route: Route
    sources: list[Source] = []
    tool_calls: list[ToolCall] = []
    mode: Mode = "offline"
    session_id: str = ""
    turn_id: str = ""
    usage: Usage = Usage()
    language: Language = "en"
    retrieved: list[Retrieved] = []
    corrected: bool = Field(False, description="True when the grounding check replaced the model's text.")
    handoff: Handoff | None = Field(None, description="Set when the answer offers or arranges a person.")


class StreamEvent(BaseModel):
    """A piece of a streamed answer: text deltas, then one final event with the whole Answer."""

    type: Literal["token", "final", "error"]
    text: str = ""
    answer: Answer | None = None
    error: dict[str, Any] | None = None
