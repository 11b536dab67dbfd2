"""Database helpers shared by the stores (conversations, tickets)."""
from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, ProgrammingError


def create_tables(metadata: MetaData, engine: Engine, attempts: int = 3) -> None:
    """Create the tables that are missing; another app server creating them at the same moment is no error.

    PostgreSQL reports that race as a unique violation (on its catalog) or as a duplicate table; the next
    attempt finds the tables there and creates nothing.
    """
    for attempt in range(attempts):
        try:
            metadata.create_all(engine)
            return
        except (IntegrityError, ProgrammingError):
            if attempt == attempts - 1:
                raise
