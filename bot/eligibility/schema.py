"""Typed schema of the eligibility rules file; unknown fields are refused."""
from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, model_validator

VerdictName = Literal["unlimited", "uses_credits", "unknown"]
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ISO_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
ID_PATTERN = r"^[a-z0-9][a-z0-9.\-]*$"
# Why a model is never (or, for one variant, not) unlimited, in the page's own terms; each has wording
# per language (prompts/offline/*.yaml, eligibility.basis) and a phrase check-rules reads on the page.
Basis = Literal["not_eligible", "advanced", "many_credits", "conversation", "paid_for_all",
                "agent_generation_ok", "agent_smart_chat", "dates_not_given"]
Level = Literal["low", "medium", "high"]


class MonthStart(date):
    """The first day of a month that the help page names only as a month ("on or after Dec 2025")."""


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


def parse_signup_day(value: object) -> date:
    """Return a day (YYYY-MM-DD) or the start of a month (YYYY-MM, kept as a month for wording)."""
    if isinstance(value, str) and (m := ISO_MONTH.match(value.strip())):
        year, month = int(m.group(1)), int(m.group(2))
        if not 1 <= month <= 12:
            raise ValueError(f"{value.strip()} is not a real month")
        return MonthStart(year, month, 1)
    return parse_iso_date(value)


def _non_empty(items: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """Refuse an empty list, which would silently match nothing."""
    if items is not None and not items:
        raise ValueError("must list at least one value (leave the field out to mean 'any')")
    return items


IsoDate = Annotated[date, BeforeValidator(parse_iso_date)]
SignupDay = Annotated[date, BeforeValidator(parse_signup_day)]
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


NoteKey = Annotated[str, StringConstraints(pattern=r"^(rule:[a-z0-9][a-z0-9.\-]*|[a-z_]+)$")]


class NotesSpec(Strict):
    """Caveats added to verdicts of a given kind (keys of the notes wording, or rule:ID)."""

    unlimited: tuple[NoteKey, ...] = ()


class GateRule(Strict):
    """Citation for a plan-wide date condition."""

    id: Id
    section: Text


class PlanSpec(Strict):
    """A subscription plan, possibly inheriting another plan's benefits."""

    name: Text
    ko: Text | None = None
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
    ko: Text | None = None
    aliases: tuple[Text, ...] = ()


class VariantSpec(Strict):
    """A resolution or quality level of a model."""

    name: Text
    ko: Text | None = None
    aliases: tuple[Text, ...] = ()


class ModelSpec(Strict):
    """A model or product named on the help page."""

    name: Text
    ko: Text | None = None
    kind: Id
    aliases: tuple[Text, ...] = ()
    variants: dict[Id, VariantSpec] = {}
    notes: tuple[NoteKey, ...] = ()
    default_video: Id | None = Field(None, description="An agent's default video model.")
    request_phrase: Text | None = Field(None, description="What to type in an agent to get this model.")
    separate_from: Id | None = Field(None, description="A model with a similar name that this one is not.")


class KindSpec(Strict):
    """A group of models, as the profile table lists them."""

    name: Text
    ko: Text | None = None


class When(Strict):
    """Conditions of a rule; a field left out means 'any'."""

    variants: IdList = None
    plans: IdList = None
    billing: IdList = None
    signup_from: SignupDay | None = None
    signup_to: SignupDay | None = None

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
    """One rule: when its conditions hold, the model gets this verdict; the reason is worded from the conditions."""

    id: Id
    model: Id
    section: Text
    verdict: VerdictName
    when: When | None = None
    lasts: Lasts | None = None
    basis: Basis | None = None
    level: Level | None = None
    notes: tuple[NoteKey, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> RuleSpec:
        """Refuse combinations the wording cannot express."""
        if self.lasts and self.verdict != "unlimited":
            raise ValueError("only an 'unlimited' rule can have 'lasts'")
        if (self.basis == "dates_not_given") != (self.verdict == "unknown"):
            raise ValueError("a rule is 'unknown' exactly when the page gives no dates (basis: dates_not_given)")
        if (self.level is not None) != (self.basis == "conversation"):
            raise ValueError("'level' (low, medium, high) goes with basis: conversation, and only with it")
        if self.verdict == "unlimited" and self.basis is not None:
            raise ValueError("an 'unlimited' rule is worded from its conditions; leave 'basis' out")
        return self


class AcknowledgedRow(Strict):
    """A table row on the page that is deliberately not a catalog model."""

    text: Text
    section: Text
    why: Text


class RulesFile(Strict):
    """The whole rules file."""

    source: SourceSpec
    links: dict[Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")], Text] = Field({}, description="Carat pages the help page links to, named for the notes wording.")
    notes: NotesSpec = NotesSpec()
    kinds: dict[Id, KindSpec] = Field(min_length=1)
    plans: dict[Id, PlanSpec] = Field(min_length=1)
    billing: dict[Id, BillingSpec] = Field(min_length=1)
    models: dict[Id, ModelSpec] = Field(min_length=1)
    acknowledged_rows: tuple[AcknowledgedRow, ...] = ()
    rules: tuple[RuleSpec, ...] = Field(min_length=1)
