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
from bot.eligibility.schema import RuleSpec, parse_iso_date
from bot.eligibility.verdict import INPUT_ORDER, ModelRef, SourceRef, Verdict

if TYPE_CHECKING:
    from bot.mdx import Page

# Missing inputs are tracked as bits so a verdict costs a few microseconds.
PLAN, BILLING, SIGNUP, VARIANT = 1, 2, 4, 8
_BITS = dict(zip(INPUT_ORDER, (PLAN, BILLING, SIGNUP, VARIANT)))
TRUE, FALSE, UNKNOWN = "true", "false", "unknown"


@dataclass(frozen=True, slots=True)
class _Outcome:
    """A verdict for one model variant before it is worded for the customer."""

    verdict: str
    rule_id: str
    section: str
    reason: str | None  # None: the engine words it from what is missing
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
    reason: str
    variants: frozenset[str] | None
    plans: frozenset[str] | None
    billing: frozenset[str] | None
    signup_from: date | None
    signup_to: date | None
    lasts: relativedelta | None
    expired_reason: str | None
    gates: tuple[_Gate, ...]
    notes: tuple[str, ...]
    catch_all: bool


class Engine:
    """The eligibility engine: evaluate one model, or tabulate every model for a profile."""

    def __init__(self, book: RuleBook) -> None:
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
        kind_order = {k: n for n, k in enumerate(spec.kinds)}
        self._order = sorted(spec.models, key=lambda m: (kind_order[spec.models[m].kind], spec.models[m].name.casefold()))

    @classmethod
    def from_file(cls, path: Path, pages: Sequence[Page] | None = None) -> Engine:
        """Load, validate and compile a rules file."""
        return cls(load_rules(path, pages))

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
        # Same answer through different rules: lead with the first variant, note the others' reasons.
        others = [self._word(o, mid, v, plan, billing, signup) for v, o in outs if o.rule_id != first.rule_id]
        return replace(first, notes=tuple(dict.fromkeys(others + notes)))

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
        return _Outcome(rule.verdict, rule.id, rule.section, rule.reason, expires, 0, rule.notes)

    # --- wording ------------------------------------------------------------------------
    def _word(self, o: _Outcome, mid: str, vid: str | None, plan: str | None, billing: str | None, signup: date | None) -> str:
        """Return the customer sentence for an outcome."""
        name = self.catalog.display(mid, vid)
        if o.reason is None:
            return f"Whether {name} is unlimited for you depends on {_join(self._needs(o.missing, mid))}."
        return o.reason.format(
            model=name,
            plan=self.catalog.plan_names[plan] if plan else "your plan",
            billing=self.catalog.billing_names[billing] if billing else "your billing cycle",
            signup_date=_day(signup) if signup else "your signup date",
            expires_on=_day(o.expires_on) if o.expires_on else "the end of the benefit",
        )

    def _needs(self, missing: int, mid: str) -> list[str]:
        """Return what the customer must still tell, in words."""
        out = []
        if missing & PLAN:
            out.append(f"your plan ({_join(list(self.catalog.plan_names.values()), 'or')})")
        if missing & BILLING:
            out.append(f"your billing cycle ({_join(list(self.catalog.billing_names.values()), 'or')})")
        if missing & SIGNUP:
            out.append("your signup date")
        if missing & VARIANT:
            names = [v.name for v in self.book.spec.models[mid].variants.values()]
            out.append(f"the variant you use ({_join(names, 'or')})")
        return out

    def _verdict(self, o: _Outcome, mid: str, vid: str | None, plan: str | None, billing: str | None, signup: date | None, as_of: date) -> Verdict:
        """Build the public verdict."""
        notes = o.notes + self._unlimited_notes if o.verdict == "unlimited" else o.notes
        notes += self.book.spec.models[mid].notes
        return Verdict(
            verdict=o.verdict,  # type: ignore[arg-type]
            reason=self._word(o, mid, vid, plan, billing, signup),
            rule_id=o.rule_id,
            source=self._sources[o.section],
            expires_on=o.expires_on,
            missing=tuple(name for name in INPUT_ORDER if o.missing & _BITS[name]),
            notes=tuple(dict.fromkeys(notes)),
            model=self._models[mid],
            variant=vid,
            plan=plan,
            billing=billing,
            signup_date=signup,
            as_of=as_of,
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
                near = _Outcome("uses_credits", rule.id, rule.section, rule.expired_reason, expires, 0, rule.notes)
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
            out[pid] = _Gate(pid, "annual", plan.annual_signup_from, _Outcome("uses_credits", g.id, g.section, g.reason))
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
        reason=rule.reason,
        variants=variants,
        plans=plans,
        billing=billing,
        signup_from=when.signup_from if when else None,
        signup_to=when.signup_to if when else None,
        lasts=lasts,
        expired_reason=rule.expired_reason,
        gates=rule_gates,
        notes=rule.notes,
        catch_all=when is None,
    )


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


def _day(d: date) -> str:
    """Return a date the way the help page writes it, e.g. 'Feb 25, 2027'."""
    return f"{d:%b} {d.day}, {d.year}"


def _join(items: list[str], word: str = "and") -> str:
    """Join words as in prose: 'a, b and c'."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {word} {items[-1]}"
