"""The rules file is validated on load; every error names the file and the line."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import SourceError
from bot.eligibility import Engine, load_rules
from bot.mdx import load_pages

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "knowledge" / "rules" / "eligibility.yaml"
PAGES = ROOT / "knowledge" / "help-center"
SHIPPED = RULES.read_text(encoding="utf-8")


def edited(tmp_path: Path, old: str, new: str) -> tuple[Path, str]:
    """Write a copy of the rules with the first `old` replaced by `new`; return it and its text."""
    assert old in SHIPPED, old
    text = SHIPPED.replace(old, new, 1)
    path = tmp_path / "eligibility.yaml"
    path.write_text(text, encoding="utf-8")
    return path, text


def line_of(text: str, needle: str) -> int:
    """Return the 1-based line of the first occurrence of needle."""
    return text[: text.index(needle)].count("\n") + 1


def load_error(path: Path, pages: list | None = None) -> SourceError:
    with pytest.raises(SourceError) as err:
        load_rules(path, pages)
    return err.value


def test_shipped_rules_load_with_and_without_pages() -> None:
    book = load_rules(RULES, load_pages(PAGES, "https://carat.im/docs"))
    assert len(book.spec.rules) > 30 and book.sections["image-models"].url.endswith("#image-models")
    assert Engine.from_file(RULES).evaluate("sora", as_of="2026-11-20").verdict == "uses_credits"


@pytest.mark.parametrize(
    ("old", "new", "marker", "message"),
    [
        ("    verdict: unlimited\n", "    verdict: unlimited\n    colour: red\n", "colour: red", "unknown field 'colour'"),
        ("notes:\n  # Shown", "footnotes: []\nnotes:\n  # Shown", "footnotes:", "unknown field 'footnotes'"),
        ("signup_from: 2025-12}", "signup_from: 2025-13}", "2025-13", "2025-13 is not a real month"),
        ("    basis: advanced\n", "    basis: fancy\n", "basis: fancy", "basis"),
        ("    basis: conversation\n    level: low\n", "    basis: conversation\n", "- id: carat-1.0-lite-conversation", "'level'"),
        ("    basis: dates_not_given\n", "", "- id: nanobanana-2-1k-annual", "dates_not_given"),
        ("    default_video: seedance-2.0\n", "    default_video: seedance-3\n", "default_video: seedance-3", "unknown default_video"),
        ("signup_from: 2025-12-17", "signup_from: 2026-02-30", "2026-02-30", "2026-02-30 is not a real date"),
        ("signup_from: 2025-12-17", "signup_from: 2025-12-7", "2025-12-7", "YYYY-MM-DD"),
        ("annual_signup_from: 2026-05-22", "annual_signup_from: 2026-02-29", "2026-02-29", "not a real date"),
        ("    verdict: unlimited\n", "    verdict: free\n", "verdict: free", "verdict"),
        ("when: {plans: [plus, pro], signup_from: 2025-12}", "when: {plans: [plus, gold], signup_from: 2025-12}", "gold", "unknown plan 'gold'"),
        ("when: {variants: [4k]}", "when: {variants: [8k]}", "8k", "unknown variant '8k'"),
        ("    section: video-models-1\n", "    section: video-models-9\n", "video-models-9", "#video-models-9"),
        ("    model: midjourney\n", "    model: imagen-4\n", "model: imagen-4", "unknown model 'imagen-4'"),
        ("\n# Table rows on the page", "  imagen-4:\n    name: Imagen 4\n    kind: image\n\n# Table rows on the page", "imagen-4:", "has no rule"),
        ("  # --- Video models", "  - id: midjourney-late\n    model: midjourney\n    section: image-models-1\n    verdict: unlimited\n\n  # --- Video models",
         "- id: midjourney-late", "can never apply"),
        ("  kling:\n    name: Kling", "  kling:\n    name: Kling\n    name: Kling 2", "name: Kling 2", "duplicate key 'name'"),
        ("    verdict: uses_credits\n    basis: not_eligible\n", "    verdict: uses_credits\n    basis: not_eligible\n    reason: Midjourney is paid.\n", "reason: Midjourney", "unknown field 'reason'"),
        ("    kind: agent\n", "    kind: robot\n", "kind: robot", "unknown kind 'robot'"),
        ("- id: veo-credits", "- id: sora-credits", "- id: sora-credits\n    model: veo", "used twice"),
        ("aliases: [클링]", "aliases: [sora]", "aliases: [sora]", "already means"),
        ("    lasts: {years: 1}\n", "    lasts: {years: 1}\n    lasts: {years: 2}\n", "lasts: {years: 2}", "duplicate key"),
        ("    same_as: premium\n", "    same_as: gold\n", "same_as: gold", "same_as"),
    ],
)
def test_errors_name_the_line(tmp_path: Path, old: str, new: str, marker: str, message: str) -> None:
    path, text = edited(tmp_path, old, new)
    err = load_error(path)
    assert message in err.message
    assert err.details["file"] == str(path)
    assert err.details["line"] == line_of(text, marker), err.message
    assert err.message.startswith(f"{path}:{line_of(text, marker)}: ")


@pytest.mark.parametrize(
    ("old", "new", "marker", "message"),
    [
        ("    notes: [save_conversation]\n", "    notes: [save_money]\n", "notes: [save_money]", "note 'save_money' has no wording"),
        ("    notes: [rule:nanobanana-pro-4k]\n", "    notes: [rule:nanobanana-pro-8k]\n", "rule:nanobanana-pro-8k", "names no rule"),
        ("    request_phrase: Use Carat Basic Video (LTX 2.3)\n", "", "notes: [agent_default_video]", "needs phrase, video"),
    ],
)
def test_notes_must_be_wordable(tmp_path: Path, old: str, new: str, marker: str, message: str) -> None:
    """A note key without wording, or whose wording needs a fact the file lacks, names the line that uses it."""
    path, text = edited(tmp_path, old, new)
    with pytest.raises(SourceError) as err:
        Engine.from_file(path)
    assert message in err.value.message and err.value.details["line"] == line_of(text, marker), err.value.message


def test_last_rule_of_a_model_must_have_no_when(tmp_path: Path) -> None:
    start = SHIPPED.index("  - id: z-image-credits")
    end = SHIPPED.index("  - id: chatgpt-image-1.5-premium")
    path, text = edited(tmp_path, SHIPPED[start:end], "")
    err = load_error(path)
    assert "must have no 'when'" in err.message
    assert err.details["line"] == line_of(text, "when: {signup_from: 2025-12-17}")


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path, text = edited(tmp_path, "  kling:\n", "  kling: [\n")
    err = load_error(path)
    assert err.details["file"] == str(path) and err.details["line"] is not None


def test_missing_file_is_a_source_error(tmp_path: Path) -> None:
    err = load_error(tmp_path / "nope.yaml")
    assert "does not exist" in err.message


def test_citing_a_section_that_is_not_on_the_page(tmp_path: Path) -> None:
    """Declared in the file but absent from the page: an error at the citing rule, once pages are given."""
    path, text = edited(
        tmp_path,
        "    ai-agent-conversation: Items",
        "    made-up-section: Made up\n    ai-agent-conversation: Items",
    )
    text = text.replace("    section: video-models-1\n", "    section: made-up-section\n", 1)
    path.write_text(text, encoding="utf-8")
    load_rules(path)  # without the page, the declared list is all there is
    err = load_error(path, load_pages(PAGES, "https://carat.im/docs"))
    assert "#made-up-section" in err.message and "not on page" in err.message
    assert err.details["line"] == line_of(text, "section: made-up-section")


def test_cited_sections_take_their_titles_from_the_page() -> None:
    book = load_rules(RULES, load_pages(PAGES, "https://carat.im/docs"))
    assert book.sections["image-models-1"].title == "Items NOT covered by the unlimited benefit (credits deducted) › Image models"
