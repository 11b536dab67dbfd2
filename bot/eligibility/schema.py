"""Typed schema of the eligibility rules file; unknown fields are refused."""
from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, model_validator

VerdictName = Literal["unlimited", "uses_credits", "unknown"]
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ID_PATTERN = r"^[a-z0-9][a-z0-9.\-]*$"


def parse_iso_date(value: object) -> date:
    """Return a date from a YYYY-MM-DD string (or a date); refuse anything looser."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not ISO_DATE.match(value.strip()):
        raise ValueError(f"{value!r} is not a date written YYYY-MM-DD")
    try:
        return date.fromisoformat(value.strip())
    except ValueError as err:
        raise ValueError(f"{value.strip()} is not a real date ({err})") from err


def _non_empty(items: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """Refuse an empty list, which would silently match nothing."""
    if items is not None and not items:
        raise ValueError("must list at least one value (leave the field out to mean 'any')")
    return items


IsoDate = Annotated[date, BeforeValidator(parse_iso_date)]
Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
IdList = Annotated[tuple[Id, ...] | None, AfterValidator(_non_empty)]
Text = Annotated[str, StringConstraints(min_length=1)]


class Strict(BaseModel):
    """Base for every part of the file: frozen, and unknown fields are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceSpec(Strict):
    """The help-center page the rules come from and the sections they may cite."""

    page: Text
    title: Text
    url: Text
    sections: dict[str, Text] = Field(min_length=1)


class NotesSpec(Strict):
    """Caveats added to verdicts of a given kind."""

    unlimited: tuple[Text, ...] = ()


class GateRule(Strict):
    """Citation and wording for a plan-wide date condition."""

    id: Id
    section: Text
    reason: Text


class PlanSpec(Strict):
    """A subscription plan, possibly inheriting another plan's benefits."""

    name: Text
    aliases: tuple[Text, ...] = ()
    same_as: Id | None = None
    annual_signup_from: IsoDate | None = None
    annual_rule: GateRule | None = None

    @model_validator(mode="after")
    def _gate_is_cited(self) -> PlanSpec:
        """Require a citation exactly when the plan has an annual signup date."""
        if (self.annual_signup_from is None) != (self.annual_rule is None):
            raise ValueError("annual_signup_from and annual_rule go together")
        return self


class BillingSpec(Strict):
    """A billing cycle."""

    name: Text
    aliases: tuple[Text, ...] = ()


class VariantSpec(Strict):
    """A resolution or quality level of a model."""

    name: Text
    aliases: tuple[Text, ...] = ()


class ModelSpec(Strict):
    """A model or product named on the help page."""

    name: Text
    kind: Id
    aliases: tuple[Text, ...] = ()
    variants: dict[Id, VariantSpec] = {}
    notes: tuple[Text, ...] = ()


class When(Strict):
    """Conditions of a rule; a field left out means 'any'."""

    variants: IdList = None
    plans: IdList = None
    billing: IdList = None
    signup_from: IsoDate | None = None
    signup_to: IsoDate | None = None

    @model_validator(mode="after")
    def _window_is_ordered(self) -> When:
        """Refuse a signup window that ends before it starts."""
        if self.signup_from and self.signup_to and self.signup_from > self.signup_to:
            raise ValueError("signup_from is after signup_to")
        return self


class Lasts(Strict):
    """How long a benefit lasts after signup."""

    years: int = Field(0, ge=0)
    months: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _positive(self) -> Lasts:
        """Refuse a zero-length benefit."""
        if not self.years and not self.months:
            raise ValueError("give years and/or months")
        return self


class RuleSpec(Strict):
    """One rule: when its conditions hold, the model gets this verdict."""

    id: Id
    model: Id
    section: Text
    verdict: VerdictName
    when: When | None = None
    lasts: Lasts | None = None
    reason: Text
    expired_reason: Text | None = None
    notes: tuple[Text, ...] = ()

    @model_validator(mode="after")
    def _expiry_is_worded(self) -> RuleSpec:
        """Require wording for the end of a benefit that lasts a fixed time."""
        if self.lasts and self.verdict != "unlimited":
            raise ValueError("only an 'unlimited' rule can have 'lasts'")
        if (self.lasts is None) != (self.expired_reason is None):
            raise ValueError("lasts and expired_reason go together")
        return self


class AcknowledgedRow(Strict):
    """A table row on the page that is deliberately not a catalog model."""

    text: Text
    section: Text
    why: Text


class RulesFile(Strict):
    """The whole rules file."""

    source: SourceSpec
    notes: NotesSpec = NotesSpec()
    kinds: dict[Id, Text] = Field(min_length=1)
    plans: dict[Id, PlanSpec] = Field(min_length=1)
    billing: dict[Id, BillingSpec] = Field(min_length=1)
    models: dict[Id, ModelSpec] = Field(min_length=1)
    acknowledged_rows: tuple[AcknowledgedRow, ...] = ()
    rules: tuple[RuleSpec, ...] = Field(min_length=1)
