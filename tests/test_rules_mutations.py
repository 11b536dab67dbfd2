"""Edits a docs writer makes, page and rules: check-rules fails exactly on the inconsistent ones, in words."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.eligibility.check import CheckReport, check_rules

ROOT = Path(__file__).resolve().parent.parent
PAGE = "en/troubleshooting/usage-plan/unlimited-benefit-scope.mdx"
SEEDREAM_ROW = "| **Seedream 4.0**             | Premium / Pro members who joined on or after Feb 25, 2026 |"
SEEDREAM_RULE = "    model: seedream-4.0\n    section: image-models\n    when: {plans: [premium, pro], signup_from: 2026-02-25}"


def edited(tmp_path: Path, page: list[tuple[str, str]] = (), rules: list[tuple[str, str]] = ()) -> tuple[Path, Path]:  # type: ignore[assignment]
    """Copy knowledge/ with the edits applied; return (pages folder, rules file)."""
    root = tmp_path / "knowledge"
    shutil.copytree(ROOT / "knowledge", root)
    for path, edits in ((root / "help-center" / PAGE, page), (root / "rules" / "eligibility.yaml", rules)):
        text = path.read_text(encoding="utf-8")
        for old, new in edits:
            assert old in text, old
            text = text.replace(old, new, 1)
        path.write_text(text, encoding="utf-8")
    return root / "help-center", root / "rules" / "eligibility.yaml"


def run(tmp_path: Path, **edits: list[tuple[str, str]]) -> CheckReport:
    pages, rules = edited(tmp_path, **edits)
    return check_rules(rules, pages, "https://carat.im/docs")


def line_of(path: Path, needle: str) -> int:
    text = path.read_text(encoding="utf-8")
    return text[: text.index(needle)].count("\n") + 1


def test_shipped_page_and_rules_agree() -> None:
    report = check_rules(ROOT / "knowledge" / "rules" / "eligibility.yaml", ROOT / "knowledge" / "help-center", "https://carat.im/docs")
    assert report.ok, [str(p) for p in report.problems]
    assert report.rows >= 25 and report.statements > report.rows


def test_page_only_date_move_names_both_lines_and_both_dates(tmp_path: Path) -> None:
    moved = SEEDREAM_ROW.replace("Feb 25, 2026", "Mar 25, 2026")
    report = run(tmp_path, page=[(SEEDREAM_ROW, moved)])
    (problem,) = report.problems
    page_file = tmp_path / "knowledge" / "help-center" / PAGE
    assert problem.file == str(page_file) and problem.line == line_of(page_file, moved)
    assert problem.rule_line == line_of(tmp_path / "knowledge" / "rules" / "eligibility.yaml", "- id: seedream-4.0-premium-pro-feb-2026")
    assert "Seedream 4.0" in problem.message
    assert "the page says on or after Mar 25, 2026; the rule says on or after Feb 25, 2026" in problem.message


def test_rules_only_date_move(tmp_path: Path) -> None:
    report = run(tmp_path, rules=[(SEEDREAM_RULE, SEEDREAM_RULE.replace("2026-02-25", "2026-03-25"))])
    (problem,) = report.problems
    assert "the page says on or after Feb 25, 2026; the rule says on or after Mar 25, 2026" in problem.message


def test_consistent_move_passes(tmp_path: Path) -> None:
    report = run(tmp_path, page=[(SEEDREAM_ROW, SEEDREAM_ROW.replace("Feb 25, 2026", "Mar 25, 2026"))],
                 rules=[(SEEDREAM_RULE, SEEDREAM_RULE.replace("2026-02-25", "2026-03-25"))])
    assert report.ok, [str(p) for p in report.problems]


GRID = "| **Grok Imagine**   "


@pytest.mark.parametrize(("page", "rules", "expected"), [
    ([(GRID, "| **Imagen 4**                 | Premium members (monthly or annual)                       |\n" + GRID)], [],
     "'Imagen 4' in section #image-models names no model"),
    ([(GRID, "| **Midjourney**               | Premium members (monthly or annual)                       |\n" + GRID)], [],
     "disagree about Midjourney: the page says it is unlimited for Premium members"),
    ([("| **Z Image**                  | Members who joined on or after Dec 17, 2025               |\n", "")], [],
     "rule 'z-image-dec-17-2025': Z Image is unlimited for members who joined on or after Dec 17, 2025; but page"),
    ([("Nanobanana 2 has a similar name but is a **separate model**, and by default using it deducts credits.",
       "Nanobanana 2 is unlimited for everyone.")], [], "disagree about Nanobanana 2: the page says it is unlimited for everyone"),
    ([("(1 year) |", "(2 years) |")], [], "the page says the benefit lasts 2 years; the rule says 1 year"),
    ([("| **Flux2 Pro**                | Premium / Pro members", "| **Flux2 Pro**                | Premium / Plus members")], [],
     "disagree about Flux2 Pro: the page says Plus and Premium members; the rule says Premium and Pro members"),
    ([("Premium / Max / Pro members (annual subscription only)", "Premium / Max / Pro members (monthly or annual)   ")], [],
     "the page says monthly or annual billing; the rule says annual billing only"),
    ([("Max annual benefits apply to signups on or after May 22, 2026.", "Max annual benefits apply to signups on or after June 1, 2026.")], [],
     "Max annual signups: the page says on or after Jun 1, 2026; the rules say on or after May 22, 2026"),
    ([("Agent 2.0 uses **Seedance 2.0** as its default video model", "Agent 2.0 uses **Kling** as its default video model")], [],
     "the page says its default video model is Kling; the rules say Seedance 2.0"),
    ([('explicitly request **"Use Carat Basic Video (LTX 2.3)"**. See', 'explicitly request **"Use Carat Video (LTX 2.3)"**. See')], [],
     "the page says “Use Carat Video (LTX 2.3)”; the rules say “Use Carat Basic Video (LTX 2.3)”"),
    ([("| **Midjourney**              | Not eligible ", "| **Midjourney**              | Deducts many credits ")], [],
     "the page says “Midjourney deducts many credits"),
    ([("Conversation credits used (low)", "Conversation credits used (high)")], [], "Carat 1.0 Lite"),
    ([("Only members who joined between Nov 21–30, 2025 have unlimited", "Only members who joined between Nov 21–25, 2025 have unlimited")], [],
     "the page says between Nov 21, 2025 and Nov 25, 2025; the rule says between Nov 21, 2025 and Nov 30, 2025"),
    ([("Not unlimited unless you joined Nov 21–30", "Not unlimited unless you joined Nov 20–30")], [], "the page says between Nov 20–30"),
    ([("| **Sora / Sora2** | Advanced model, deducts many credits |", "| **Sora / Sora2** | Unlimited for Pro members            |")], [],
     "disagree about Sora / Sora 2: the page says it is unlimited for Pro members"),
    ([], [("when: {plans: [plus, pro], signup_from: 2025-12}", "when: {plans: [plus, pro, premium], signup_from: 2025-12}")],
     "the page says Plus and Pro members; the rule says Plus, Premium and Pro members"),
    ([], [("  - id: midjourney-credits", "  - id: midjourney-pro\n    model: midjourney\n    section: image-models-1\n    when: {plans: [pro]}\n"
                                        "    verdict: unlimited\n  - id: midjourney-credits")],
     "rule 'midjourney-pro': Midjourney is unlimited for Pro members regardless of signup date; but page"),
])
def test_inconsistent_edits_fail_with_the_disagreement_in_words(tmp_path: Path, page, rules, expected: str) -> None:  # type: ignore[no-untyped-def]
    report = run(tmp_path, page=page, rules=rules)
    assert not report.ok
    assert any(expected in p.message for p in report.problems), [p.message for p in report.problems]
    assert all(p.line for p in report.problems)


def test_a_phrase_the_grammar_cannot_read_is_reported_by_line(tmp_path: Path) -> None:
    odd = "| Folks who came aboard around mid-December 2025            |"
    report = run(tmp_path, page=[("| Members who joined on or after Dec 17, 2025               |", odd)])
    unread = [p for p in report.problems if p.kind == "unread"]
    assert unread and "cannot read 'Folks came aboard around mid'" in unread[0].message
    assert unread[0].line == line_of(tmp_path / "knowledge" / "help-center" / PAGE, odd)


def test_a_new_phrase_added_to_the_phrasebook_is_read(tmp_path: Path) -> None:
    """A writer who words a cell differently extends knowledge/rules/phrases.yaml, not the code."""
    page = [("| Members who joined on or after Dec 17, 2025               |", "| Members who signed on starting Dec 17, 2025               |")]
    assert not run(tmp_path / "a", page=page).ok
    pages, rules = edited(tmp_path / "b", page=page)
    phrases = rules.parent / "phrases.yaml"
    phrases.write_text(phrases.read_text(encoding="utf-8").replace("  window_from:\n", "  window_from:\n    - 'signed on starting'\n"), encoding="utf-8")
    report = check_rules(rules, pages, "https://carat.im/docs")
    assert report.ok, [str(p) for p in report.problems]


# --- through the eval gate and the bot ------------------------------------------------------------
def _settings(tmp_path: Path, knowledge: Path):  # type: ignore[no-untyped-def]
    from bot.settings import get_settings

    return get_settings(knowledge_dir=knowledge, data_dir=tmp_path / "var", openai_api_key=None, openai_base_url=None)


def test_eval_run_fails_on_a_page_only_move_with_the_writers_message(tmp_path: Path) -> None:
    from eval.run import RunRequest, execute

    pages, _ = edited(tmp_path, page=[(SEEDREAM_ROW, SEEDREAM_ROW.replace("Feb 25, 2026", "Mar 25, 2026"))])
    doc = execute(RunRequest(settings=_settings(tmp_path, pages.parent), ids=["covered-z-image-on-dec-17"],
                             out_dir=None, baseline=tmp_path / "none.json"))
    assert not doc["gate"]["passed"]
    (line,) = doc["gate"]["knowledge"]
    assert "disagree about Seedream 4.0" in line and "the page says on or after Mar 25, 2026" in line and "Fix the page or the rules" in line


QUESTIONS = [
    ("Is Seedream 4.0 unlimited for me?", {"plan": "premium", "billing": "annual", "signup_date": "2026-03-10"}),
    ("Is Seedream 4.0 unlimited for me?", {"plan": "premium", "billing": "annual", "signup_date": "2026-04-01"}),
    ("시드림 4.0 무제한인가요?", {"plan": "premium", "billing": "annual", "signup_date": "2026-03-10"}),
    ("시드림 4.0 무제한인가요?", {"plan": "premium", "billing": "annual", "signup_date": "2026-04-01"}),
    ("Which image models are unlimited for Premium members who joined recently?", None),
    ("프리미엄 회원은 어떤 이미지 모델이 무제한인가요?", None),
    ("Isn't Seedream unlimited?", None),
]


def test_after_a_consistent_move_every_answer_in_both_languages_states_the_new_date(tmp_path: Path) -> None:
    """Page and rules moved together: check-rules passes, the stale Korean twin is flagged, and no answer keeps the old date."""
    from datetime import date

    from bot.service import make_bot
    from bot.types import Profile

    pages, rules = edited(tmp_path, page=[(SEEDREAM_ROW, SEEDREAM_ROW.replace("Feb 25, 2026", "Mar 25, 2026"))],
                          rules=[(SEEDREAM_RULE, SEEDREAM_RULE.replace("2026-02-25", "2026-03-25"))])
    report = check_rules(rules, pages, "https://carat.im/docs")
    assert report.ok, [str(p) for p in report.problems]
    assert any(w.kind == "twin" and "dates differ" in w.message for w in report.warnings)
    bot = make_bot(_settings(tmp_path, pages.parent), today=lambda: date(2026, 11, 20), ensure_index=True)
    new = ("Mar 25, 2026", "2026년 3월 25일", "March 25, 2026")
    old = ("Feb 25", "2월 25일", "February 25")
    for question, profile in QUESTIONS:
        answer = bot.ask(question, profile=Profile.model_validate(profile) if profile else None)
        seedream = [t for t in answer.tool_calls if t.args.get("model") == "seedream-4.0"]
        if seedream or "seedream" in answer.answer.lower() or "시드림" in answer.answer:
            assert any(d in answer.answer for d in new), (question, answer.answer)
        for line in answer.answer.splitlines():
            if "seedream" in line.lower() or "시드림" in line:
                assert not any(d in line for d in old), (question, line)
        if profile:
            want = "uses_credits" if profile["signup_date"] < "2026-03-25" else "unlimited"
            assert seedream and seedream[0].result["verdict"] == want
