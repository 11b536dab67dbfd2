"""Conversations: sessions with remembered profile facts, turns, feedback; SQLite by default."""
from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, create_engine, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from bot.errors import InputError
from bot.types import Answer, Profile

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Phone numbers: 8+ digits with optional separators, +country, or Korean 010-xxxx-xxxx forms.
PHONE = re.compile(r"(?<![\w.])(?:\+?\d[\d\s().-]{6,}\d)(?![\w.])")
SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def mask_pii(text: str) -> str:
    """Return text with e-mail addresses and phone numbers masked."""
    text = EMAIL.sub("[email]", text)
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
    """A session as the answerers see it: remembered facts and recent turns."""

    id: str
    facts: dict[str, Any] = field(default_factory=dict)
    turns: list[dict[str, Any]] = field(default_factory=list)

    @property
    def profile(self) -> Profile:
        """Return the profile facts the customer stated so far."""
        return Profile.model_validate({k: v for k, v in self.facts.get("profile", {}).items() if v})


def _now() -> datetime:
    return datetime.now(timezone.utc)


def new_session_id() -> str:
    """Return a fresh random session id."""
    return uuid.uuid4().hex


class ConversationStore:
    """Sessions and turns in any SQLAlchemy database; text is masked before it is written."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = create_engine(url, future=True)
        _Base.metadata.create_all(self.engine)

    def load(self, session_id: str | None, history_turns: int = 20) -> Conversation:
        """Return the conversation, or a new empty one (ids are checked, never trusted as SQL)."""
        if session_id is None:
            return Conversation(new_session_id())
        if not SESSION_ID.match(session_id):
            raise InputError("session_id must be 8-64 letters, digits, '-' or '_'")
        with Session(self.engine) as db:
            row = db.get(SessionRow, session_id)
            if row is None:
                return Conversation(session_id)
            turns = db.scalars(
                select(TurnRow).where(TurnRow.session_id == session_id).order_by(TurnRow.seq.desc()).limit(history_turns)
            ).all()
            return Conversation(session_id, dict(row.facts or {}), [
                {"id": t.id, "question": t.question, "answer": t.answer, "route": t.route,
                 "language": t.language, **(t.data or {})}
                for t in reversed(turns)
            ])

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
        with Session(self.engine) as db, db.begin():
            row = db.get(SessionRow, conv.id)
            if row is None:
                row = SessionRow(id=conv.id, created_at=now, updated_at=now, facts={})
                db.add(row)
            row.facts = json.loads(json.dumps(conv.facts, default=str))
            row.updated_at = now
            last = db.scalar(select(TurnRow.seq).where(TurnRow.session_id == conv.id).order_by(TurnRow.seq.desc()).limit(1))
            seq = (last or 0) + 1
            db.add(TurnRow(
                id=turn_id, session_id=conv.id, seq=seq, created_at=now, question=mask_pii(question),
                answer=mask_pii(answer.answer), route=answer.route, mode=answer.mode, language=answer.language,
                top_score=answer.retrieved[0].dense if answer.retrieved else None, data=data,
            ))
        return turn_id

    def record_feedback(self, session_id: str, turn_id: str, rating: str, comment: str | None = None) -> None:
        """Store a thumbs up/down (and an optional comment) on a turn of the session."""
        if rating not in ("up", "down"):
            raise InputError("rating must be 'up' or 'down'")
        with Session(self.engine) as db, db.begin():
            turn = db.get(TurnRow, turn_id)
            if turn is None or turn.session_id != session_id:
                raise InputError("no such turn in this session")
            turn.rating = rating
            turn.comment = mask_pii(comment)[:2000] if comment else None

    def iter_turns(self) -> Iterator[dict[str, Any]]:
        """Yield every stored turn, oldest first (for content-gap reports)."""
        with Session(self.engine) as db:
            for t in db.scalars(select(TurnRow).order_by(TurnRow.created_at)):
                yield {"id": t.id, "session_id": t.session_id, "question": t.question, "answer": t.answer,
                       "route": t.route, "mode": t.mode, "language": t.language, "top_score": t.top_score,
                       "rating": t.rating, "comment": t.comment, "created_at": t.created_at.isoformat(),
                       **(t.data or {})}
