"""Answer templates: strict loading, and Korean wording for every rule the engine can cite."""
from __future__ import annotations

import pytest
import yaml

from bot.answer.templates import fill, load_templates
from bot.errors import SourceError
from bot.settings import ROOT


def test_both_languages_load_with_the_same_keys() -> None:
    t = load_templates()
    assert t["en"].render("clarify", models="Seedream 4.0", needs="your plan").startswith("To check Seedream 4.0")


def test_a_missing_value_is_an_error() -> None:
    with pytest.raises(SourceError, match="needs"):
        fill("Hello {name}", {}, "test")
    with pytest.raises(SourceError, match="no template"):
        load_templates()["en"].render("no.such.key")


def test_every_rule_has_korean_reason_and_every_note_a_translation() -> None:
    rules = yaml.safe_load((ROOT / "knowledge" / "rules" / "eligibility.yaml").read_text(encoding="utf-8"))
    ko = load_templates()["ko"].data
    ids = {r["id"] for r in rules["rules"]} | {p["annual_rule"]["id"] for p in rules["plans"].values() if p.get("annual_rule")}
    assert ids <= set(ko["reasons"]), sorted(ids - set(ko["reasons"]))
    notes = set(rules["notes"]["unlimited"]) | {n for r in rules["rules"] for n in r.get("notes") or []}
    assert notes <= set(ko["notes"]), sorted(notes - set(ko["notes"]))
