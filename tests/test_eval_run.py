"""The eval run against the real offline bot: it passes on the shipped knowledge and fails, naming the cases,
when a rule date moves or a table row disappears."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import get_settings
from eval.report_text import summary
from eval.run import RunRequest, execute

ROOT = Path(__file__).resolve().parent.parent
PAGE_FILE = Path("help-center/en/troubleshooting/usage-plan/unlimited-benefit-scope.mdx")
SEEDREAM_RULE = "  - id: seedream-4.0-premium-pro-feb-2026\n    model: seedream-4.0\n    section: image-models\n    when: {plans: [premium, pro], signup_from: 2026-02-25}"
SEEDREAM_CASES = ["covered-seedream-premium-march", "covered-seedream-pro-feb-25", "ko-seedream-premium",
                  "multi-clarify-then-answer"]
CONTROL = "covered-flux2-pro-pro"


def knowledge_copy(tmp_path: Path) -> Path:
    """Return a writable copy of knowledge/."""
    dest = tmp_path / "knowledge"
    shutil.copytree(ROOT / "knowledge", dest)
    return dest


def run(tmp_path: Path, ids: list[str], data_dir: Path | None = None, **settings: object) -> dict:
    """Run some cases with an empty baseline; reports go to tmp_path."""
    req = RunRequest(settings=get_settings(**settings), ids=ids, out_dir=tmp_path / "out", data_dir=data_dir,
                     baseline=tmp_path / "no-baseline.json")
    return execute(req)


@pytest.fixture(scope="module")
def shared_index(built) -> Path:
    """Return the data folder of the shared index of the shipped pages."""
    return built[0].data_dir


def test_seedream_cases_pass_on_the_shipped_knowledge(tmp_path: Path, shared_index: Path) -> None:
    doc = run(tmp_path, SEEDREAM_CASES + [CONTROL], shared_index)
    failing = {c["id"]: [s["reason"] for s in c["scores"] if not s["passed"]] for c in doc["cases"] if not c["passed"]}
    assert failing == {} and doc["gate"]["passed"]
    assert doc["schema_version"] == 2 and set(doc["run"]["hashes"]) == {"prompts", "rules", "help_center"}
    assert (tmp_path / "out" / "report.html").is_file() and (tmp_path / "out" / "junit.xml").is_file()


def test_a_moved_rule_date_fails_the_run_and_names_the_cases(tmp_path: Path, shared_index: Path) -> None:
    knowledge = knowledge_copy(tmp_path)
    rules = knowledge / "rules" / "eligibility.yaml"
    text = rules.read_text(encoding="utf-8")
    assert SEEDREAM_RULE in text
    rules.write_text(text.replace(SEEDREAM_RULE, SEEDREAM_RULE.replace("2026-02-25", "2026-03-25")), encoding="utf-8")
    doc = run(tmp_path, SEEDREAM_CASES + [CONTROL], shared_index, knowledge_dir=knowledge, rules_path=rules)
    assert not doc["gate"]["passed"]
    assert set(doc["gate"]["critical"]) == set(SEEDREAM_CASES)
    by_id = {c["id"]: c for c in doc["cases"]}
    assert by_id[CONTROL]["passed"]
    reasons = [s["reason"] for s in by_id["covered-seedream-premium-march"]["scores"] if not s["passed"]]
    assert any("verdict 'uses_credits', expected 'unlimited'" in r for r in reasons)
    text = summary(doc)
    assert all(cid in text for cid in SEEDREAM_CASES) and "gate: FAIL" in text
    assert doc["run"]["hashes"]["rules"] != run(tmp_path / "again", [CONTROL], shared_index)["run"]["hashes"]["rules"]


def test_a_removed_table_row_fails_the_run_and_names_the_case(tmp_path: Path) -> None:
    knowledge = knowledge_copy(tmp_path)
    page = knowledge / PAGE_FILE
    lines = page.read_text(encoding="utf-8").splitlines(keepends=True)
    page.write_text("".join(line for line in lines if not line.startswith("| **Seedream 4.0**")), encoding="utf-8")
    doc = run(tmp_path, ["covered-seedream-premium-march", CONTROL], pages_dir=knowledge / "help-center")
    assert not doc["gate"]["passed"] and doc["gate"]["critical"] == ["covered-seedream-premium-march"]
    failed = {s["name"]: s["reason"] for c in doc["cases"] for s in c["scores"] if not s["passed"]}
    assert "Seedream 4.0" in failed["evidence"]


def test_cli_run_exit_codes_regressions_and_bless_refusal(tmp_path: Path) -> None:
    knowledge = knowledge_copy(tmp_path)
    rules = knowledge / "rules" / "eligibility.yaml"
    rules.write_text(rules.read_text(encoding="utf-8").replace(SEEDREAM_RULE, SEEDREAM_RULE.replace("2026-02-25", "2026-03-25")),
                     encoding="utf-8")
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps({"schema_version": 2, "modes": {"offline": {"blessed_at": "t", "cases": {
        "covered-seedream-premium-march": {"passed": True, "failed_checks": []}}}}}))
    env = {**os.environ, "RULES_PATH": str(rules)}
    args = [sys.executable, "-m", "eval", "run", "--case", "covered-seedream-premium-march", "--baseline", str(baseline),
            "--out", str(tmp_path / "out")]
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "REGRESSIONS (passed in the baseline): 1" in done.stdout and "covered-seedream-premium-march" in done.stdout
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["gate"]["regressions"] == ["covered-seedream-premium-march"]
    bless = subprocess.run([sys.executable, "-m", "eval", "bless", "--from", str(tmp_path / "out" / "results.json"),
                            "--baseline", str(baseline)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert bless.returncode == 2 and "partial run" in bless.stderr


def test_llm_mode_with_judge_against_a_local_stub(tmp_path: Path, shared_index: Path) -> None:
    from tests.openai_stub import OpenAIStub

    def reply(request: dict) -> str:
        if "You grade one answer" in str(request["messages"][-1].get("content")):
            return '{"faithfulness": 0.5, "correctness": 1.0, "reason": "scripted"}'
        return "Seedream 4.0 is unlimited for you."

    with OpenAIStub(responder=reply) as stub:
        settings = get_settings(openai_base_url=stub.base_url)
        req = RunRequest(mode="llm", settings=settings, ids=["covered-seedream-premium-march"], out_dir=tmp_path / "out",
                         data_dir=shared_index, baseline=tmp_path / "none.json", judge_repeats=2)
        doc = execute(req)
    case = doc["cases"][0]
    assert doc["run"]["mode"] == "llm" and case["final"]["mode"] in ("llm", "degraded")
    assert [s["name"] for s in case["judged"]] == ["judge_faithfulness", "judge_correctness"]
    assert doc["aggregates"]["judged"] == {"judge_faithfulness": 0.5, "judge_correctness": 1.0}
    assert "spread 0.0" in case["judged"][0]["reason"]


def test_llm_mode_needs_a_model(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="needs a model"):
        execute(RunRequest(mode="llm", settings=get_settings(), out_dir=None))
