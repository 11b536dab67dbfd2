"""Handing a conversation to a person: offer one, ask for the reply address (with consent), file and send the
ticket, and tell the customer only what actually happened."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from bot.answer.cues import Cues, load_cues
from bot.conversation import EMAIL, Conversation, ConversationStore, mask_pii
from bot.desk import Desk
from bot.errors import InputError
from bot.settings import Settings
from bot.templates import Templates, load_templates
from bot.tickets import Ticket, TicketStore, new_ref
from bot.types import Answer, Handoff, Language, Profile

log = logging.getLogger("bot.handoff")

STATE_KEY = "handoff"
# The customer asked for a person (or for money back, which only a person can give): no offer, a ticket.
EXPLICIT = frozenset({"human", "money"})
MAX_TICKETS = 3  # per conversation: more would only flood the desk with one customer's repeats
FAILED_TURNS = 2  # unanswered turns in a row before a person is offered


class UnknownConversation(InputError):
    """A handoff names a conversation the server does not have."""

    code = "not_found"


@dataclass
class Outcome:
    """What a handoff step produced: its state for clients, and the sentence the customer reads."""

    handoff: Handoff
    text: str


def valid_email(text: str) -> str | None:
    """Return the address normalised, or None when it is not a usable e-mail address (no DNS lookup)."""
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(text.strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        return None


def contact_label(url: str) -> str:
    """Return how a contact link reads: the address of a mailto: link, else the URL without its scheme."""
    if url.startswith("mailto:"):
        return url[len("mailto:"):].split("?", 1)[0]
    parts = urlsplit(url)
    return (parts.netloc + parts.path.rstrip("/")) or url


class HandoffFlow:
    """Decide each handoff step from the conversation; file tickets in the store and send them through the desk."""

    def __init__(self, settings: Settings, conversations: ConversationStore, tickets: TicketStore, desk: Desk,
                 templates: dict[str, Templates] | None = None, cues: dict[str, Cues] | None = None) -> None:
        self.settings = settings
        self.conversations = conversations
        self.tickets = tickets
        self.desk = desk
        self.templates = templates or load_templates()
        self.cues = cues or load_cues(settings.cues_file)

    @property
    def has_desk(self) -> bool:
        """Return True when tickets are sent somewhere (a webhook or e-mail)."""
        return bool(self.desk.channels)

    # --- one chat turn ---------------------------------------------------------------------
    def reply(self, message: str, conv: Conversation, profile: Profile | None) -> Answer | None:
        """Answer a message that replies to a pending handoff (an e-mail address, or yes); None for anything else."""
        state = _state(conv)
        pending = state.pop("pending", None)  # an offer waits one turn: later messages are questions again
        if not pending:
            return None
        lang: Language = pending.get("lang", "en")
        reason = pending.get("reason", "human")
        found = EMAIL.search(message)
        if found and self.has_desk:
            email = valid_email(found.group())
            if email is None:
                state["pending"] = pending
                text = self.tpl(lang).render("desk.bad_email", text=found.group())
                outcome = Outcome(self._handoff("email_needed", reason), text)
            else:
                outcome = self.file(conv, reason, lang, profile, email=email, consent=True)
        elif self._cue(lang, "handoff_accept", message):
            outcome = self.start(conv, reason, lang, profile)
        else:
            return None
        return Answer(answer=outcome.text, route="handoff", session_id=conv.id, language=lang, handoff=outcome.handoff)

    def after(self, message: str, conv: Conversation, answer: Answer, profile: Profile | None) -> Answer:
        """Finish an answer's handoff (an offer, the e-mail question or a ticket) and count unanswered turns."""
        state = _state(conv)
        handoff = answer.handoff
        if handoff is None and answer.route == "handoff":
            handoff = Handoff(status="offered", reason="not_covered")  # the model-written "not covered" answer
        unanswered = answer.route == "refuse" or (handoff is not None and handoff.reason == "not_covered")
        state["unanswered"] = state.get("unanswered", 0) + 1 if unanswered else 0
        lead = ""
        if unanswered and state["unanswered"] >= FAILED_TURNS:
            handoff = Handoff(status="offered", reason="failed_answers")
            lead = self.tpl(answer.language).render("desk.again") + " "
        if handoff is None or handoff.status != "offered":
            return answer
        lang = answer.language
        if handoff.reason in EXPLICIT:
            turn = {"question": mask_pii(message), "answer": answer.answer}
            outcome = self.start(conv, handoff.reason, lang, profile, turn)
        else:
            outcome = self.offer(conv, handoff.reason, lang)
        return answer.model_copy(update={"answer": f"{answer.answer}\n\n{lead}{outcome.text}".strip(),
                                         "route": "handoff", "handoff": outcome.handoff})

    # --- steps -----------------------------------------------------------------------------
    def offer(self, conv: Conversation, reason: str, lang: Language) -> Outcome:
        """Offer a person: with a desk, ask for the reply address; without one, say where to write."""
        if self.has_desk:
            _state(conv)["pending"] = {"reason": reason, "lang": lang}
            return Outcome(self._handoff("offered", reason), self.tpl(lang).render("desk.offer"))
        url = self.settings.contact_url
        return Outcome(self._handoff("offered", reason),
                       self.tpl(lang).render("desk.offer_contact", contact=contact_label(url), url=url))

    def start(self, conv: Conversation, reason: str, lang: Language, profile: Profile | None,
              turn: dict[str, str] | None = None) -> Outcome:
        """Go ahead with a handoff the customer wants: ask for the address, or file the ticket."""
        if self.has_desk:
            email = self.known_email(conv.id)
            if email is None:
                _state(conv)["pending"] = {"reason": reason, "lang": lang}
                return Outcome(self._handoff("email_needed", reason), self.tpl(lang).render("desk.ask_email"))
            return self.file(conv, reason, lang, profile, email=email, consent=True, turn=turn)
        return self.file(conv, reason, lang, profile, turn=turn)

    def file(self, conv: Conversation, reason: str, lang: Language, profile: Profile | None, *,
             email: str | None = None, consent: bool = False, turn: dict[str, str] | None = None) -> Outcome:
        """Store a ticket, send it to the desk, and word the result: sent only when a channel took it."""
        earlier = self.tickets.for_session(conv.id)
        if len(earlier) >= MAX_TICKETS:
            return self.told(earlier[-1], lang)
        transcript = [{"question": t.get("question", ""), "answer": t.get("answer", "")} for t in conv.turns]
        ticket = self.tickets.create(Ticket(
            ref=new_ref(), session_id=conv.id, created_at=datetime.now(timezone.utc), reason=reason, language=lang,
            email=email if consent else None, consent=consent, profile=profile_of(conv, profile),
            transcript=transcript + ([turn] if turn else [])))
        status, deliveries = self.desk.deliver(ticket)
        self.tickets.record(ticket.ref, status, deliveries)
        log.info("handoff %s (%s): %s", ticket.ref, reason, status)
        return self.told(ticket.model_copy(update={"status": status, "deliveries": deliveries}), lang)

    def told(self, ticket: Ticket, lang: Language) -> Outcome:
        """Word a ticket's state for the customer."""
        tpl, url = self.tpl(lang), self.settings.contact_url
        if ticket.status == "delivered":
            return Outcome(self._handoff("sent", ticket.reason, ref=ticket.ref, email=ticket.email or ""),
                           tpl.render("desk.sent", ref=ticket.ref, email=ticket.email or "-"))
        key = "desk.not_configured" if ticket.status == "not_configured" else "desk.failed"
        return Outcome(self._handoff("not_sent", ticket.reason, ref=ticket.ref),
                       tpl.render(key, ref=ticket.ref, contact=contact_label(url), url=url))

    # --- outside a chat turn: the page's and the widget's form, and thumbs-down ------------
    def request(self, session_id: str, email: str | None, consent: bool, profile: Profile | None = None) -> Outcome:
        """File a handoff the customer asked for with the form (their address, and consent to send it)."""
        conv = self._conversation(session_id)
        lang = _language(conv)
        address = None
        if email:
            if not consent:
                raise InputError("consent is needed to send your e-mail address to Carat support")
            address = valid_email(email)
            if address is None:
                raise InputError("the e-mail address is not complete; please check it")
        elif self.has_desk:
            raise InputError("an e-mail address is needed so Carat support can reply")
        pending = _state(conv).pop("pending", None) or {}
        outcome = self.file(conv, pending.get("reason", "human"), lang, profile, email=address, consent=consent)
        self.conversations.save_facts(conv)
        return outcome

    def thumbs_down(self, session_id: str) -> Outcome | None:
        """Offer a person on a conversation's second thumbs-down (once; later ones change nothing)."""
        if self.conversations.count_ratings(session_id, "down") < 2:
            return None
        conv = self._conversation(session_id)
        if _state(conv).get("offered_after_ratings"):
            return None  # a reason added to a rating, or a third thumbs-down: offered already
        _state(conv)["offered_after_ratings"] = True
        lang = _language(conv)
        outcome = self.offer(conv, "thumbs_down", lang)
        self.conversations.save_facts(conv)
        text = self.tpl(lang).render("desk.thumbs_down") + " " + outcome.text
        return Outcome(outcome.handoff, text)

    def known_email(self, session_id: str) -> str | None:
        """Return the address the customer gave for an earlier ticket of this conversation."""
        for ticket in reversed(self.tickets.for_session(session_id)):
            if ticket.email and ticket.consent:
                return ticket.email
        return None

    # --- pieces ----------------------------------------------------------------------------
    def tpl(self, lang: str) -> Templates:
        """Return a language's templates (English for any other)."""
        return self.templates.get(lang) or self.templates["en"]

    def _cue(self, lang: str, name: str, text: str) -> bool:
        return any(c.has(name, text) for c in (self.cues.get(lang), self.cues["en"]) if c is not None)

    def _handoff(self, status: str, reason: str, **fields: Any) -> Handoff:
        return Handoff(status=status, reason=reason, contact_url=self.settings.contact_url,  # type: ignore[arg-type]
                       desk=self.has_desk, **fields)

    def _conversation(self, session_id: str) -> Conversation:
        if not self.conversations.exists(session_id):
            raise UnknownConversation("No such conversation.")
        return self.conversations.load(session_id)


def _state(conv: Conversation) -> dict[str, Any]:
    """Return the conversation's handoff state (stored with its facts)."""
    state = conv.facts.get(STATE_KEY)
    if not isinstance(state, dict):
        state = conv.facts[STATE_KEY] = {}
    return state


def _language(conv: Conversation) -> Language:
    """Return the language of the conversation's last answer."""
    return "ko" if conv.turns and conv.turns[-1].get("language") == "ko" else "en"


def profile_of(conv: Conversation, request: Profile | None) -> dict[str, Any]:
    """Return what the conversation knows of the customer's subscription, and whether the host site signed it."""
    state = conv.facts.get("state") or {}
    signup = (state.get("signup") or {}).get("start")
    out: dict[str, Any] = {"plan": state.get("plan"), "billing": state.get("billing"), "signup_date": signup}
    if request is not None:
        out.update(request.model_dump(mode="json", exclude_none=True))
    signed = conv.signed_profile
    if signed is not None:
        out.update(signed.model_dump(mode="json", exclude_none=True))
    out["signed"] = signed is not None
    return out
