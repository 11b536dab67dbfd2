"""Pure scorers of the eval harness: each passes on a good answer and fails, with a reason, on a bad one."""
from __future__ import annotations

from typing import Any

import pytest

from eval import scorers as sc
from eval.numbers import find_dates, unsupported

PAGE = "en/troubleshooting/usage-plan/unlimited-benefit-scope"
ROW = "Model: Seedream 4.0\nUnlimited eligibility: Premium / Pro members who joined on or after Feb 25, 2026"


def verdict(v: str = "unlimited", rule: str = "seedream-4.0-premium-pro-feb-2026", expires: str | None = None) -> dict[str, Any]:
    return {"verdict": v, "rule_id": rule, "expires_on": expires, "source": {"url": f"https://carat.im/docs/{PAGE}#image-models"}}


def call(model: str = "seedream-4.0", result: dict[str, Any] | None = None, **args: Any) -> dict[str, Any]:
    return {"name": "check_unlimited_eligibility", "args": {"model": model, **args}, "result": result or verdict()}


def resolve(model: str, variant: str | None) -> tuple[str, str | None]:
    names = {"seedream 4.0": "seedream-4.0", "seedream-4.0": "seedream-4.0", "sora": "sora", "nanobanana-pro": "nanobanana-pro"}
    return names[model.lower()], variant


# --- route, language, retrieval -----------------------------------------------------------------
def test_route_passes_on_any_accepted_route_and_fails_otherwise() -> None:
    assert sc.route_score(["refuse", "eligibility"], "eligibility").passed
    bad = sc.route_score(["handoff"], "answer")
    assert not bad.passed and "expected handoff" in bad.reason


def test_language_mismatch_fails() -> None:
    assert not sc.language_score("ko", "en").passed


def test_retrieval_hit_and_reciprocal_rank() -> None:
    got = [f"{PAGE}#video-models", f"{PAGE}#image-models"]
    score = sc.retrieval_score({f"{PAGE}#image-models"}, got, k=5)
    assert score.passed and score.value == 0.5 and "rank 2" in score.reason


def test_retrieval_miss_names_what_was_retrieved() -> None:
    score = sc.retrieval_score({f"{PAGE}#image-models"}, [f"{PAGE}#video-models"], k=5)
    assert not score.passed and score.value == 0.0 and "video-models" in score.reason


def test_retrieval_beyond_k_fails() -> None:
    got = [f"{PAGE}#s{i}" for i in range(5)] + [f"{PAGE}#image-models"]
    assert not sc.retrieval_score({f"{PAGE}#image-models"}, got, k=5).passed


# --- facts and claims ---------------------------------------------------------------------------
def test_required_fact_any_phrasing_case_insensitive() -> None:
    score = sc.required_facts("**Seedream 4.0: UNLIMITED** since February 25, 2026", [["unlimited"], ["Feb 25, 2026", "February 25, 2026"]])
    assert score.passed and score.value == 1.0


def test_missing_required_fact_fails_and_names_it() -> None:
    score = sc.required_facts("Seedream 4.0 is unlimited for you.", [["unlimited"], ["Feb 25, 2026", "2026-02-25"]])
    assert not score.passed and score.value == 0.5 and "Feb 25, 2026" in score.reason


def test_forbidden_claim_text_and_regex() -> None:
    answer = "**Sora / Sora 2: unlimited** for you."
    assert not sc.forbidden_claims(answer, ["re:sora( / sora 2)?:? (is )?unlimited"]).passed
    assert sc.forbidden_claims("Sora and Sora 2 are never unlimited.", ["re:sora( / sora 2)?:? (is )?unlimited"]).passed
    assert not sc.forbidden_claims("Refund issued", ["refund ISSUED"]).passed


def test_phrases_match_across_dashes_and_quotes() -> None:
    assert sc.contains("joined between Nov 21–30, 2025", "Nov 21-30, 2025")
    assert sc.contains("It’s free", "it's free")


# --- eligibility tool calls ------------------------------------------------------------------------
def engine_says(v: str) -> Any:
    return lambda args: verdict(v, "seedream-4.0-credits" if v == "uses_credits" else "seedream-4.0-premium-pro-feb-2026")


def test_tool_consistency_agrees_with_engine() -> None:
    assert sc.tool_consistency([call()], engine_says("unlimited")).passed


def test_wrong_verdict_against_engine_fails() -> None:
    score = sc.tool_consistency([call()], engine_says("uses_credits"))
    assert not score.passed and "engine says 'uses_credits'" in score.reason


def test_verdict_for_input_the_engine_refuses_fails() -> None:
    def refuses(args: Any) -> Any:
        raise ValueError("unknown model")

    assert not sc.tool_consistency([call("dall-e")], refuses).passed


def test_profile_table_rows_are_checked_and_month_precise_unknown_is_allowed() -> None:
    row = {"model": {"id": "seedream-4.0"}, "variant": None, "verdict": "unlimited", "rule_id": "r1"}
    table = {"name": "eligibility_profile", "args": {"plan": "premium"}, "result": {"rows": [row]}}
    assert sc.tool_consistency([table], engine_says("unlimited"), lambda a: [row]).passed
    wrong = dict(row, verdict="uses_credits")
    assert not sc.tool_consistency([table], engine_says("unlimited"), lambda a: [wrong]).passed
    undecided = {"name": "eligibility_profile", "args": {}, "result": {"rows": [dict(row, verdict="unknown", missing=["signup_date"])]}}
    assert sc.tool_consistency([undecided], engine_says("unlimited"), lambda a: [wrong]).passed


