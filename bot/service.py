"""The one answer API behind the CLI, the web app, the widget and the eval harness."""
from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

from bot import timing
from bot.answer.labels import localize_labels
from bot.conversation import ConversationStore
from bot.errors import InputError
from bot.handoff import HandoffFlow, Outcome
from bot.settings import Settings, get_settings
from bot.types import Answer, Profile, StreamEvent

# The one message limit: the API, the page's box, the widget and the README all use this number, and
# retrieval accepts questions up to the same size.
MAX_MESSAGE_CHARS = 2000
MAX_COMMENT_CHARS = 2000
MAX_EMAIL_CHARS = 254  # the longest address SMTP carries
# Control characters (tab and newlines aside) and lone surrogates: no customer types them, and some
# databases cannot store them, so they are refused the same way everywhere.
FORBIDDEN_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


class SupportBot:
    """Answer customers: LLM mode when a model is configured, the offline answerer otherwise."""

    def __init__(self, settings: Settings, *, retriever: Any, engine: Any, conversations: ConversationStore,
                 today: Callable[[], date] = date.today, llm: Any | None = None, handoffs: HandoffFlow | None = None) -> None:
        from bot.answer.offline import OfflineAnswerer

        self.settings = settings
        self.retriever = retriever
        self.engine = engine
        self.conversations = conversations
        self.today = today
        self.offline = OfflineAnswerer(retriever=retriever, engine=engine, today=today, settings=settings)
        self.llm = llm
        self.handoffs = handoffs or make_handoffs(settings, conversations)

    @property
    def mode(self) -> str:
        """Return 'llm' when a model is configured, else 'offline'."""
        return "llm" if self.llm is not None else "offline"

    def ask(self, message: str, *, session_id: str | None = None, profile: Profile | None = None,
            signed: bool = False, signed_expires: int | None = None) -> Answer:
        """Answer one message and remember the turn."""
        final: Answer | None = None
        for event in self.stream(message, session_id=session_id, profile=profile, signed=signed,
                                 signed_expires=signed_expires):
            if event.type == "final":
                final = event.answer
        assert final is not None
        return final

    def stream(self, message: str, *, session_id: str | None = None, profile: Profile | None = None,
               signed: bool = False, signed_expires: int | None = None) -> Iterator[StreamEvent]:
        """Yield text deltas, then one final event carrying the whole Answer.

        `signed` marks a profile the host site signed (WIDGET_SECRET): the conversation keeps it and
        nothing a message claims overrides it.
        """
        message = check_message(message)
        self.check_profile(profile)
        with timing.phase("load"):
            conv = self.conversations.load(session_id)
        if signed and profile is not None:
            conv.sign(profile, signed_expires)
        answerer = self.llm if self.llm is not None else self.offline
        final: Answer | None = None
        noted = ""
        # A reply to "talk to a person?" (an e-mail address, a yes) is the handoff's, not a question.
        reply = self.handoffs.reply(message, conv, profile)
        events = (answerer.stream(message, conv, profile) if reply is None
                  else iter([StreamEvent(type="token", text=reply.answer), StreamEvent(type="final", answer=reply)]))
        answering = time.perf_counter()  # to the final answer (a stream's reader adds its own time)
        for event in events:
            # Notes (e.g. which plan was used, and why) are known once the answerer has read the message.
            if not noted and conv.notes:
                noted = "\n\n".join(dict.fromkeys(conv.notes)) + "\n\n"
                yield StreamEvent(type="token", text=noted)
            if event.type == "final":
                final = event.answer
            else:
                yield event
        assert final is not None
        if reply is None:
            # An offer of a person, the e-mail question, or the ticket sent (or not): the rest of the answer.
            finished = self.handoffs.after(message, conv, final, profile)
            if finished.answer != final.answer:
                yield StreamEvent(type="token", text=finished.answer[len(final.answer):])
            final = finished
        # A model may copy a page's two-language UI labels ("[Home(홈)]"): the customer reads their language's.
        final = final.model_copy(update={"session_id": conv.id,
                                         "answer": localize_labels(noted + final.answer, final.language)})
        timing.add("answer", (time.perf_counter() - answering) * 1000)
        with timing.phase("save"):
            final.turn_id = self.conversations.save_turn(conv, message, final)
        yield StreamEvent(type="final", answer=final)

    def feedback(self, session_id: str, turn_id: str, rating: str, comment: str | None = None) -> Outcome | None:
        """Store a thumbs up/down on a turn; on the conversation's second thumbs-down, return an offer of a person."""
        if comment is not None:
            comment = check_text(comment, "the comment", MAX_COMMENT_CHARS)
        self.conversations.record_feedback(session_id, turn_id, rating, comment)
        return self.handoffs.thumbs_down(session_id) if rating == "down" else None

    def handoff(self, session_id: str, email: str | None, consent: bool, profile: Profile | None = None) -> Outcome:
        """Pass a conversation to a person from the page's or the widget's form (address and consent given there)."""
        if email is not None:
            email = check_text(email, "the e-mail address", MAX_EMAIL_CHARS) or None
        self.check_profile(profile)
        return self.handoffs.request(session_id, email, consent, profile)

    def check_profile(self, profile: Profile | None) -> None:
        """Refuse a profile naming a plan or billing cycle the rules do not know (InputError)."""
        if profile is None or not hasattr(self.engine, "catalog"):
            return
        if profile.plan:
            self.engine.catalog.resolve_plan(profile.plan)
        if profile.billing:
            self.engine.catalog.resolve_billing(profile.billing)

    def known_session(self, session_id: str | None) -> str | None:
        """Return the id when it names a stored conversation, None for a new one; refuse malformed ids."""
        if session_id is None:
            return None
        return session_id if self.conversations.exists(session_id) else None

    def history(self, session_id: str) -> list[dict[str, Any]]:
        """Return the stored turns of a session, oldest first."""
        return self.conversations.load(session_id).turns


