"""Decide whether a model is unlimited for a customer, from the rules alone (no clock, no I/O)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from dateutil.relativedelta import relativedelta

from bot.errors import InputError
from bot.eligibility.catalog import Catalog, Mention
from bot.eligibility.rules import RuleBook, load_rules
from bot.eligibility.schema import MonthStart, RuleSpec, parse_iso_date
from bot.eligibility.verdict import INPUT_ORDER, Explanation, Group, ModelRef, SourceRef, Verdict
from bot.eligibility.reading import Reader, load_phrasebooks
from bot.eligibility.wording import Wording, load_wordings

if TYPE_CHECKING:
    from bot.mdx import Page

# Missing inputs are tracked as bits so a verdict costs a few microseconds.
PLAN, BILLING, SIGNUP, VARIANT = 1, 2, 4, 8
_BITS = dict(zip(INPUT_ORDER, (PLAN, BILLING, SIGNUP, VARIANT)))
TRUE, FALSE, UNKNOWN = "true", "false", "unknown"


@dataclass(frozen=True, slots=True)
class _Outcome:
    """A verdict for one model variant, with the structured reason it is worded from."""

    verdict: str
    rule_id: str
    section: str
    explain: Explanation | None  # None: the engine explains it from what is missing
    expires_on: date | None = None
    missing: int = 0
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Gate:
    """A plan-wide date condition, e.g. Max annual benefits need a late enough signup."""

    plan: str
    billing: str
    signup_from: date
    outcome: _Outcome


@dataclass(frozen=True, slots=True)
class _Rule:
    """A rule compiled for fast checking: plan lists expanded, 'any' stored as None."""

    id: str
    verdict: str
    section: str
    explain: Explanation
    variants: frozenset[str] | None
    plans: frozenset[str] | None
    billing: frozenset[str] | None
    signup_from: date | None
    signup_to: date | None
    lasts: relativedelta | None
    gates: tuple[_Gate, ...]
    notes: tuple[str, ...]
    catch_all: bool


class Engine:
    """The eligibility engine: evaluate one model, or tabulate every model for a profile."""

    def __init__(self, book: RuleBook, wordings: dict[str, Wording] | None = None) -> None:
        self.book = book
        self.catalog: Catalog = book.catalog
        spec = book.spec
        self._unlimited_notes = spec.notes.unlimited
        self._sources = {a: SourceRef(title=spec.source.title, section=s.title, url=s.url) for a, s in book.sections.items()}
        self._models = {mid: ModelRef(id=mid, name=m.name, kind=m.kind) for mid, m in spec.models.items()}
        self._rules: dict[str, list[_Rule]] = {mid: [] for mid in spec.models}
        gates = _gates(book)
        for rule in spec.rules:
            self._rules[rule.model].append(_compile(rule, book, gates))
        self._rules = {mid: _explain_catch_all(rules) for mid, rules in self._rules.items()}
        self.wordings = wordings if wordings is not None else load_wordings(book)
        self._reader: Reader | None = None
        kind_order = {k: n for n, k in enumerate(spec.kinds)}
        self._order = sorted(spec.models, key=lambda m: (kind_order[spec.models[m].kind], spec.models[m].name.casefold()))

    @classmethod
    def from_file(cls, path: Path, pages: Sequence[Page] | None = None) -> Engine:
        """Load, validate and compile a rules file."""
        return cls(load_rules(path, pages))

    def wording(self, lang: str) -> Wording:
        """Return the wording of reasons and notes in a language (English when there is none)."""
        return self.wordings.get(lang) or self.wordings["en"]

    def reader(self) -> Reader:
        """Return the claim reader with the phrasebook kept beside the rules file (phrases.yaml)."""
        if self._reader is None:
            phrases = self.book.file.parent / "phrases.yaml"
            self._reader = Reader(self.catalog, load_phrasebooks(phrases) if phrases.is_file() else None)
        return self._reader

    def words(self, v: Verdict, lang: str) -> tuple[str, list[str]]:
        """Return a verdict's reason and notes in a language."""
        w = self.wording(lang)
        notes = [w.reason(a) for a in v.also] + [w.note(k, self, v.model.id) for k in v.note_keys]
        return w.reason(v.explanation), notes

    def display(self, model_id: str, variant: str | None = None, lang: str = "en") -> str:
        """Return a model's name in a language."""
        return self.wording(lang).model(model_id, variant)

    def rule_explanation(self, rule_id: str, variant: str | None = None) -> Explanation:
        """Return the structured reason of one rule as it applies to its own group."""
        for rules in self._rules.values():
            for rule in rules:
                if rule.id == rule_id:
                    if variant is None and rule.variants is not None and len(rule.variants) == 1:
                        variant = next(iter(rule.variants))  # "Nanobanana Pro 4K is paid for all members"
                    return rule.explain if variant is None else rule.explain.model_copy(update={"variant": variant})
        raise KeyError(rule_id)

    # --- public API -------------------------------------------------------------------
    def plan_sources(self, plan: str | None) -> list[SourceRef]:
        """Return the sections a plan's own rule comes from (Max: 'same benefits as Premium')."""
        spec = self.book.spec.plans.get(plan or "")
        rule = spec.annual_rule if spec is not None and spec.same_as else None
        return [self._sources[rule.section]] if rule is not None and rule.section in self._sources else []

    def resolve_model(self, text: str) -> tuple[str, str | None]:
        """Return (model_id, variant or None) for a customer's spelling of a model."""
        return self.catalog.resolve_model(text)

    def find_models_in_text(self, text: str) -> list[Mention]:
        """Return the models named in a sentence, typos included."""
        return self.catalog.find_models_in_text(text)

    def evaluate(
        self,
        model: str,
        variant: str | None = None,
        plan: str | None = None,
        billing: str | None = None,
        signup_date: date | str | None = None,
        *,
        as_of: date | str,
    ) -> Verdict:
        """Return whether a model is unlimited for this customer on the as_of day."""
        mid, vid, plan_id, billing_id, signup, today = self._inputs(model, variant, plan, billing, signup_date, as_of)
        outcome = self._decide(mid, vid, plan_id, billing_id, signup, today)
        return self._verdict(outcome, mid, vid, plan_id, billing_id, signup, today)

    def profile_table(
        self,
        plan: str | None,
        billing: str | None,
        signup_date: date | str | None,
        *,
        as_of: date | str,
    ) -> list[Verdict]:
        """Return a verdict for every model (per variant where variants differ), by kind then name."""
        _, _, plan_id, billing_id, signup, today = self._inputs(None, None, plan, billing, signup_date, as_of)
        rows: list[Verdict] = []
        for mid in self._order:
            variants = self.book.spec.models[mid].variants
            per_variant = [(vid, self._one(mid, vid, plan_id, billing_id, signup, today)) for vid in variants]
            if len({(o.verdict, o.missing) for _, o in per_variant}) > 1:
                rows += [self._verdict(o, mid, vid, plan_id, billing_id, signup, today) for vid, o in per_variant]
            else:
                rows.append(self._verdict(self._decide(mid, None, plan_id, billing_id, signup, today), mid, None, plan_id, billing_id, signup, today))
        return rows

    # --- inputs -------------------------------------------------------------------------
    def _inputs(
        self, model: str | None, variant: str | None, plan: str | None, billing: str | None, signup: date | str | None, as_of: date | str
    ) -> tuple[str, str | None, str | None, str | None, date | None, date]:
        """Check and canonicalise every input; bad input raises InputError, never a verdict."""
        mid, vid = ("", None)
        if model is not None:
            mid, vid = self.catalog.resolve_model(model)
            if _given(variant):
                chosen = self.catalog.resolve_variant(mid, variant)  # type: ignore[arg-type]
                if vid is not None and chosen != vid:
                    raise InputError(f"{model!r} names variant {self.catalog.display(mid, vid)!r} but variant {variant!r} was given")
                vid = chosen
        plan_id = self.catalog.resolve_plan(plan) if _given(plan) else None  # type: ignore[arg-type]
        billing_id = self.catalog.resolve_billing(billing) if _given(billing) else None  # type: ignore[arg-type]
        today = _date(as_of, "as_of")
        if today is None:
            raise InputError("as_of (the day to answer for) is required")
        signup_day = _date(signup, "signup_date")
        if signup_day is not None and signup_day > today:
            raise InputError(f"signup_date {signup_day.isoformat()} is after the as-of date {today.isoformat()}")
        return mid, vid, plan_id, billing_id, signup_day, today

    # --- deciding -------------------------------------------------------------------
    def _decide(self, mid: str, vid: str | None, plan: str | None, billing: str | None, signup: date | None, as_of: date) -> _Outcome:
        """Return the outcome for a model; with no variant given, combine its variants."""
        variants = self.book.spec.models[mid].variants
        if vid is not None or not variants:
            return self._one(mid, vid, plan, billing, signup, as_of)
        outs = [(v, self._one(mid, v, plan, billing, signup, as_of)) for v in variants]
        first = outs[0][1]
        if len({(o.verdict, o.missing) for _, o in outs}) > 1 or first.missing:
            missing = 0
            for _, o in outs:
                missing |= o.missing
            if len({(o.verdict, o.missing) for _, o in outs}) > 1:
                missing |= VARIANT
            lead = next((o for _, o in outs if o.verdict != "uses_credits"), first)
            return _Outcome("unknown", lead.rule_id, lead.section, None, None, missing)
        notes: list[str] = []
        for _, o in outs:
            notes += o.notes
        if len({o.rule_id for _, o in outs}) == 1:
            return replace(first, notes=tuple(dict.fromkeys(notes)))
        # Same answer through different rules: lead with the first variant, add the others' reasons.
        seen = {first.rule_id}
        also = []
        for v, o in outs:
            if o.rule_id not in seen and o.explain is not None:
                seen.add(o.rule_id)
                also.append(f"also:{o.rule_id}:{v}")
        return replace(first, notes=tuple(dict.fromkeys(also + notes)))

    def _one(self, mid: str, vid: str | None, plan: str | None, billing: str | None, signup: date | None, as_of: date) -> _Outcome:
        """Read one variant's rules top to bottom with three-valued logic."""
        candidates: list[tuple[_Rule, date | None]] = []
        missing = 0
        near: _Outcome | None = None
        for rule in self._rules[mid]:
            state, info = _check(rule, vid, plan, billing, signup, as_of)
            if state is TRUE:
                candidates.append((rule, info))  # type: ignore[arg-type]
                break
            if state is UNKNOWN:
                candidates.append((rule, None))
                missing |= info  # type: ignore[operator]
            elif info is not None and near is None:
                near = info  # type: ignore[assignment]
        rule, expires = candidates[-1]
        if any(r.verdict != rule.verdict for r, _ in candidates):
            lead = candidates[0][0]
            return _Outcome("unknown", lead.id, lead.section, None, None, missing)
        if rule.catch_all and near is not None and rule.verdict == "uses_credits":
            return near
        explain = rule.explain.model_copy(update={"variant": vid, "expires_on": expires})
        return _Outcome(rule.verdict, rule.id, rule.section, explain, expires, 0, rule.notes)

    # --- wording ------------------------------------------------------------------------
    def explain(self, o: _Outcome, mid: str, vid: str | None) -> Explanation:
        """Return the structured reason of an outcome (what is missing, when the rules cannot decide)."""
        if o.explain is not None:
            update: dict[str, object] = {"model": mid} if not o.explain.model else {}
            if vid and not o.explain.variant:
                update["variant"] = vid
            return o.explain.model_copy(update=update) if update else o.explain
        missing = tuple(name for name in INPUT_ORDER if o.missing & _BITS[name])
        return Explanation(kind="depends", model=mid, variant=vid, missing=missing)

    def _verdict(self, o: _Outcome, mid: str, vid: str | None, plan: str | None, billing: str | None, signup: date | None, as_of: date) -> Verdict:
        """Build the public verdict, its reason worded in English."""
        keys = o.notes + self._unlimited_notes if o.verdict == "unlimited" else o.notes
        keys += self.book.spec.models[mid].notes
        keys = tuple(dict.fromkeys(keys))
        explanation = self.explain(o, mid, vid)
        also = tuple(self.rule_explanation(k.split(":")[1], k.split(":")[2]) for k in keys if k.startswith("also:"))
        keys = tuple(k for k in keys if not k.startswith("also:"))
        en = self.wording("en")
        return Verdict(
            verdict=o.verdict,  # type: ignore[arg-type]
            reason=en.reason(explanation),
            rule_id=o.rule_id,
            source=self._sources[o.section],
            expires_on=o.expires_on,
            missing=tuple(name for name in INPUT_ORDER if o.missing & _BITS[name]),
            notes=tuple([en.reason(a) for a in also] + [en.note(k, self, mid) for k in keys]),
            model=self._models[mid],
            variant=vid,
            plan=plan,
            billing=billing,
            signup_date=signup,
            as_of=as_of,
            explanation=explanation,
            also=also,
            note_keys=keys,
        )


