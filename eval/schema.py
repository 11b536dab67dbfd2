"""The case file format: typed, strict (unknown fields are errors), loaded with file and case named."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from bot.types import Profile

CASES_DIR = Path(__file__).resolve().parent / "cases"
ROUTES = ("answer", "eligibility", "clarify", "handoff", "refuse")
VERDICTS = ("unlimited", "uses_credits", "unknown")
Route = Literal["answer", "eligibility", "clarify", "handoff", "refuse"]
CASE_ID = r"^[a-z0-9][a-z0-9._-]*$"


class CaseError(Exception):
    """A case file is malformed; the message names the file and the case."""


def _alternatives(value: Any) -> Any:
    """Accept a bare phrase where a list of acceptable phrasings is expected."""
    if isinstance(value, list):
        return [[v] if isinstance(v, str) else v for v in value]
    return value


def _routes(value: Any) -> Any:
    """Accept one route or a list of acceptable routes."""
    return [value] if isinstance(value, str) else value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExpectTool(_Strict):
    """The eligibility call a case expects: which model, optionally its inputs, and the verdict."""

    model: str = Field(min_length=1, description="Model id or name, e.g. seedream-4.0.")
    variant: str | None = Field(None, description="Variant, e.g. 1k or medium, when the question names one.")
    plan: str | None = Field(None, description="Plan the call must carry (default: the case profile's).")
    billing: str | None = Field(None, description="Billing the call must carry (default: the case profile's).")
    signup_date: date | None = Field(None, description="Signup date the call must carry (default: the case profile's).")
    verdict: Literal["unlimited", "uses_credits", "unknown"] | None = Field(None, description="Expected verdict.")
    rule_id: str | None = Field(None, description="Expected rule id, when the case is about one rule.")


class Pattern(_Strict):
    """A forbidden claim written as a regular expression, with phrasings it must catch (checked by validate)."""

    re: str = Field(min_length=1, description="Regular expression, matched without case on the normalised answer.")
    catches: list[str] = Field(min_length=1, description="Phrasings this pattern is meant to catch; each must match.")


class Turn(_Strict):
    """One customer message of a conversation, optionally with profile facts the app knows."""

    text: str = Field(min_length=1)
    profile: Profile | None = None


class Case(_Strict):
    """One eval case: what the customer says, and what a correct answer must (not) contain."""

    id: Annotated[str, Field(pattern=CASE_ID)]
    question: str | None = Field(None, description="A single customer message.")
    messages: list[str | Turn] | None = Field(None, description="A conversation; checks apply to its last turn.")
    profile: Profile | None = Field(None, description="Plan, billing, signup date the app passes with every turn.")
    today: date | None = Field(None, description="The day to answer for, when it differs from the run's.")
    language: Literal["en", "ko"] | None = Field(None, description="Language the answer must be in.")
    route: Annotated[list[Route] | None, BeforeValidator(_routes)] = Field(None, description="Acceptable route(s).")
    sections: list[str] = Field([], description="Sections (anchors or PAGE#anchor) any of which must be retrieved.")
    expect_tool: ExpectTool | Literal["none"] | None = Field(None, description="Expected eligibility call, or 'none'.")
    must_include: Annotated[list[list[str]], BeforeValidator(_alternatives)] = Field([], description="Facts: each a list of acceptable phrasings.")
    must_not_include: list[str | Pattern] = Field([], description="Claims that must not appear: text, or {re: regex, catches: [examples]}.")
    evidence: Annotated[list[list[str]], BeforeValidator(_alternatives)] = Field([], description="Page wording the retrieved sections must contain: each a list of acceptable phrasings.")
    reference: str | None = Field(None, description="A model answer for the optional judge.")
    tags: list[str] = []
    priority: Literal["critical", "standard"] = "standard"
    note: str | None = Field(None, description="Why the case exists, for the next reader.")

    @model_validator(mode="after")
    def _one_input(self) -> Case:
        """Require exactly one of question and messages, and valid regexes."""
        if (self.question is None) == (self.messages is None):
            raise ValueError("give exactly one of 'question' or 'messages'")
        if self.messages is not None and not self.messages:
            raise ValueError("'messages' must list at least one message")
        for name, items in (("must_include", self.must_include), ("evidence", self.evidence)):
            for alts in items:
                if not alts or not all(isinstance(a, str) and a.strip() for a in alts):
                    raise ValueError(f"every {name} item needs at least one non-empty phrasing")
        for claim in self.must_not_include:
            pattern = claim.re if isinstance(claim, Pattern) else (claim[3:] if claim.startswith("re:") else None)
            if pattern is not None:
                try:
                    re.compile(pattern)
                except re.error as err:
                    raise ValueError(f"bad regex in must_not_include {pattern!r}: {err}") from None
        return self

    @property
    def forbidden(self) -> list[str]:
        """Return the forbidden claims as phrases ('re:' + pattern for a regular expression)."""
        return [f"re:{c.re}" if isinstance(c, Pattern) else c for c in self.must_not_include]

    @property
    def turns(self) -> list[Turn]:
        """Return the customer's messages in order."""
        if self.question is not None:
            return [Turn(text=self.question)]
        return [m if isinstance(m, Turn) else Turn(text=m) for m in self.messages or []]

    @property
    def last_question(self) -> str:
        """Return the message the checks apply to."""
        return self.turns[-1].text


