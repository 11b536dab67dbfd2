"""Conversations: sessions with remembered profile facts, turns, feedback; SQLite by default."""
from __future__ import annotations

import json
import logging
import re
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, event, DateTime, ForeignKey, Integer, String, Text, create_engine, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from bot.db import create_tables
from bot.errors import BotError, InputError
from bot.types import Answer, Profile

log = logging.getLogger("bot.conversation")

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Phone numbers: 8+ digits with optional separators, +country, or Korean 010-xxxx-xxxx forms.
PHONE = re.compile(r"(?<![\w.])(?:\+?\d[\d\s().-]{6,}\d)(?![\w.])")
SESSION_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")  # always fullmatch: "$" would accept a trailing newline
# What no database column may hold: NUL (PostgreSQL refuses it) and lone surrogates (not encodable as UTF-8).
UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


class StorageUnavailable(BotError):
    """The conversation database cannot be reached or written (down, full, read-only)."""

    code = "unavailable"


def mask_pii(text: str) -> str:
    """Return text with e-mail addresses and phone numbers masked (and nothing a database refuses)."""
    text = EMAIL.sub("[email]", UNSTORABLE.sub("\ufffd", text))
    return PHONE.sub(lambda m: "[phone]" if sum(c.isdigit() for c in m.group(0)) >= 8 else m.group(0), text)


class _Base(DeclarativeBase):
    pass


class SessionRow(_Base):
    __tablename__ = "sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    facts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class TurnRow(_Base):
    __tablename__ = "turns"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    route: Mapped[str] = mapped_column(String(16))
    mode: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(8))
    top_score: Mapped[float | None] = mapped_column(default=None)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    rating: Mapped[str | None] = mapped_column(String(8), default=None)
    comment: Mapped[str | None] = mapped_column(Text, default=None)


@dataclass
class Conversation:
    """A session as the answerers see it: remembered facts, recent turns, notes for this turn's answer."""

    id: str
    facts: dict[str, Any] = field(default_factory=dict)
    turns: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    stored: bool = False  # its session row exists in the database (loaded from it, or saved once)

    @property
    def profile(self) -> Profile:
        """Return the profile facts the customer stated so far."""
        return Profile.model_validate({k: v for k, v in self.facts.get("profile", {}).items() if v})

    @property
    def signed_profile(self) -> Profile | None:
        """Return the profile the host site signed for this conversation, unless it has expired."""
        signed = self.facts.get("signed_profile")
        if not signed:
            return None
        expires = signed.get("expires")
        if expires is not None and datetime.now(timezone.utc).timestamp() > expires:
            return None
        return Profile.model_validate({k: v for k, v in signed.items() if k != "expires" and v})

    def sign(self, profile: Profile, expires: int | None = None) -> None:
        """Remember a host-signed profile: it outranks anything a message claims, on this turn and later ones."""
        self.facts["signed_profile"] = {**profile.model_dump(mode="json", exclude_none=True), "expires": expires}


def _now() -> datetime:
    return datetime.now(timezone.utc)


def new_session_id() -> str:
    """Return a fresh random session id (192 bits, URL-safe): only the server issues them."""
    return secrets.token_urlsafe(24)


def check_session_id(session_id: str) -> str:
    """Return a well-formed session id, or raise InputError."""
    if not isinstance(session_id, str) or not SESSION_ID.fullmatch(session_id):
        raise InputError("session_id must be 8-64 letters, digits, '-' or '_'")
    return session_id


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    """WAL: readers never wait for a writer, and a commit is one append. synchronous=NORMAL keeps every
    committed turn through a crash or kill of the app (only a power cut may lose the last ones)."""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


