"""Case files: the shipped ones are valid and agree with the rules; bad ones are named by file and case."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from eval.gate import load_config
from eval.knowledge import load_knowledge
from eval.scaffold import append_case, case_from_answers, check_new, interview, slug
from eval.schema import CASES_DIR, load_cases, parse_case_file, select
from eval.workflow import case_problems, impact, impact_text, validate

ROOT = Path(__file__).resolve().parent.parent
PAGE_ID = "en/troubleshooting/usage-plan/unlimited-benefit-scope"


@pytest.fixture(scope="module")
def knowledge():
    from bot.settings import get_settings

    return load_knowledge(get_settings())


@pytest.fixture(scope="module")
def shipped():
    return load_cases(CASES_DIR)[0]


def write(folder: Path, name: str, cases: list[dict]) -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(cases, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_shipped_cases_are_valid_and_agree_with_the_rules_engine(shipped, knowledge) -> None:
    assert len(shipped) >= 80
    assert validate(shipped, knowledge, load_config().run.as_of) == []


def test_shipped_cases_cover_every_kind_of_question(shipped) -> None:
    tags = {t for lc in shipped for t in lc.case.tags}
    assert {"table", "faq", "agent", "benefits", "korean", "typo", "paraphrase", "off-topic", "injection", "clarify",
            "handoff", "multi-turn"} <= tags
    assert any(lc.case.messages for lc in shipped)
    assert sum(lc.case.priority == "critical" for lc in shipped) >= 20


def test_every_page_table_row_and_accordion_has_a_case(shipped, knowledge) -> None:
    page = next(p for p in __import__("bot.mdx", fromlist=["load_pages"]).load_pages(
        knowledge.settings.pages_path, knowledge.settings.docs_base_url) if p.id == PAGE_ID)
    referenced = {sid for lc in shipped for ref in lc.case.sections for sid in knowledge.resolve_section(ref)}
    for section in page.sections:
        if section.kind == "faq" or section.tables:
            assert section.id in referenced, section.id
    models = {lc.case.expect_tool.model for lc in shipped if lc.case.expect_tool not in (None, "none")}
    for mid in ("nanobanana", "nanobanana-pro", "z-image", "chatgpt-image-1.5", "seedream-4.0", "flux2-pro",
                "chatgpt-image-2.0", "grok-imagine", "carat-video", "nanobanana-2", "midjourney", "sora", "veo",
                "kling", "lip-sync", "carat-1.0-lite", "carat-1.0", "carat-1.0-soul"):
        assert mid in models, mid


def test_unknown_field_names_file_and_case(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", [{"id": "one", "question": "q", "colour": "red"}])
    cases, errors = parse_case_file(path)
    assert cases == [] and errors == [f"{path}: case one: unknown field 'colour' (at colour)"]


def test_duplicate_ids_and_missing_question_are_errors(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", [{"id": "one", "question": "q"}])
    write(tmp_path, "b.yaml", [{"id": "one", "question": "q"}, {"id": "two"}])
    _, errors = load_cases(tmp_path, strict=False)
    assert any("case one: id already used" in e for e in errors)
    assert any("b.yaml: case two:" in e and "exactly one of" in e for e in errors)


def test_unknown_section_model_and_wrong_verdict_are_named(tmp_path: Path, knowledge) -> None:
    write(tmp_path, "a.yaml", [
        {"id": "bad-section", "question": "q", "sections": ["image-modells"]},
        {"id": "bad-model", "question": "q", "expect_tool": {"model": "dall-e 3", "verdict": "unlimited"}},
        {"id": "bad-verdict", "question": "q", "profile": {"plan": "premium", "billing": "monthly", "signup_date": "2026-02-24"},
         "expect_tool": {"model": "seedream-4.0", "verdict": "unlimited"}},
        {"id": "bad-evidence", "question": "q", "sections": ["image-models"], "evidence": ["Seedream 5.0"]},
    ])
    cases, _ = load_cases(tmp_path)
    problems = validate(cases, knowledge, load_config().run.as_of)
    assert any("case bad-section: unknown section 'image-modells'" in p for p in problems)
    assert any("case bad-model: expect_tool.model: unknown model 'dall-e 3'" in p for p in problems)
    assert any("case bad-verdict:" in p and "rules engine says 'uses_credits'" in p for p in problems)
    assert any("case bad-evidence: evidence 'Seedream 5.0'" in p for p in problems)


def test_validate_cli_is_fast_and_exits_non_zero_on_problems(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", [{"id": "one", "question": "q", "sections": ["nope"]}])
    bad = subprocess.run([sys.executable, "-m", "eval", "validate", "--cases-dir", str(tmp_path)], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "case one: unknown section 'nope'" in bad.stdout
    good = subprocess.run([sys.executable, "-m", "eval", "validate"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert good.returncode == 0 and good.stdout.startswith("ok: ")


def test_select_by_id_prefix_tag_and_priority(shipped) -> None:
    assert all(lc.case.id.startswith("video-") for lc in select(shipped, ["video-*"]))
    assert all("korean" in lc.case.tags for lc in select(shipped, tags=["korean"]))
    assert all(lc.case.priority == "critical" for lc in select(shipped, priority="critical"))


# --- new ----------------------------------------------------------------------------------------
def test_new_from_flags_appends_a_valid_case(tmp_path: Path, knowledge) -> None:
    values = {"question": "Is Veo 3 unlimited on Business?", "route": "eligibility", "sections": ["video-models-1"],
              "model": "veo", "verdict": "uses_credits", "plan": "business", "include": ["uses credits|deducts credits"],
              "exclude": ["re:veo:? unlimited => Veo: unlimited"], "tags": "video,docs", "priority": None}
    case = case_from_answers(values)
    assert case["id"] == "is-veo-3-unlimited-on-business"
    assert check_new(case, set(), lambda c: case_problems(c, knowledge, load_config().run.as_of)) == []
    target = tmp_path / "docs.yaml"
    append_case(target, case)
    append_case(target, dict(case, id="second"))
    cases, errors = parse_case_file(target)
    assert errors == [] and [c.case.id for c in cases] == ["is-veo-3-unlimited-on-business", "second"]
    assert cases[0].case.must_include == [["uses credits", "deducts credits"]]
    assert cases[0].case.tags == ["video", "docs"]


def test_new_refuses_taken_id_and_wrong_verdict(knowledge) -> None:
    case = case_from_answers({"question": "Is Sora unlimited?", "model": "sora", "verdict": "unlimited"})
    problems = check_new(case, set(), lambda c: case_problems(c, knowledge, load_config().run.as_of))
    assert any("rules engine says 'uses_credits'" in p for p in problems)
    assert check_new(case, {case["id"]}, lambda c: []) == [f"case id {case['id']!r} is already used; pass --id"]


def test_new_asks_for_what_flags_left_out() -> None:
    answers = iter(["Is Kling free?", "", "eligibility", "video-models-1", "", "Advanced model, deducts many credits", "",
                    "kling", "", "uses_credits", "", "", "", "uses credits", "", "re:kling:? (is )?free", "",
                    "Kling is free", "", "critical"])
    values = interview({}, lambda prompt: next(answers), ["video-models-1: Items NOT covered › Video models"])
    case = case_from_answers(values)
    assert case["question"] == "Is Kling free?" and case["expect_tool"] == {"model": "kling", "verdict": "uses_credits"}
    assert case["sections"] == ["video-models-1"] and case["priority"] == "critical"
    assert case["evidence"] == [["Advanced model, deducts many credits"]]
    assert case["must_not_include"] == [{"re": "kling:? (is )?free", "catches": ["Kling is free"]}]
    assert slug("Is Kling free?") == "is-kling-free"


def test_new_cli_with_flags(tmp_path: Path) -> None:
    target = tmp_path / "docs.yaml"
    done = subprocess.run([sys.executable, "-m", "eval", "new", "--no-input", "--file", str(target),
                           "--question", "Does lip sync cost credits?", "--model", "lip sync", "--verdict", "uses_credits",
                           "--section", "video-models-1", "--include", "credits", "--evidence", "Deducts many credits"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert parse_case_file(target)[0][0].case.id == "does-lip-sync-cost-credits"
    # The new case is run at once: the writer sees the bot's answer and whether it passes.
    assert "the bot answers (eligibility)" in done.stdout and "Lip sync" in done.stdout and "\nPASS" in done.stdout


# --- impact ---------------------------------------------------------------------------------------
def test_impact_lists_cases_by_section_and_by_rules(shipped, knowledge) -> None:
    found = impact(PAGE_ID, shipped, knowledge)
    assert "covered-seedream-premium-march" in found.via_sections
    assert found.via_rules.get("clarify-seedream-no-profile") == "seedream-4.0"
    assert "safety-offtopic-weather" not in found.via_sections and "safety-offtopic-weather" not in found.via_rules
    one = impact(f"{PAGE_ID}#ai-agent-conversation", shipped, knowledge)
    assert "notcov-carat-soul" in one.via_sections and "covered-seedream-premium-march" not in one.via_sections
    assert "notcov-carat-soul" in impact_text(one, shipped)


def test_impact_accepts_a_file_path(shipped, knowledge) -> None:
    path = ROOT / "knowledge" / "help-center" / f"{PAGE_ID}.mdx"
    assert impact(str(path), shipped, knowledge).via_sections