def _check(rule: _Rule, vid: str | None, plan: str | None, billing: str | None, signup: date | None, as_of: date) -> tuple[str, object]:
    """Return (TRUE, expiry) / (FALSE, near-miss outcome or None) / (UNKNOWN, missing bits)."""
    if rule.variants is not None and vid not in rule.variants:
        return FALSE, None
    missing = 0
    if rule.plans is not None:
        if plan is None:
            missing |= PLAN
        elif plan not in rule.plans:
            return FALSE, None
    if rule.billing is not None:
        if billing is None:
            missing |= BILLING
        elif billing not in rule.billing:
            return FALSE, None
    if rule.signup_from is not None or rule.signup_to is not None:
        if signup is None:
            missing |= SIGNUP
        elif (rule.signup_from and signup < rule.signup_from) or (rule.signup_to and signup > rule.signup_to):
            return FALSE, None
    near: _Outcome | None = None
    for gate in rule.gates:
        # The gate fails only when plan, billing and an early signup all match it.
        a = None if plan is None else plan == gate.plan
        b = None if billing is None else billing == gate.billing
        c = None if signup is None else signup < gate.signup_from
        if a is False or b is False or c is False:
            continue
        if a and b and c:
            near = near or gate.outcome
        else:
            missing |= (PLAN if a is None else 0) | (BILLING if b is None else 0) | (SIGNUP if c is None else 0)
    expires = None
    if rule.lasts is not None:
        if signup is None:
            missing |= SIGNUP
        else:
            expires = signup + rule.lasts
            if as_of >= expires and near is None:
                ended = rule.explain.model_copy(update={"kind": "expired", "expires_on": expires})
                near = _Outcome("uses_credits", rule.id, rule.section, ended, expires, 0, rule.notes)
    if near is not None:
        # A rule that fails only on a plan date or an ended benefit explains a credits verdict best.
        return FALSE, (near if not missing else None)
    if missing:
        return UNKNOWN, missing
    return TRUE, expires


