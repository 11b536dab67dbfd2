"""Word verdict reasons and notes in a language, from the rules' own conditions (no fact is typed in prose)."""
from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from bot.eligibility.schema import MonthStart
from bot.eligibility.verdict import Explanation, Group
from bot.templates import Templates, load_templates, placeholders

if TYPE_CHECKING:
    from bot.eligibility.engine import Engine
    from bot.eligibility.rules import RuleBook

LEVEL_ORDER = ("low", "medium", "high")


class Wording:
    """Reasons, notes, names and dates of the eligibility engine in one language."""

    def __init__(self, tpl: Templates, book: RuleBook) -> None:
        self.tpl = tpl
        self.lang = tpl.lang
        self.book = book
        self.values = note_values(book, self)

    # --- names ------------------------------------------------------------------------
    def model(self, model_id: str, variant: str | None = None) -> str:
        """Return a model's name (with its variant) in this language."""
        spec = self.book.spec.models[model_id]
        name = (spec.ko if self.lang == "ko" else None) or spec.name
        if variant:
            v = spec.variants[variant]
            name = f"{name} {(v.ko if self.lang == 'ko' else None) or v.name}"
        return name

    def plan(self, plan_id: str) -> str:
        """Return a plan's name in this language."""
        spec = self.book.spec.plans[plan_id]
        return (spec.ko if self.lang == "ko" else None) or spec.name

    def billing(self, billing_id: str) -> str:
        """Return a billing cycle's name in this language."""
        spec = self.book.spec.billing[billing_id]
        return (spec.ko if self.lang == "ko" else None) or spec.name

    def kind(self, kind_id: str) -> str:
        """Return the name of a kind of model ("Image models") in this language."""
        spec = self.book.spec.kinds[kind_id]
        return (spec.ko if self.lang == "ko" else None) or spec.name

    def date(self, d: date, *, month_only: bool = False, no_year: bool = False) -> str:
        """Return a date as the help page writes it ("Feb 25, 2026"; "Dec 2025" for a month)."""
        month = self.tpl.raw("eligibility.months")[d.month - 1]
        key = "eligibility.month" if month_only or isinstance(d, MonthStart) else "eligibility.day"
        if no_year and key == "eligibility.day":
            key = "eligibility.day_no_year"
        return self.tpl.render(key, month=month, day=d.day, year=d.year)

    def variant(self, model_id: str, variant: str) -> str:
        """Return a variant's name ('1K', 'Medium') in this language."""
        v = self.book.spec.models[model_id].variants[variant]
        return (v.ko if self.lang == "ko" else None) or v.name

    def join(self, items: list[str], word: str = "and", kind: str = "list") -> str:
        """Join words as prose: 'a, b and c' (separators from the language's templates)."""
        seps = self.tpl.raw(f"eligibility.{kind}")
        if len(items) <= 1:
            return "".join(items)
        return seps["sep"].join(items[:-1]) + seps[word] + items[-1]

    # --- groups -------------------------------------------------------------------------
    def plans_in(self, listed: tuple[str, ...]) -> list[str]:
        """Return listed plan ids plus the plans that copy them (Max with Premium), in catalog order."""
        plans = self.book.spec.plans
        wanted = set(listed) | {pid for pid, p in plans.items() if p.same_as in listed}
        return [pid for pid in plans if pid in wanted]

    def group(self, g: Group, model_id: str = "", *, with_variants: bool = False) -> str:
        """Return who a group is, e.g. 'Premium, Max and Pro members who joined on or after Feb 25, 2026'."""
        t = self.tpl
        listed = self.plans_in(g.plans) if g.plans else []
        if listed and len(listed) < len(self.book.spec.plans):
            plans = t.render("eligibility.plans", names=self.join([self.plan(p) for p in listed], kind="plan_list"))
        else:
            plans = t.render("eligibility.plans_any")
        billing = ""
        if g.billing:
            billing = t.render("eligibility.billing", names=self.join([self.billing(b) for b in g.billing], "or"))
        if g.dates_not_given:
            window = t.render("eligibility.window_unstated")
        elif g.signup_from and g.signup_to:
            same_year = g.signup_from.year == g.signup_to.year
            window = t.render("eligibility.window_between", start=self.date(g.signup_from), end=self.date(g.signup_to),
                              start_short=self.date(g.signup_from, no_year=same_year),
                              end_short=self.date(g.signup_to, no_year=same_year))
        elif g.signup_from:
            window = t.render("eligibility.window_from", date=self.date(g.signup_from, month_only=g.signup_from_month))
        elif g.signup_to:
            window = t.render("eligibility.window_to", date=self.date(g.signup_to))
        elif g.plans and not g.billing:
            window = t.render("eligibility.window_none")
        else:
            window = ""
        lasts = t.render("eligibility.lasts", duration=self.duration(g)) if g.lasts_years or g.lasts_months else ""
        variants = ""
        if with_variants and g.variants and model_id:
            variants = t.render("eligibility.variants", names=self.join([self.variant(model_id, v) for v in g.variants]))
        return t.render("eligibility.group", plans=plans, billing=billing, window=window, lasts=lasts, variants=variants).strip()

    def duration(self, g: Group) -> str:
        """Return how long a benefit lasts ('1 year')."""
        parts = []
        for n, key in ((g.lasts_years, "years"), (g.lasts_months, "months_count")):
            if n:
                parts.append(self.tpl.render(f"eligibility.{key}.{'one' if n == 1 else 'many'}", n=n))
        return self.join(parts)

    # --- reasons ------------------------------------------------------------------------
    def reason(self, e: Explanation, *, future: bool = False) -> str:
        """Return the sentence that explains a verdict (`future`: for a day still to come)."""
        t = self.tpl
        name = self.model(e.model, e.variant) if e.model else ""
        values: dict[str, Any] = {"model": name, **self.values}
        if e.kind == "covered" and e.group is not None:
            key = "covered_until" if e.expires_on else "covered"
            return t.render(f"eligibility.reasons.{key}", group=self.group(e.group), expires_on=self._day(e.expires_on), **values)
        if e.kind == "not_covered":
            groups = self.join([self.group(g, e.model, with_variants=True) for g in e.groups], kind="group_list")
            return t.render("eligibility.reasons.not_covered", groups=groups, **values)
        if e.kind == "page_unclear" and e.group is not None:
            return t.render("eligibility.reasons.page_unclear", group=self.group(e.group), **values)
        if e.kind == "expired" and e.group is not None:
            return t.render(f"eligibility.reasons.{'expires' if future else 'expired'}", duration=self.duration(e.group), expires_on=self._day(e.expires_on), **values)
        if e.kind == "gate" and e.plan and e.billing and e.gate_from:
            return t.render("eligibility.reasons.gate", plan=self.plan(e.plan), billing=self.billing(e.billing),
                            date=self.date(e.gate_from), **values)
        if e.kind == "depends":
            return t.render("eligibility.reasons.depends", needs=self.join(self.needs(e.missing, e.model)), **values)
        if e.basis:
            return t.render(f"eligibility.basis.{e.basis}", level=t.raw("eligibility.levels").get(e.level or "", ""), **values)
        return t.render(f"eligibility.reasons.{'always_paid' if e.kind == 'always_paid' else 'never'}", **values)

    def _day(self, d: date | None) -> str:
        return self.date(d) if d else ""

    def needs(self, missing: tuple[str, ...], model_id: str) -> list[str]:
        """Return what the customer must still tell, in words."""
        spec = self.book.spec
        choices = {
            "plan": self.join([self.plan(p) for p in spec.plans], "or"),
            "billing": self.join([self.billing(b) for b in spec.billing], "or"),
            "signup_date": "",
            "variant": self.join([self.model(model_id, v).removeprefix(self.model(model_id)).strip()
                                  for v in spec.models[model_id].variants], "or") if model_id else "",
        }
        return [self.tpl.render(f"eligibility.needs.{m}", choices=choices[m]) for m in missing]

    def note(self, key: str, engine: Engine, model_id: str = "") -> str:
        """Return one note: a rule's reason (rule:ID) or a note of the wording, filled from the rules."""
        if key.startswith("rule:"):
            return self.reason(engine.rule_explanation(key[5:]))
        return self.tpl.render(f"eligibility.notes.{key}", **self.values, **self.model_values(model_id))

    def model_values(self, model_id: str) -> dict[str, str]:
        """Return the names a note about one model may use: the model, and the model it is not."""
        if not model_id:
            return {}
        spec = self.book.spec.models[model_id]
        return {"model": self.model(model_id), **({"other": self.model(spec.separate_from)} if spec.separate_from else {})}