def check_message(message: Any) -> str:
    """Return the stripped message, or raise InputError for empty, non-text, huge or unprintable input."""
    message = check_text(message, "the message", MAX_MESSAGE_CHARS)
    if not message:
        raise InputError("the message is empty")
    return message


def check_text(value: Any, what: str, limit: int) -> str:
    """Return stripped text, or raise InputError when it is not text, too long or has forbidden characters."""
    if not isinstance(value, str):
        raise InputError(f"{what} must be text")
    value = value.strip()
    if len(value) > limit:
        raise InputError(f"{what} is too long ({len(value)} characters; the limit is {limit})", limit=limit)
    bad = FORBIDDEN_CHARS.search(value)
    if bad:
        kind = "an unpaired surrogate" if "\ud800" <= bad.group() <= "\udfff" else "a control character"
        raise InputError(f"{what} contains {kind} (U+{ord(bad.group()):04X}), which is not allowed")
    return value


def make_handoffs(settings: Settings, conversations: ConversationStore) -> HandoffFlow:
    """Build the handoff flow: tickets in the conversations' database, sent by the configured desk."""
    from bot.desk import Desk
    from bot.tickets import TicketStore

    return HandoffFlow(settings, conversations, TicketStore(conversations.engine), Desk(settings))


def make_bot(settings: Settings | None = None, *, today: Callable[[], date] = date.today,
             ensure_index: bool = False) -> SupportBot:
    """Build the bot from settings: store, retriever, rules engine, conversations, model."""
    from bot.eligibility import Engine
    from bot.retrieval import Glossary, Retriever
    from bot.store import Store, ready_store

    settings = settings or get_settings()
    # A long-lived bot checks the index at start: a missing or unreadable one is (re)built.
    store = ready_store(settings) if ensure_index else Store(settings)
    retriever = Retriever(store, Glossary.load(settings.glossary_file))
    if ensure_index:
        # Rows, lexical index, model and vectors load while the rest starts; health and search wait for them.
        retriever.prepare(background=True)
        from bot.answer.facts import warm_up

        threading.Thread(target=warm_up, name="warm-dates", daemon=True).start()
    engine = Engine.from_file(settings.rules_file)
    bot = SupportBot(settings, retriever=retriever, engine=engine,
                     conversations=ConversationStore(settings.db_url), today=today)
    if settings.llm_enabled:
        from bot.answer.llm import LLMAnswerer

        bot.llm = LLMAnswerer(settings, retriever=retriever, engine=engine, today=today, offline=bot.offline)
    return bot
