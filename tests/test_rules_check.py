"""check-rules: the rules cover every model row of the help page and cite real sections."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.eligibility.check import check_rules

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "knowledge" / "rules" / "eligibility.yaml"
PAGES = ROOT / "knowledge" / "help-center"
PAGE_REL = Path("en/troubleshooting/usage-plan/unlimited-benefit-scope.mdx")
BASE = "https://carat.im/docs"
MIDJOURNEY_ROW = "| **Midjourney**              | Not eligible"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run python -m bot with args from the project folder."""
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, capture_output=True, text=True, timeout=60)


@pytest.fixture()
def pages(tmp_path: Path) -> Path:
    """Return a writable copy of the help-center folder."""
    dest = tmp_path / "help-center"
    shutil.copytree(PAGES, dest)
    return dest


def edit_page(pages: Path, old: str, new: str) -> tuple[Path, str]:
    """Replace text in the copied page; return the page file and its new text."""
    page = pages / PAGE_REL
    text = page.read_text(encoding="utf-8")
    assert old in text, old
    text = text.replace(old, new, 1)
    page.write_text(text, encoding="utf-8")
    return page, text


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def test_shipped_page_and_rules_agree() -> None:
    report = check_rules(RULES, PAGES, BASE)
    assert report.ok, [str(p) for p in report.problems]
    assert report.rows == 25 and report.page == "en/troubleshooting/usage-plan/unlimited-benefit-scope"


def test_cli_passes_on_the_shipped_files() -> None:
    result = cli("check-rules")
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout
    data = json.loads(cli("check-rules", "--json").stdout)
    assert data["ok"] is True and data["problems"] == []


def test_new_model_row_without_rules_fails(pages: Path) -> None:
    page, text = edit_page(pages, MIDJOURNEY_ROW, "| **Imagen 4**                | Not eligible |\n" + MIDJOURNEY_ROW)
    result = cli("check-rules", "--pages", str(pages), "--json")
    assert result.returncode == 1
    (problem,) = json.loads(result.stdout)["problems"]
    assert problem["file"] == str(page) and problem["line"] == line_of(text, "| **Imagen 4**")
    assert "Imagen 4" in problem["message"] and "#image-models-1" in problem["message"]
    text_result = cli("check-rules", "--pages", str(pages))
    assert text_result.returncode == 1 and f"{page}:{problem['line']}" in text_result.stdout and "Imagen 4" in text_result.stdout


def test_row_naming_more_than_a_known_model_fails(pages: Path) -> None:
    edit_page(pages, "| **Flux2 Pro**                |", "| **Flux2 Pro Ultra**          |")
    report = check_rules(RULES, pages, BASE)
    assert not report.ok and "'Ultra'" in report.problems[0].message


def test_renamed_heading_fails_at_the_citing_rule(pages: Path) -> None:
    edit_page(pages, "### Video models\n\n| Model            | Note", "### Video generation models\n\n| Model            | Note")
    report = check_rules(RULES, pages, BASE)
    assert not report.ok
    (problem,) = report.problems
    rules_text = RULES.read_text(encoding="utf-8")
    assert problem.file == str(RULES) and "#video-models-1" in problem.message
    assert problem.line == line_of(rules_text, "    section: video-models-1")


def test_rules_citing_a_missing_section_fail(tmp_path: Path) -> None:
    text = RULES.read_text(encoding="utf-8").replace("    section: video-models-1\n", "    section: video-modelz\n", 1)
    rules = tmp_path / "eligibility.yaml"
    rules.write_text(text, encoding="utf-8")
    result = cli("check-rules", "--rules", str(rules), "--json")
    assert result.returncode == 1
    (problem,) = json.loads(result.stdout)["problems"]
    assert problem["file"] == str(rules) and problem["line"] == line_of(text, "section: video-modelz")
    assert "#video-modelz" in problem["message"]


def test_acknowledged_row_that_left_the_page_is_reported(pages: Path) -> None:
    edit_page(pages, "| Other advanced image models | Not eligible", "| **Midjourney v7**           | Not eligible")
    report = check_rules(RULES, pages, BASE)
    messages = [p.message for p in report.problems]
    assert any("acknowledged row 'Other advanced image models'" in m for m in messages)
    assert any("'Midjourney v7'" in m or "'v7'" in m for m in messages)


def test_changed_section_title_is_reported(tmp_path: Path) -> None:
    text = RULES.read_text(encoding="utf-8").replace("› Video models\n", "› Videos\n", 1)
    rules = tmp_path / "eligibility.yaml"
    rules.write_text(text, encoding="utf-8")
    report = check_rules(rules, PAGES, BASE)
    assert [p.line for p in report.problems] == [line_of(text, "› Videos")]