@dataclass(frozen=True)
class LoadedCase:
    """A case and the file it came from."""

    case: Case
    file: Path


def _describe(err: ValidationError) -> str:
    """Return pydantic errors as short lines: 'field: problem'."""
    out = []
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or "(case)"
        if e["type"] == "extra_forbidden":
            out.append(f"unknown field {e['loc'][-1]!r} (at {where})")
        elif e["type"] == "missing":
            out.append(f"missing field {where!r}")
        else:
            out.append(f"{where}: {e['msg'].removeprefix('Value error, ')}")
    return "; ".join(out)


def parse_case_file(path: Path) -> tuple[list[LoadedCase], list[str]]:
    """Return the valid cases of one file and an error line for every bad one."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        return [], [f"{path}: cannot read YAML ({err})"]
    if data is None:
        return [], []
    if not isinstance(data, list):
        return [], [f"{path}: a case file is a YAML list of cases ('- id: ...')"]
    cases, errors = [], []
    for n, raw in enumerate(data, 1):
        cid = raw.get("id", f"#{n}") if isinstance(raw, dict) else f"#{n}"
        if not isinstance(raw, dict):
            errors.append(f"{path}: case {cid}: a case is a mapping of fields")
            continue
        try:
            cases.append(LoadedCase(Case.model_validate(raw), path))
        except ValidationError as err:
            errors.append(f"{path}: case {cid}: {_describe(err)}")
    return cases, errors


def case_files(folder: Path = CASES_DIR) -> list[Path]:
    """Return the case files of a folder, sorted."""
    return sorted(p for p in folder.glob("*.yaml") if p.is_file()) + sorted(p for p in folder.glob("*.yml") if p.is_file())


def load_cases(folder: Path = CASES_DIR, *, strict: bool = True) -> tuple[list[LoadedCase], list[str]]:
    """Load every case file; report bad cases and duplicate ids; raise CaseError when strict."""
    loaded: list[LoadedCase] = []
    errors: list[str] = []
    seen: dict[str, Path] = {}
    for path in case_files(folder):
        cases, errs = parse_case_file(path)
        errors += errs
        for lc in cases:
            if lc.case.id in seen:
                errors.append(f"{path}: case {lc.case.id}: id already used in {seen[lc.case.id]}")
                continue
            seen[lc.case.id] = path
            loaded.append(lc)
    if strict and errors:
        raise CaseError("\n".join(errors))
    return loaded, errors


def select(cases: list[LoadedCase], ids: list[str] | None = None, tags: list[str] | None = None,
           priority: str | None = None) -> list[LoadedCase]:
    """Return the cases matching every filter given (ids may end in '*')."""
    out = []
    for lc in cases:
        c = lc.case
        if ids and not any(c.id == i or (i.endswith("*") and c.id.startswith(i[:-1])) for i in ids):
            continue
        if tags and not set(tags) & set(c.tags):
            continue
        if priority and c.priority != priority:
            continue
        out.append(lc)
    return out