def _gates(book: RuleBook) -> dict[str, _Gate]:
    """Return the plan-wide date conditions by plan id."""
    out = {}
    for pid, plan in book.spec.plans.items():
        if plan.annual_signup_from and plan.annual_rule:
            g = plan.annual_rule
            explain = Explanation(kind="gate", model="", plan=pid, billing="annual", gate_from=plan.annual_signup_from)
            out[pid] = _Gate(pid, "annual", plan.annual_signup_from, _Outcome("uses_credits", g.id, g.section, explain))
    return out


def _compile(rule: RuleSpec, book: RuleBook, gates: dict[str, _Gate]) -> _Rule:
    """Compile one rule: expand plans through same_as and attach plan gates."""
    spec = book.spec
    when = rule.when
    plans = billing = variants = None
    rule_gates: tuple[_Gate, ...] = ()
    if when and when.plans is not None:
        listed = set(when.plans)
        listed |= {pid for pid, p in spec.plans.items() if p.same_as in listed}
        rule_gates = tuple(g for pid, g in gates.items() if pid in listed)
        plans = None if listed >= set(spec.plans) else frozenset(listed)
    if when and when.billing is not None and not set(when.billing) >= set(spec.billing):
        billing = frozenset(when.billing)
    if when and when.variants is not None:
        variants = frozenset(when.variants)
    lasts = relativedelta(years=rule.lasts.years, months=rule.lasts.months) if rule.lasts else None
    return _Rule(
        id=rule.id,
        verdict=rule.verdict,
        section=rule.section,
        explain=_rule_explanation(rule),
        variants=variants,
        plans=plans,
        billing=billing,
        signup_from=when.signup_from if when else None,
        signup_to=when.signup_to if when else None,
        lasts=lasts,
        gates=rule_gates,
        notes=rule.notes,
        catch_all=when is None,
    )


