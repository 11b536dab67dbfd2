"""The answer the engine gives: a frozen, JSON-ready verdict and the structured reason behind it."""
from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

InputName = Literal["plan", "billing", "signup_date", "variant"]
INPUT_ORDER: tuple[InputName, ...] = ("plan", "billing", "signup_date", "variant")
ExplanationKind = Literal["covered", "not_covered", "never", "always_paid", "expired", "gate", "page_unclear", "depends"]


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


class Group(_Frozen):
    """Who one rule covers, exactly as its conditions say (plans as listed, before `same_as`)."""

    plans: tuple[str, ...] | None = None
    billing: tuple[str, ...] | None = None
    signup_from: date | None = None
    signup_from_month: bool = False
    signup_to: date | None = None
    dates_not_given: bool = False
    lasts_years: int = 0
    lasts_months: int = 0
    variants: tuple[str, ...] | None = None


class Explanation(_Frozen):
    """Why a verdict is what it is, as data: the wording in any language is made from it."""

    kind: ExplanationKind
    model: str
    variant: str | None = None
    group: Group | None = None
    groups: tuple[Group, ...] = ()
    basis: str | None = None
    level: str | None = None
    expires_on: date | None = None
    plan: str | None = None
    billing: str | None = None
    gate_from: date | None = None
    missing: tuple[InputName, ...] = ()


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
    explanation: Explanation
    also: tuple[Explanation, ...] = ()
    note_keys: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON shape: verdict, reason, rule_id, source, expires_on, missing, notes, then the inputs."""
        return self.model_dump(mode="json")
