"""Invariants of the engine, checked over many generated customers."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.eligibility import Engine

ROOT = Path(__file__).resolve().parent.parent
ENGINE = Engine.from_file(ROOT / "knowledge" / "rules" / "eligibility.yaml")
ENGINE_AGAIN = Engine.from_file(ROOT / "knowledge" / "rules" / "eligibility.yaml")
NEVER_UNLIMITED = ["midjourney", "sora", "veo", "kling", "lip-sync", "seedance-2.0", "carat-1.0-lite", "carat-1.0", "carat-1.0-soul", "agent-1.0", "agent-2.0"]
NEVER_UNLIMITED_VARIANTS = [("nanobanana-pro", "4k"), ("nanobanana-2", "2k"), ("nanobanana-2", "4k")]
MODELS = sorted(ENGINE.book.spec.models)

plans = st.sampled_from(["plus", "premium", "max", "pro", "business", None])
billings = st.sampled_from(["monthly", "annual", None])
days = st.dates(min_value=date(2024, 1, 1), max_value=date(2028, 12, 31))


@st.composite
def customers(draw: st.DrawFn) -> dict:
    """Return evaluate() keyword arguments for a random customer, some facts left out."""
    as_of = draw(days)
    signup = draw(st.one_of(st.none(), st.dates(min_value=date(2024, 1, 1), max_value=as_of)))
    return {"plan": draw(plans), "billing": draw(billings), "signup_date": signup, "as_of": as_of}


def model_and_variant() -> st.SearchStrategy[tuple[str, str | None]]:
    """Return a strategy over (model, variant or None) from the catalog."""
    return st.sampled_from(MODELS).flatmap(
        lambda m: st.tuples(st.just(m), st.sampled_from([None, *ENGINE.book.spec.models[m].variants]))
    )


@settings(max_examples=300, deadline=None)
@given(model=st.sampled_from(NEVER_UNLIMITED), who=customers())
def test_credit_only_models_are_never_unlimited(model: str, who: dict) -> None:
    v = ENGINE.evaluate(model, **who)
    assert v.verdict == "uses_credits" and v.missing == ()


@settings(max_examples=300, deadline=None)
@given(mv=st.sampled_from(NEVER_UNLIMITED_VARIANTS), who=customers())
def test_paid_resolutions_are_never_unlimited(mv: tuple[str, str], who: dict) -> None:
    assert ENGINE.evaluate(mv[0], mv[1], **who).verdict == "uses_credits"


@settings(max_examples=300, deadline=None)
@given(mv=model_and_variant(), who=customers())
def test_same_input_same_output(mv: tuple[str, str | None], who: dict) -> None:
    first = ENGINE.evaluate(*mv, **who)
    assert ENGINE.evaluate(*mv, **who) == first
    assert ENGINE_AGAIN.evaluate(*mv, **who).to_dict() == first.to_dict()


@settings(max_examples=500, deadline=None)
@given(mv=model_and_variant(), who=customers())
def test_unknown_says_what_is_missing_or_that_the_page_is_vague(mv: tuple[str, str | None], who: dict) -> None:
    v = ENGINE.evaluate(*mv, **who)
    if v.verdict == "unknown":
        assert v.missing or "help page does not give" in v.reason
    else:
        assert v.missing == ()
    assert v.reason.endswith(".") and "{" not in v.reason


@settings(max_examples=500, deadline=None)
@given(mv=model_and_variant(), who=customers(), data=st.data())
def test_more_facts_never_change_a_decided_verdict(mv: tuple[str, str | None], who: dict, data: st.DataObject) -> None:
    """A verdict given with facts missing must hold whatever those facts turn out to be."""
    partial = ENGINE.evaluate(*mv, **who)
    model, variant = mv
    full = dict(who)
    full["plan"] = who["plan"] or data.draw(st.sampled_from(["plus", "premium", "max", "pro", "business"]))
    full["billing"] = who["billing"] or data.draw(st.sampled_from(["monthly", "annual"]))
    full["signup_date"] = who["signup_date"] or data.draw(st.dates(min_value=date(2024, 1, 1), max_value=who["as_of"]))
    variants = list(ENGINE.book.spec.models[model].variants)
    chosen = variant or (data.draw(st.sampled_from(variants)) if variants else None)
    complete = ENGINE.evaluate(model, chosen, **full)
    assert complete.missing == ()
    if partial.verdict != "unknown":
        assert complete.verdict == partial.verdict
    elif not partial.missing:
        assert complete.verdict == "unknown"


@settings(max_examples=300, deadline=None)
@given(mv=model_and_variant(), who=customers(), data=st.data())
def test_giving_the_missing_facts_decides(mv: tuple[str, str | None], who: dict, data: st.DataObject) -> None:
    """Answering what the engine asks for decides the verdict, in a round or two (whether the variant matters
    can depend on the billing cycle), and it never asks for a fact it was given."""
    fill = dict(who)
    variant = mv[1]
    asked: set[str] = set()
    for _ in range(4):
        missing = ENGINE.evaluate(mv[0], variant, **fill).missing
        if not missing:
            break
        assert not asked & set(missing), f"asked again for {asked & set(missing)}"
        asked |= set(missing)
        for name in missing:
            if name == "plan":
                fill["plan"] = data.draw(st.sampled_from(["plus", "premium", "max", "pro", "business"]))
            elif name == "billing":
                fill["billing"] = data.draw(st.sampled_from(["monthly", "annual"]))
            elif name == "signup_date":
                fill["signup_date"] = data.draw(st.dates(min_value=date(2024, 1, 1), max_value=who["as_of"]))
            else:
                variant = data.draw(st.sampled_from(list(ENGINE.book.spec.models[mv[0]].variants)))
    assert ENGINE.evaluate(mv[0], variant, **fill).missing == ()


@settings(max_examples=200, deadline=None)
@given(who=customers())
def test_unlimited_verdicts_carry_the_general_caveats(who: dict) -> None:
    for v in ENGINE.profile_table(who["plan"], who["billing"], who["signup_date"], as_of=who["as_of"]):
        if v.verdict == "unlimited":
            assert any("chatting" in n for n in v.notes) and any("subject to change" in n for n in v.notes)


@pytest.mark.parametrize("model", MODELS)
def test_json_keys_are_exactly_the_contract(model: str) -> None:
    data = ENGINE.evaluate(model, as_of="2026-11-20").to_dict()
    assert list(data) == ["verdict", "reason", "rule_id", "source", "expires_on", "missing", "notes",
                          "model", "variant", "plan", "billing", "signup_date", "as_of", "explanation", "also", "note_keys"]
    assert data["explanation"]["model"] == data["model"]["id"] and data["explanation"]["kind"]
    assert set(data["source"]) == {"title", "section", "url"} and set(data["model"]) == {"id", "name", "kind"}