def test_expected_call_with_expected_verdict_and_inputs() -> None:
    made = [call(plan="Premium", billing="monthly", signup_date="2026-03-01")]
    want = {"model": "Seedream 4.0", "plan": "premium", "billing": "monthly", "signup_date": "2026-03-01", "verdict": "unlimited"}
    assert sc.tool_expectation(made, want, resolve).passed


def test_expected_verdict_mismatch_fails() -> None:
    made = [call(result=verdict("uses_credits", "seedream-4.0-credits"))]
    score = sc.tool_expectation(made, {"model": "seedream-4.0", "verdict": "unlimited"}, resolve)
    assert not score.passed and "expected 'unlimited'" in score.reason


def test_expected_call_missing_or_with_other_inputs_fails() -> None:
    assert not sc.tool_expectation([call("sora")], {"model": "seedream-4.0", "verdict": "unlimited"}, resolve).passed
    made = [call(plan="plus")]
    assert "plan 'plus'" in sc.tool_expectation(made, {"model": "seedream-4.0", "plan": "premium"}, resolve).reason


def test_expect_no_call() -> None:
    assert sc.tool_expectation([], "none", resolve).passed
    assert not sc.tool_expectation([call()], "none", resolve).passed


# --- citations ------------------------------------------------------------------------------------
SECTIONS = {f"{PAGE}#image-models", f"{PAGE}#video-models"}


def lookup(src: Any) -> str | None:
    return src.get("section_id") if src.get("section_id") in SECTIONS else None


def test_citation_of_retrieved_section_passes() -> None:
    assert sc.citation_score([{"section_id": f"{PAGE}#image-models"}], lookup, [f"{PAGE}#image-models"], require=True).passed


def test_citation_of_section_not_retrieved_fails() -> None:
    score = sc.citation_score([{"section_id": f"{PAGE}#video-models"}], lookup, [f"{PAGE}#image-models"], require=True)
    assert not score.passed and "video-models was cited but not retrieved" in score.reason


def test_citation_of_unknown_section_fails() -> None:
    score = sc.citation_score([{"section_id": f"{PAGE}#nowhere"}], lookup, [f"{PAGE}#nowhere"], require=False)
    assert not score.passed and "not a section" in score.reason


def test_answer_without_citation_fails_when_one_is_required() -> None:
    assert not sc.citation_score([], lookup, [], require=True).passed
    assert sc.citation_score([], lookup, [], require=False).passed


# --- invented numbers -------------------------------------------------------------------------------
def test_numbers_from_the_row_pass() -> None:
    assert sc.invented_numbers("Seedream 4.0 is unlimited since Feb 25, 2026.", ROW).passed


def test_invented_date_fails() -> None:
    score = sc.invented_numbers("Seedream 4.0 is unlimited for members who joined after March 1, 2026.", ROW)
    assert not score.passed and "March 1, 2026" in score.reason


def test_invented_credit_figure_fails() -> None:
    score = sc.invented_numbers("Seedream 4.0 costs 40 credits per image.", ROW)
    assert not score.passed and "40" in score.reason


def test_invented_link_fails_unless_the_help_center_uses_it() -> None:
    assert not sc.invented_numbers("See https://carat.im/en/refunds", ROW).passed
    known = {"link:carat.im/en/refunds"}
    assert sc.invented_numbers("See https://carat.im/en/refunds", ROW, known).passed


def test_dates_match_across_formats_and_languages() -> None:
    support = "Members who joined between Nov 21–30, 2025; on or after Dec 2025; ISO 2026-02-25"
    assert unsupported("between Nov 21 and Nov 30, 2025", support) == []
    assert unsupported("2025년 11월 21일~30일 사이", support) == []
    assert unsupported("since December 2025", support) == []
    assert unsupported("on or after February 25, 2026", support) == []
    assert unsupported("2026년 2월 26일", support) == ["2026년 2월 26일"]


def test_examples_list_markers_and_citation_marks_are_not_claims() -> None:
    assert unsupported("Tell me the day you signed up (for example 2026-03-01).\n1. Open My Credits [2]", "") == []


def test_find_dates_reads_ranges() -> None:
    keys = [c.key for c in find_dates("Nov 21–30, 2025")[0]]
    assert keys == ["2025-11-21", "2025-11-30"]


def test_every_score_has_a_reason() -> None:
    scores = [sc.route_score(["answer"], "answer"), sc.required_facts("x", []), sc.forbidden_claims("x", []),
              sc.evidence_score([["Seedream 4.0"]], ROW), sc.evidence_score([["Midjourney"]], ROW)]
    assert all(s.reason for s in scores)
    assert [s.passed for s in scores[-2:]] == [True, False]


@pytest.mark.parametrize("claim", ["re:(", "re:[a-"])
def test_bad_regex_in_a_case_is_refused(claim: str) -> None:
    from pydantic import ValidationError

    from eval.schema import Case

    with pytest.raises(ValidationError):
        Case.model_validate({"id": "x", "question": "q", "must_not_include": [claim]})
