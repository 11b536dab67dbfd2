"""Wording: strict templates, and every reason and note worded from the rules in both languages."""
from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from bot.eligibility import Engine
from bot.errors import SourceError
from bot.korean import attach
from bot.settings import ROOT
from bot.templates import fill, load_templates

ENGINE = Engine.from_file(ROOT / "knowledge" / "rules" / "eligibility.yaml")
UNFILLED = re.compile(r"[{}]|\((은|는|이|가|을|를|과|와)\)|\(으\)")


def test_both_languages_load_with_the_same_keys() -> None:
    t = load_templates()
    assert t["en"].render("clarify", models="Seedream 4.0", needs="your plan").startswith("To check Seedream 4.0")


def test_a_missing_value_is_an_error() -> None:
    with pytest.raises(SourceError, match="needs"):
        fill("Hello {name}", {}, "test")
    with pytest.raises(SourceError, match="no template"):
        load_templates()["en"].render("no.such.key")


@pytest.mark.parametrize(("word", "topic", "with_ro"), [
    ("시드림 4.0", "시드림 4.0은", "시드림 4.0으로"), ("소라 2", "소라 2는", "소라 2로"), ("클링", "클링은", "클링으로"),
    ("Carat Video (LTX)", "Carat Video (LTX)는", "Carat Video (LTX)로"), ("Premium", "Premium은", "Premium으로"),
    ("Pro", "Pro는", "Pro로"), ("Grok Imagine", "Grok Imagine은", "Grok Imagine으로"), ("Carat 1.0 Soul", "Carat 1.0 Soul은", "Carat 1.0 Soul로"),
])
def test_korean_particles_fit_the_word(word: str, topic: str, with_ro: str) -> None:
    assert attach(word, "은") == topic and attach(word, "(으)로") == with_ro
    assert fill("{m:은}", {"m": word}, "test") == topic


PROFILES = [(plan, billing, signup) for plan in ("plus", "premium", "max", "pro", "business", None)
            for billing in ("monthly", "annual", None)
            for signup in (date(2025, 11, 25), date(2025, 12, 20), date(2026, 3, 1), date(2026, 6, 1), None)]


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_every_verdict_is_worded_whole_in_both_languages(lang: str) -> None:
    """No placeholder, no 은(는)-style fallback, and Korean reasons in Korean, for every model and profile."""
    seen: set[str] = set()
    for as_of in (date(2026, 11, 20), date(2027, 6, 1)):
        for plan, billing, signup in PROFILES:
            for v in ENGINE.profile_table(plan, billing, signup, as_of=as_of):
                reason, notes = ENGINE.words(v, lang)
                for text in [reason, *notes]:
                    assert not UNFILLED.search(text), text
                    assert text.endswith((".", ").")), text
                    if lang == "ko":
                        assert re.search(r"[\uac00-\ud7a3]", text), text
                seen.add(v.explanation.kind)
    assert seen >= {"covered", "not_covered", "never", "always_paid", "expired", "gate", "page_unclear", "depends"}


def test_a_date_moved_in_the_rules_moves_in_every_reason(tmp_path) -> None:  # type: ignore[no-untyped-def]
    text = (ROOT / "knowledge" / "rules" / "eligibility.yaml").read_text(encoding="utf-8")
    moved = tmp_path / "eligibility.yaml"
    moved.write_text(text.replace("signup_from: 2026-02-25}", "signup_from: 2026-03-25}"), encoding="utf-8")
    engine = Engine.from_file(moved)
    for plan in ("premium", "pro"):
        for signup in (date(2026, 3, 1), date(2026, 3, 25) + timedelta(days=1)):
            v = engine.evaluate("seedream 4.0", None, plan, "annual", signup, as_of="2026-11-20")
            en, _ = engine.words(v, "en")
            ko, _ = engine.words(v, "ko")
            assert "Mar 25, 2026" in en and "Feb 25" not in en, en
            assert "2026년 3월 25일" in ko and "2월 25일" not in ko, ko
            assert v.verdict == ("uses_credits" if signup < date(2026, 3, 25) else "unlimited")
