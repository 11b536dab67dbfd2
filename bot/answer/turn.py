"""Typed conversation state and turn preparation: the facts a customer gave, merged the way people give them."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, Field

from bot.answer.compose import detect_language
from bot.answer.cues import Cues
from bot.answer.facts import Facts, SignupSpan, extract_facts
from bot.conversation import Conversation
from bot.eligibility import Engine
from bot.types import Language, Profile, ToolCall

STATE_KEY = "state"
ModelKey = tuple[str, str | None]


class SignupFact(BaseModel):
    """The signup date as the customer gave it: a day, a month, a year, or two readings of an ambiguous date."""

    start: date
    end: date
    precision: Literal["day", "month", "year", "range"] = "day"
    alternatives: list[date] = []
    text: str = ""

    def span(self) -> SignupSpan:
        """Return the fact as a span the answerer checks."""
        return SignupSpan(self.start, self.end, self.text, self.precision, tuple(self.alternatives))


class Pending(BaseModel):
    """A question the bot asked and waits on: which models it was about."""

    models: list[tuple[str, str | None]] = []


class LastVerdict(BaseModel):
    """A verdict given earlier in the conversation, for follow-ups such as 'until when?'."""

    model: str
    variant: str | None = None
    verdict: str
    expires_on: date | None = None


class ConversationState(BaseModel):
    """Everything the bot remembers of a conversation (stored with the session)."""

    plan: str | None = None
    billing: str | None = None
    signup: SignupFact | None = None
    pending: Pending | None = None
    last_models: list[tuple[str, str | None]] = []
    last_verdicts: list[LastVerdict] = []
    notes_shown: list[str] = Field([], description="Caveats already shown once in this conversation.")

    @classmethod
    def of(cls, conv: Conversation) -> ConversationState:
        """Return the state stored with a conversation (empty for a new one)."""
        raw = conv.facts.get(STATE_KEY)
        return cls.model_validate(raw) if isinstance(raw, dict) else cls()

    def save(self, conv: Conversation) -> None:
        """Store the state with the conversation."""
        conv.facts[STATE_KEY] = self.model_dump(mode="json")

    def merge(self, facts: Facts) -> None:
        """Take in what a message states: later facts win, a day completes a month given before."""
        if facts.plan:
            self.plan = facts.plan
        if facts.billing:
            self.billing = facts.billing
        if facts.signup:
            s = facts.signup
            self.signup = SignupFact(start=s.start, end=s.end, precision=s.precision,  # type: ignore[arg-type]
                                     alternatives=list(s.alternatives), text=s.text)
        elif facts.day_only and self.signup and self.signup.precision == "month":
            try:
                day = self.signup.start.replace(day=facts.day_only)
            except ValueError:
                return
            self.signup = SignupFact(start=day, end=day, precision="day", text=f"{self.signup.text}, {facts.day_only}")

    def resolve_ambiguity(self, chosen: date) -> None:
        """Keep one reading of an ambiguous date the customer confirmed."""
        if self.signup and chosen in [self.signup.start, *self.signup.alternatives]:
            self.signup = SignupFact(start=chosen, end=chosen, precision="day", text=self.signup.text)


@dataclass
class Turn:
    """What the answerer knows while it answers one message."""

    message: str
    lang: Language
    facts: Facts
    profile: Profile
    span: SignupSpan | None
    conv: Conversation
    state: ConversationState
    today: date
    as_of: date
    signed: bool = False
    tool_calls: list[ToolCall] = field(default_factory=list)
    shown_notes: set[str] = field(default_factory=set)


def prepare(message: str, conv: Conversation, request_profile: Profile | None, *, engine: Engine, cues: dict[str, Cues],
            today: date) -> Turn:
    """Read the message's facts, merge them into the conversation's state and the request's profile."""
    lang = detect_language(message)
    facts = extract_facts(message, engine, today, cues.get(lang) or cues["en"])
    state = ConversationState.of(conv)
    if state.signup and state.signup.alternatives and facts.signup and facts.signup.exact:
        state.resolve_ambiguity(facts.signup.start)
        facts.signup = None
    state.merge(facts)
    span = state.signup.span() if state.signup else None
    profile = Profile(plan=state.plan, billing=state.billing, signup_date=span.start if span else None)
    signed = bool(request_profile is not None and getattr(request_profile, "signed", False))
    if request_profile is not None and not request_profile.is_empty():
        # What the app knows of the account wins over what a message claims (names become catalog ids).
        catalog = engine.catalog
        request_profile = request_profile.model_copy(update={
            "plan": catalog.resolve_plan(request_profile.plan) if request_profile.plan else None,
            "billing": catalog.resolve_billing(request_profile.billing) if request_profile.billing else None})
        profile = profile.merged(request_profile)
        if request_profile.signup_date:
            span = SignupSpan(request_profile.signup_date, request_profile.signup_date, "")
    # A profile the host site signed (WIDGET_SECRET) is the account's: no message overrides it, and the answer says so.
    signed_profile = getattr(conv, "signed_profile", None)
    if signed_profile is not None and not signed_profile.is_empty():
        signed = True
        catalog = engine.catalog
        signed_profile = signed_profile.model_copy(update={
            "plan": catalog.resolve_plan(signed_profile.plan) if signed_profile.plan else None,
            "billing": catalog.resolve_billing(signed_profile.billing) if signed_profile.billing else None})
        claimed = {f: v for f, v in (("plan", facts.plan), ("billing", facts.billing)) if v}
        profile = profile.merged(signed_profile)
        if signed_profile.signup_date:
            span = SignupSpan(signed_profile.signup_date, signed_profile.signup_date, "")
        if signed_profile.plan and any(v != getattr(signed_profile, f) for f, v in claimed.items() if getattr(signed_profile, f)):
            from bot.templates import load_templates

            name = engine.wording(lang).plan(signed_profile.plan)
            conv.notes.append(load_templates()[lang].render("signed_plan", plan=name))
    as_of = facts.as_of or today
    return Turn(message, lang, facts, profile, span, conv, state, today, as_of, signed,
                shown_notes=set(state.notes_shown))


def remember(turn: Turn, **changes: Any) -> None:
    """Update and store the conversation state after a turn."""
    for key, value in changes.items():
        setattr(turn.state, key, value)
    turn.state.notes_shown = sorted(turn.shown_notes)
    turn.state.save(turn.conv)
