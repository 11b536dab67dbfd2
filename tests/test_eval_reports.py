"""Aggregates, the gate, the baseline, JUnit and the HTML report, on hand-made results."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from eval.gate import GateConfig, Limit, RunDefaults, blessed, check_gate, threshold_failures
from eval.report_html import render_html
from eval.report_text import junit_xml, summary
from eval.results import aggregate, percentile, tree_hash

EVIL = '<script>alert("x")</script> & <b>'


def case(cid: str, passed: bool, priority: str = "standard", tags: list[str] | None = None,
         answer: str = "ok", seconds: float = 0.01) -> dict[str, Any]:
    scores = [{"name": "route", "passed": True, "value": "answer", "reason": "route answer"},
              {"name": "retrieval", "passed": passed, "value": 1.0 if passed else 0.0, "reason": "r"}]
    if not passed:
        scores.append({"name": "required_facts", "passed": False, "value": 0.0, "reason": f"missing: {EVIL}"})
    return {"id": cid, "file": "x.yaml", "priority": priority, "tags": tags or ["t"], "question": EVIL, "passed": passed,
            "failed_checks": [s["name"] for s in scores if not s["passed"]], "error": None, "scores": scores, "judged": [],
            "turns": [{"question": EVIL, "answer": answer, "route": "answer", "seconds": seconds, "tokens": 0}],
            "final": {"answer": answer, "retrieved": [{"section_id": "p#a", "section": EVIL, "score": 0.1, "dense": 0.9}],
                      "tool_calls": [{"name": "check_unlimited_eligibility", "args": {"model": EVIL},
                                      "result": {"verdict": "unlimited", "rule_id": "r"}}], "sources": []}}


def doc(cases: list[dict[str, Any]], baseline: dict[str, Any] | None = None, full: bool = True) -> dict[str, Any]:
    config = GateConfig(run=RunDefaults(as_of="2026-11-24"), thresholds={"pass_rate": Limit(min=0.5)})
    agg = aggregate(cases)
    gate = check_gate(cases, agg, "offline", config, baseline, full_run=full)
    run = {"mode": "offline", "as_of": "2026-11-24", "seconds": 1.5, "started": "now", "git": {"commit": "abc", "dirty": False},
           "hashes": {"prompts": "h1", "rules": "h2", "help_center": "h3"}, "full_run": full}
    return {"schema_version": 1, "run": run, "aggregates": agg, "gate": gate.to_dict(), "cases": cases}


def test_aggregate_rates_breakdowns_and_latency() -> None:
    cases = [case("a", True, "critical", ["x"], seconds=0.01), case("b", False, "standard", ["x", "y"], seconds=0.03)]
    agg = aggregate(cases)
    assert agg["pass_rate"] == 0.5 and agg["critical_pass_rate"] == 1.0
    assert agg["retrieval_hit_at_k"] == 0.5 and agg["retrieval_mrr"] == 0.5 and agg["route_accuracy"] == 1.0
    assert agg["by_tag"]["y"] == {"cases": 1, "passed": 0, "pass_rate": 0.0}
    assert agg["latency_p50_ms"] == 20.0 and percentile([1, 2, 3, 4], 50) == 2.5


def test_gate_fails_on_a_critical_failure_without_any_baseline() -> None:
    result = doc([case("a", False, "critical"), case("b", True)])
    assert not result["gate"]["passed"] and result["gate"]["critical"] == ["a"]


def test_gate_fails_on_a_case_that_passed_in_the_baseline() -> None:
    base = {"modes": {"offline": {"blessed_at": "t", "cases": {"b": {"passed": True}, "c": {"passed": False}}}}}
    result = doc([case("b", False), case("c", True), case("d", False)], base)
    gate = result["gate"]
    assert gate["regressions"] == ["b"] and gate["fixed"] == ["c"] and gate["new_failures"] == ["d"]
    assert not gate["passed"]


def test_gate_thresholds_apply_to_full_runs_only() -> None:
    cases = [case("a", False), case("b", False), case("c", True)]
    assert doc(cases)["gate"]["below"] == ["pass_rate 0.3333 < min 0.5"]
    assert doc(cases, full=False)["gate"]["below"] == []
    config = GateConfig(run=RunDefaults(as_of="2026-11-24"), thresholds={"latency_p95_ms": Limit(max=1, modes=["llm"])})
    assert threshold_failures({"latency_p95_ms": 50}, "offline", config) == []
    assert threshold_failures({"latency_p95_ms": 50}, "llm", config) == ["latency_p95_ms 50 > max 1.0"]


def test_bless_records_this_mode_and_keeps_the_others() -> None:
    result = doc([case("a", True), case("b", False)])
    previous = {"schema_version": 1, "modes": {"llm": {"cases": {}}}}
    base = blessed(result, previous)
    assert set(base["modes"]) == {"llm", "offline"}
    assert base["modes"]["offline"]["cases"]["b"] == {"passed": False, "failed_checks": ["retrieval", "required_facts"],
                                                      "answer": "ok", "route": None}
    again = doc([case("a", False), case("b", False)], base)
    assert again["gate"]["regressions"] == ["a"]


def test_a_changed_answer_is_reported_first_even_when_it_still_passes() -> None:
    """The baseline keeps each answer: a reworded answer that still passes is shown before and after."""
    base = blessed(doc([case("a", True, answer="Seedream 4.0 is unlimited since Feb 25, 2026.")]), None)
    now = doc([case("a", True, answer="Seedream 4.0 is unlimited since Mar 25, 2026.")], base)
    assert now["gate"]["changed"] == ["a"] and now["gate"]["passed"]
    now["cases"][0]["baseline"] = {"answer": "Seedream 4.0 is unlimited since Feb 25, 2026.", "passed": True}
    text = summary(now)
    assert "changed answers that still pass: 1" in text and text.count("- a:") == 1
    page = render_html(now)
    changed = page[page.index("Changed answers (1)"):page.index("<h2>Figures")]
    assert "<del>Feb</del>" in changed and "<ins>Mar</ins>" in changed


def test_a_new_ticket_reference_is_not_a_changed_answer() -> None:
    """Every handoff gets a fresh reference: only a change in what the answer says is reported."""
    said = "Contact Carat support and quote reference **CS-{}** so they can find this conversation."
    base = blessed(doc([case("a", True, answer=said.format("7KX4QM"))]), None)
    assert doc([case("a", True, answer=said.format("Q2ZP9A"))], base)["gate"]["changed"] == []
    assert doc([case("a", True, answer=said.format("Q2ZP9A").replace("Carat support", "us"))], base)["gate"]["changed"] == ["a"]


def test_report_says_what_to_do_and_renders_answers_as_the_customer_sees_them() -> None:
    failing = case("b", False, answer="**Seedream 4.0: unlimited** for you.\n- [My Credits](https://carat.im/en/subscription)")
    page = render_html(doc([failing]))
    assert "What to do:" in page and "tell engineering" in page
    assert "<strong>Seedream 4.0: unlimited</strong>" in page and '<a href="https://carat.im/en/subscription"' in page
    assert "<summary>FAILED · &lt;script&gt;" in page  # the question shows on the collapsed case, escaped


def test_a_disagreement_between_page_and_rules_fails_the_gate_and_leads_the_report() -> None:
    config = GateConfig(run=RunDefaults(as_of="2026-11-24"))
    line = "page.mdx:27: the page and the rules disagree about Seedream 4.0: the page says Mar 25, 2026; the rule says Feb 25, 2026"
    gate = check_gate([case("a", True)], aggregate([case("a", True)]), "offline", config, None, full_run=True, knowledge=[line])
    assert not gate.passed
    result = doc([case("a", True)])
    result["gate"] = gate.to_dict()
    assert summary(result).index("THE HELP PAGE AND THE RULES DISAGREE") < summary(result).index("gate: FAIL")
    assert "disagree about Seedream 4.0" in render_html(result)


def test_summary_lists_regressions_first_with_reasons() -> None:
    base = {"modes": {"offline": {"blessed_at": "t", "cases": {"b": {"passed": True}}}}}
    text = summary(doc([case("a", False, "critical"), case("b", False)], base))
    assert text.index("REGRESSIONS") < text.index("CRITICAL FAILURES")
    assert "required_facts: missing:" in text and text.rstrip().endswith("gate: FAIL")


def test_junit_has_one_testcase_per_case_and_failures_with_reasons() -> None:
    root = ET.fromstring(junit_xml(doc([case("a", True), case("b", False, "critical")])))
    cases = root.findall(".//testcase")
    assert [c.get("name") for c in cases] == ["a", "b"]
    failure = cases[1].find("failure")
    assert failure is not None and "[critical]" in failure.get("message", "") and EVIL in (failure.text or "")


def test_html_is_self_contained_escaped_and_puts_regressions_first() -> None:
    base = {"modes": {"offline": {"blessed_at": "t", "cases": {"z-regressed": {"passed": True}}}}}
    page = render_html(doc([case("a-failing", False), case("z-regressed", False), case("m-ok", True, answer=EVIL)], base))
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in page
    assert page.count("<svg") == 3 and "<style>" in page
    assert page.index("case-z-regressed") < page.index("case-a-failing") < page.index("case-m-ok")


def test_tree_hash_changes_with_content(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("one")
    first = tree_hash(tmp_path)
    (tmp_path / "a.txt").write_text("two")
    assert tree_hash(tmp_path) != first and tree_hash(tmp_path / "missing") is None
