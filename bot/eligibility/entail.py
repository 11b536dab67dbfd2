"""What the rules give every kind of customer a claim is about (for checking a page's or an answer's claims)."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

from bot.eligibility.engine import Engine
from bot.eligibility.reading import Claim


def signup_days(engine: Engine, claim: Claim) -> list[date]:
    """Return signup days to try: the claim's window, or every boundary the rules have."""
    if claim.window is not None and claim.window.has_year and claim.window_kind in ("from", "between", "to"):
        start, end = claim.window.start, claim.window.end
        if claim.window_kind == "from":
            return [start, start + timedelta(days=1), start + timedelta(days=200)]
        if claim.window_kind == "to":
            return [end, end - timedelta(days=1)]
        return sorted({start, end, start + (end - start) / 2})
    spec = engine.book.spec
    days = {date(2024, 6, 1), date(2027, 6, 1)}
    for r in spec.rules:
        for d in (r.when.signup_from, r.when.signup_to) if r.when else ():
            if d:
                days |= {d, d - timedelta(days=1), d + timedelta(days=1)}
    for p in spec.plans.values():
        if p.annual_signup_from:
            days |= {p.annual_signup_from, p.annual_signup_from - timedelta(days=1)}
    return sorted(days)


def verdicts(engine: Engine, claim: Claim) -> Iterator[str]:
    """Yield the engine's verdict for every kind of customer a claim is about (each on their signup day)."""
    spec = engine.book.spec
    assert claim.model is not None
    plans = sorted(claim.plans) if claim.plans else list(spec.plans)
    billing = sorted(claim.billing) if claim.billing else list(spec.billing)
    variants: list[str | None] = sorted(claim.variants) if claim.variants else (list(spec.models[claim.model].variants) or [None])
    for day in signup_days(engine, claim):
        for plan in plans:
            for cycle in billing:
                for variant in variants:
                    yield engine.evaluate(claim.model, variant, plan, cycle, day, as_of=day).verdict