class ConversationStore:
    """Sessions and turns in any SQLAlchemy database; text is masked before it is written."""

    def __init__(self, url: str) -> None:
        # pre_ping: a connection broken by a database restart is replaced, not handed to a request.
        self.engine: Engine = create_engine(url, future=True, pool_pre_ping=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        create_tables(_Base.metadata, self.engine)  # safe when another app server creates them too

    def ping(self) -> None:
        """Run a trivial query; raise when the database cannot be reached."""
        with self.engine.connect() as db:
            db.execute(text("SELECT 1"))

    def exists(self, session_id: str) -> bool:
        """Return True when a well-formed session id names a stored conversation."""
        check_session_id(session_id)
        with self._guard(), Session(self.engine) as db:
            return db.get(SessionRow, session_id) is not None

    def load(self, session_id: str | None, history_turns: int = 20) -> Conversation:
        """Return the conversation; an unknown id starts a new one under a server-issued id."""
        if session_id is None:
            return Conversation(new_session_id())
        check_session_id(session_id)
        with self._guard(), Session(self.engine) as db:
            row = db.get(SessionRow, session_id)
            if row is None:
                # Ids are issued by the server: a client-chosen one is replaced, never adopted.
                return Conversation(new_session_id())
            turns = db.scalars(
                select(TurnRow).where(TurnRow.session_id == session_id)
                .order_by(TurnRow.seq.desc(), TurnRow.created_at.desc()).limit(history_turns)
            ).all()
            return Conversation(session_id, dict(row.facts or {}), [
                {"id": t.id, "question": t.question, "answer": t.answer, "route": t.route,
                 "language": t.language, **(t.data or {})}
                for t in reversed(turns)
            ], stored=True)

    def save_turn(self, conv: Conversation, question: str, answer: Answer) -> str:
        """Store one turn and the session's facts; return the turn id."""
        now = _now()
        turn_id = uuid.uuid4().hex[:16]
        data = {
            "sources": [s.model_dump() for s in answer.sources],
            "tool_calls": [json.loads(t.model_dump_json()) for t in answer.tool_calls],
            "retrieved": [r.model_dump() for r in answer.retrieved[:5]],
            "pending": conv.facts.get("pending"),
        }
        facts = json.loads(json.dumps(conv.facts, default=str))
        with self._guard(), Session(self.engine) as db, db.begin():
            # Two servers may store the first turn of one conversation at once: insert-if-absent, then update.
            if not conv.stored:
                _ensure_session(db, conv.id, now)
            db.execute(update(SessionRow).where(SessionRow.id == conv.id).values(facts=facts, updated_at=now))
            last = db.scalar(select(TurnRow.seq).where(TurnRow.session_id == conv.id).order_by(TurnRow.seq.desc()).limit(1))
            db.execute(insert(TurnRow).values(
                id=turn_id, session_id=conv.id, seq=(last or 0) + 1, created_at=now, question=mask_pii(question),
                answer=mask_pii(answer.answer), route=answer.route, mode=answer.mode, language=answer.language,
                top_score=answer.retrieved[0].dense if answer.retrieved else None, rating=None, comment=None, data=data,
            ))
        conv.stored = True
        return turn_id

    def record_feedback(self, session_id: str, turn_id: str, rating: str, comment: str | None = None) -> None:
        """Store a thumbs up/down (and an optional comment) on a turn of the session."""
        if rating not in ("up", "down"):
            raise InputError("rating must be 'up' or 'down'")
        with self._guard(), Session(self.engine) as db, db.begin():
            turn = db.get(TurnRow, turn_id)
            if turn is None or turn.session_id != session_id:
                raise InputError("no such turn in this session")
            turn.rating = rating
            turn.comment = mask_pii(comment)[:2000] if comment else None

    def save_facts(self, conv: Conversation) -> None:
        """Store a conversation's remembered facts without adding a turn (a handoff offer after a rating)."""
        facts = json.loads(json.dumps(conv.facts, default=str))
        now = _now()
        with self._guard(), Session(self.engine) as db, db.begin():
            _ensure_session(db, conv.id, now)
            db.execute(update(SessionRow).where(SessionRow.id == conv.id).values(facts=facts, updated_at=now))

    def count_ratings(self, session_id: str, rating: str) -> int:
        """Return how many answers of a conversation carry this rating."""
        with self._guard(), Session(self.engine) as db:
            rows = db.scalars(select(TurnRow.id).where(TurnRow.session_id == session_id, TurnRow.rating == rating))
            return len(rows.all())

    def iter_turns(self) -> Iterator[dict[str, Any]]:
        """Yield every stored turn, oldest first (for content-gap reports)."""
        with Session(self.engine) as db:
            for t in db.scalars(select(TurnRow).order_by(TurnRow.created_at)):
                yield {"id": t.id, "session_id": t.session_id, "question": t.question, "answer": t.answer,
                       "route": t.route, "mode": t.mode, "language": t.language, "top_score": t.top_score,
                       "rating": t.rating, "comment": t.comment, "created_at": t.created_at.isoformat(),
                       **(t.data or {})}

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Turn a database outage (down, full disk, read-only) into StorageUnavailable."""
        try:
            yield
        except DBAPIError as exc:
            if not (isinstance(exc, (OperationalError, InterfaceError)) or exc.connection_invalidated):
                raise  # a bug, not an outage
            log.warning("conversation database unavailable: %s", type(exc.orig).__name__)
            raise StorageUnavailable("The conversation store is unavailable right now. "
                                     "Please try again in a moment.") from exc


def _ensure_session(db: Session, session_id: str, now: datetime) -> None:
    """Insert the session row unless it exists; two servers storing one first turn at once both succeed."""
    values = {"id": session_id, "created_at": now, "updated_at": now, "facts": {}}
    dialect = db.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        db.execute(insert(SessionRow).values(**values).on_conflict_do_nothing(index_elements=["id"]))
    elif db.get(SessionRow, session_id) is None:
        db.add(SessionRow(**values))
        db.flush()