def note_values(book: RuleBook, w: Wording) -> dict[str, str]:
    """Return the names and links the notes wording may use, each taken from the rules file."""
    spec = book.spec
    values: dict[str, str] = dict(spec.links)
    for mid, model in spec.models.items():
        if model.default_video and "agent" not in values:
            values["agent"], values["default_video"] = w.model(mid), w.model(model.default_video)
        if model.request_phrase and "phrase" not in values:
            values["video"], values["phrase"] = w.model(mid), model.request_phrase
    levels = [(LEVEL_ORDER.index(r.level), r.model) for r in spec.rules if r.basis == "conversation" and r.level]
    if levels:
        values["cheapest"] = w.model(min(levels)[1])
    for rule in spec.rules:
        if rule.basis == "agent_generation_ok":
            values.setdefault("generation_agent", w.model(rule.model))
        if rule.basis == "agent_smart_chat":
            values.setdefault("smart_agent", w.model(rule.model))
    return values


def load_wordings(book: RuleBook) -> dict[str, Wording]:
    """Return the wording in every language, checking that every note the rules use can be worded."""
    out = {lang: Wording(tpl, book) for lang, tpl in load_templates().items()}
    used: list[tuple[Any, ...]] = [(("notes", "unlimited", n), k) for n, k in enumerate(book.spec.notes.unlimited)]
    used += [(("models", mid, "notes", n), k, mid) for mid, m in book.spec.models.items() for n, k in enumerate(m.notes)]
    used += [(("rules", pos, "notes", n), k, r.model) for pos, r in enumerate(book.spec.rules) for n, k in enumerate(r.notes)]
    rule_ids = {r.id for r in book.spec.rules}
    for loc, key, *about in used:
        if key.startswith("rule:"):
            if key[5:] not in rule_ids:
                raise book.index.error(loc, f"note {key!r} names no rule")
            continue
        for w in out.values():
            if not w.tpl.has(f"eligibility.notes.{key}"):
                raise book.index.error(loc, f"note {key!r} has no wording in {w.tpl.file} (eligibility.notes)")
            lacking = placeholders(str(w.tpl.raw(f"eligibility.notes.{key}"))) - w.values.keys() - w.model_values(about[0] if about else "").keys()
            if lacking:
                raise book.index.error(loc, f"note {key!r} needs {', '.join(sorted(lacking))}, which the rules file does not give")
    return out


__all__ = ["Wording", "load_wordings", "note_values"]