def rule_group(rule: RuleSpec) -> Group:
    """Return who a rule covers, as its conditions state it."""
    when = rule.when
    return Group(
        plans=when.plans if when else None,
        billing=when.billing if when else None,
        signup_from=when.signup_from if when else None,
        signup_from_month=bool(when and isinstance(when.signup_from, MonthStart)),
        signup_to=when.signup_to if when else None,
        dates_not_given=rule.basis == "dates_not_given",
        lasts_years=rule.lasts.years if rule.lasts else 0,
        lasts_months=rule.lasts.months if rule.lasts else 0,
        variants=when.variants if when else None,
    )


def _rule_explanation(rule: RuleSpec) -> Explanation:
    """Return a rule's reason as data; a catch-all's list of groups is filled in per model later."""
    group = rule_group(rule)
    if rule.verdict == "unlimited":
        return Explanation(kind="covered", model=rule.model, group=group)
    if rule.verdict == "unknown":
        return Explanation(kind="page_unclear", model=rule.model, group=group)
    if rule.when is not None:
        return Explanation(kind="always_paid", model=rule.model, group=group, basis=rule.basis)
    return Explanation(kind="never", model=rule.model, basis=rule.basis, level=rule.level)


def _explain_catch_all(rules: list[_Rule]) -> list[_Rule]:
    """Word a model's last rule from the groups its other rules cover ("unlimited only for ...")."""
    last = rules[-1]
    covered = tuple(r.explain.group for r in rules[:-1]
                    if r.explain.kind in ("covered", "page_unclear") and r.explain.group is not None)
    if last.verdict != "uses_credits" or not covered:
        return rules
    explain = last.explain.model_copy(update={"kind": "not_covered", "groups": covered})
    return rules[:-1] + [replace(last, explain=explain)]


def _given(value: str | None) -> bool:
    """Treat None and blank text as 'not given' (tools often send empty strings)."""
    return value is not None and bool(str(value).strip())


def _date(value: date | str | None, name: str) -> date | None:
    """Return a date from a date or YYYY-MM-DD text; InputError for anything else."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        return value.date()
    try:
        return parse_iso_date(value)
    except ValueError as err:
        raise InputError(f"{name}: {err}") from None
