"""The answer the engine gives: a frozen, JSON-ready verdict."""
from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

InputName = Literal["plan", "billing", "signup_date", "variant"]
INPUT_ORDER: tuple[InputName, ...] = ("plan", "billing", "signup_date", "variant")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelRef(_Frozen):
    """Canonical id, display name and kind of a model."""

    id: str
    name: str
    kind: str


class SourceRef(_Frozen):
    """Where on the help center a verdict comes from."""

    title: str
    section: str
    url: str


class Verdict(_Frozen):
    """Whether one model is unlimited for one customer, why, and what is still needed."""

    verdict: Literal["unlimited", "uses_credits", "unknown"]
    reason: str
    rule_id: str
    source: SourceRef
    expires_on: date | None = None
    missing: tuple[InputName, ...] = ()
    notes: tuple[str, ...] = ()
    model: ModelRef
    variant: str | None = None
    plan: str | None = None
    billing: str | None = None
    signup_date: date | None = None
    as_of: date

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON shape: verdict, reason, rule_id, source, expires_on, missing, notes, then the inputs."""
        return self.model_dump(mode="json")
