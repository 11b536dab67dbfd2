"""Handoff tickets: a conversation passed to a person, with its delivery state; stored beside the conversations."""
from __future__ import annotations

import secrets
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import JSON, DateTime, String, create_engine, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from bot.db import create_tables

# References are read aloud and typed by customers: letters only (no digit to read as a figure), none of I, L, O, S, Z
# (taken for 1, 0, 5 and 2): 21 letters, 6 of them, 85 million references.
REF_ALPHABET = "ABCDEFGHJKMNPQRTUVWXY"
REF_LENGTH = 6
Status = Literal["pending", "delivered", "failed", "not_configured"]


class Delivery(BaseModel):
    """How sending a ticket to one channel (webhook or e-mail) went."""

    channel: Literal["webhook", "email"]
    ok: bool
    attempts: int
    detail: str = Field("", description="The last HTTP status or error, for the operator.")
    at: datetime


class Ticket(BaseModel):
    """A conversation handed to a person: what they need to answer, and whether it reached them."""

    ref: str
    session_id: str
    created_at: datetime
    reason: str
    language: str
    email: str | None = None
    consent: bool = False
    profile: dict[str, Any] = {}
    transcript: list[dict[str, str]] = []
    status: Status = "pending"
    deliveries: list[Delivery] = []

    def payload(self) -> dict[str, Any]:
        """Return the JSON the support desk receives."""
        return {"ref": self.ref, "session_id": self.session_id, "created_at": self.created_at.isoformat(),
                "reason": self.reason, "language": self.language, "email": self.email, "consent": self.consent,
                "profile": self.profile, "transcript": self.transcript}


class _Base(DeclarativeBase):
    pass


class TicketRow(_Base):
    __tablename__ = "tickets"
    ref: Mapped[str] = mapped_column(String(16), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    reason: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8))
    email: Mapped[str | None] = mapped_column(String(320), default=None)
    consent: Mapped[bool] = mapped_column(default=False)
    profile: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    transcript: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), index=True)
    deliveries: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


def new_ref() -> str:
    """Return a fresh, short ticket reference such as 'CS-7KX4QM'."""
    return "CS-" + "".join(secrets.choice(REF_ALPHABET) for _ in range(REF_LENGTH))


def _ticket(row: TicketRow) -> Ticket:
    created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=timezone.utc)
    return Ticket(ref=row.ref, session_id=row.session_id, created_at=created, reason=row.reason,
                  language=row.language, email=row.email, consent=row.consent, profile=row.profile or {},
                  transcript=row.transcript or [], status=row.status,  # type: ignore[arg-type]
                  deliveries=[Delivery.model_validate(d) for d in row.deliveries or []])


class TicketStore:
    """Tickets in any SQLAlchemy database (the conversations' one); tables are created when missing."""

    def __init__(self, engine: Engine | str) -> None:
        self.engine = create_engine(engine, future=True, pool_pre_ping=True) if isinstance(engine, str) else engine
        create_tables(_Base.metadata, self.engine)  # safe when another app server creates them too

    def create(self, ticket: Ticket) -> Ticket:
        """Store a new ticket under a fresh reference (drawn again on the rare collision)."""
        for _ in range(5):
            try:
                with Session(self.engine) as db, db.begin():
                    db.add(TicketRow(**ticket.model_dump(exclude={"deliveries"}), deliveries=[]))
                return ticket
            except IntegrityError:
                ticket = ticket.model_copy(update={"ref": new_ref()})
        raise RuntimeError("could not draw a free ticket reference")

    def record(self, ref: str, status: Status, deliveries: list[Delivery]) -> None:
        """Store how delivery went."""
        with Session(self.engine) as db, db.begin():
            row = db.get(TicketRow, ref)
            if row is None:
                raise KeyError(ref)
            row.status = status
            row.deliveries = [d.model_dump(mode="json") for d in deliveries]

    def get(self, ref: str) -> Ticket | None:
        """Return a ticket by reference."""
        with Session(self.engine) as db:
            row = db.get(TicketRow, ref.strip().upper())
            return _ticket(row) if row else None

    def for_session(self, session_id: str) -> list[Ticket]:
        """Return a conversation's tickets, oldest first."""
        with Session(self.engine) as db:
            rows = db.scalars(select(TicketRow).where(TicketRow.session_id == session_id).order_by(TicketRow.created_at))
            return [_ticket(r) for r in rows]

    def latest(self, limit: int = 50, status: str | None = None) -> list[Ticket]:
        """Return the newest tickets first (optionally only those in one delivery state)."""
        with Session(self.engine) as db:
            query = select(TicketRow).order_by(TicketRow.created_at.desc()).limit(limit)
            if status:
                query = query.where(TicketRow.status == status)
            return [_ticket(r) for r in db.scalars(query)]
