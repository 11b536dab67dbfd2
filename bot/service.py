"""The one answer API behind the CLI, the web app, the widget and the eval harness."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

from bot.conversation import ConversationStore
from bot.errors import InputError
from bot.settings import Settings, get_settings
from bot.types import Answer, Profile, StreamEvent

MAX_MESSAGE_CHARS = 4000


class SupportBot:
    """Answer customers: LLM mode when a model is configured, the offline answerer otherwise."""

    def __init__(self, settings: Settings, *, retriever: Any, engine: Any, conversations: ConversationStore,
                 today: Callable[[], date] = date.today, llm: Any | None = None) -> None:
        from bot.answer.offline import OfflineAnswerer

        self.settings = settings
        self.retriever = retriever
        self.engine = engine
        self.conversations = conversations
        self.today = today
        self.offline = OfflineAnswerer(retriever=retriever, engine=engine, today=today)
        self.llm = llm

    @property
    def mode(self) -> str:
        """Return 'llm' when a model is configured, else 'offline'."""
        return "llm" if self.llm is not None else "offline"

    def ask(self, message: str, *, session_id: str | None = None, profile: Profile | None = None) -> Answer:
        """Answer one message and remember the turn."""
        final: Answer | None = None
        for event in self.stream(message, session_id=session_id, profile=profile):
            if event.type == "final":
                final = event.answer
        assert final is not None
        return final

    def stream(self, message: str, *, session_id: str | None = None,
               profile: Profile | None = None) -> Iterator[StreamEvent]:
        """Yield text deltas, then one final event carrying the whole Answer."""
        message = check_message(message)
        conv = self.conversations.load(session_id)
        answerer = self.llm if self.llm is not None else self.offline
        final: Answer | None = None
        for event in answerer.stream(message, conv, profile):
            if event.type == "final":
                final = event.answer
            else:
                yield event
        assert final is not None
        final = final.model_copy(update={"session_id": conv.id})
        final.turn_id = self.conversations.save_turn(conv, message, final)
        yield StreamEvent(type="final", answer=final)

    def feedback(self, session_id: str, turn_id: str, rating: str, comment: str | None = None) -> None:
        """Store a thumbs up/down on a turn."""
        self.conversations.record_feedback(session_id, turn_id, rating, comment)

    def history(self, session_id: str) -> list[dict[str, Any]]:
        """Return the stored turns of a session, oldest first."""
        return self.conversations.load(session_id).turns


def check_message(message: Any) -> str:
    """Return the stripped message, or raise InputError for empty, non-text or huge input."""
    if not isinstance(message, str):
        raise InputError("the message must be text")
    message = message.strip()
    if not message:
        raise InputError("the message is empty")
    if len(message) > MAX_MESSAGE_CHARS:
        raise InputError(f"the message is too long ({len(message)} characters; the limit is {MAX_MESSAGE_CHARS})",
                         limit=MAX_MESSAGE_CHARS)
    return message


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
    engine = Engine.from_file(settings.rules_file)
    bot = SupportBot(settings, retriever=retriever, engine=engine,
                     conversations=ConversationStore(settings.db_url), today=today)
    if settings.llm_enabled:
        from bot.answer.llm import LLMAnswerer

        bot.llm = LLMAnswerer(settings, retriever=retriever, engine=engine, today=today, offline=bot.offline)
    return bot
