"""Every eval check fails on the bad answers it exists to catch (each once passed without checking)."""
from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from eval.grading import grade
from eval.knowledge import load_knowledge
from eval.schema import Case
from eval.workflow import case_problems

AS_OF = date(2026, 11, 20)
PAGE = "en/troubleshooting/usage-plan/unlimited-benefit-scope"


@pytest.fixture(scope="module")
def knowledge():  # type: ignore[no-untyped-def]
    from bot.settings import get_settings

    return load_knowledge(get_settings())


def verdict_call(knowledge, model: str, **inputs: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Return an eligibility tool call as the bot records it, with the engine's real result."""
    v = knowledge.engine.evaluate(model, inputs.get("variant"), inputs.get("plan"), inputs.get("billing"),
                                  inputs.get("signup_date"), as_of=AS_OF)
    args = {"model": v.model.id, "variant": v.variant, "plan": v.plan, "billing": v.billing,
            "signup_date": v.signup_date.isoformat() if v.signup_date else None, "as_of": AS_OF.isoformat()}
    return {"name": "check_unlimited_eligibility", "args": args, "result": v.to_dict()}


def answer(text: str, *, route: str = "eligibility", sections: list[str] = (), calls: list[dict[str, Any]] = (),  # type: ignore[assignment]
           cite: bool = True, language: str = "en") -> dict[str, Any]:
    sids = [f"{PAGE}#{s}" for s in sections]
    return {"answer": text, "route": route, "language": language, "tool_calls": list(calls),
            "retrieved": [{"section_id": sid, "url": f"https://carat.im/docs/{sid}"} for sid in sids],
            "sources": [{"section_id": sid, "url": f"https://carat.im/docs/{sid}"} for sid in sids[:1]] if cite else []}


def failed(scores: list[Any]) -> dict[str, str]:
    return {s.name: s.reason for s in scores if not s.passed}


SEEDREAM = Case(id="seedream", question="Is Seedream 4.0 unlimited for me?", route=["eligibility"], sections=["image-models"],
                profile={"plan": "premium", "billing": "annual", "signup_date": "2026-03-01"},
                expect_tool={"model": "seedream-4.0", "verdict": "unlimited"}, must_include=[["unlimited"]])


def variant_of(case: Case, **update: Any) -> Case:
    """Return a copy of a case with fields replaced (validated like a case file)."""
    return Case.model_validate({**case.model_dump(exclude_none=True), **update})


def good_seedream(knowledge) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    call = verdict_call(knowledge, "seedream-4.0", plan="premium", billing="annual", signup_date="2026-03-01")
    text = ("**Seedream 4.0: unlimited** for you. Seedream 4.0 is unlimited for Premium, Max and Pro members who joined "
            "on or after Feb 25, 2026, which includes you.\n- Chatting with the AI agent still uses credits.")
    return answer(text, sections=["image-models"], calls=[call])


def test_the_good_answer_passes(knowledge) -> None:  # type: ignore[no-untyped-def]
    assert failed(grade(SEEDREAM, good_seedream(knowledge), knowledge, as_of=AS_OF, k=5)) == {}


def test_a_number_is_checked_with_its_unit_not_against_agent_2_0(knowledge) -> None:  # type: ignore[no-untyped-def]
    bad = good_seedream(knowledge)
    bad["answer"] += " In Agent 2.0 each image costs 2 credits."
    assert "2 credits" in failed(grade(SEEDREAM, bad, knowledge, as_of=AS_OF, k=5))["no_invented_numbers"]


def test_a_date_not_on_the_page_or_in_the_tool_result_fails(knowledge) -> None:  # type: ignore[no-untyped-def]
    bad = good_seedream(knowledge)
    bad["answer"] = bad["answer"].replace("Feb 25, 2026", "Mar 25, 2026")
    assert "Mar 25, 2026" in failed(grade(SEEDREAM, bad, knowledge, as_of=AS_OF, k=5))["no_invented_numbers"]


def test_required_words_in_a_note_do_not_make_a_verdict(knowledge) -> None:  # type: ignore[no-untyped-def]
    """'uses credits' in the chatting note is not the verdict: an unlimited answer fails a 'uses credits' case."""
    case = variant_of(SEEDREAM, **{"profile": None, "expect_tool": {"model": "seedream-4.0", "verdict": "uses_credits"},
                                       "must_include": [["uses credits"]]})
    scores = failed(grade(case, good_seedream(knowledge), knowledge, as_of=AS_OF, k=5))
    assert "the answer says unlimited, expected uses_credits" in scores["answer_verdict"]


def test_unlimited_only_for_others_is_not_unlimited(knowledge) -> None:  # type: ignore[no-untyped-def]
    call = verdict_call(knowledge, "seedream-4.0", plan="plus", billing="annual", signup_date="2026-03-01")
    text = "Seedream 4.0 is unlimited only for Premium, Max and Pro members who joined on or after Feb 25, 2026."
    scores = failed(grade(SEEDREAM, answer(text, sections=["image-models"], calls=[call]), knowledge, as_of=AS_OF, k=5))
    assert "never says whether it is unlimited" in scores["answer_verdict"]


def test_korean_verdicts_are_read_too(knowledge) -> None:  # type: ignore[no-untyped-def]
    call = verdict_call(knowledge, "seedream-4.0", plan="premium", billing="annual", signup_date="2026-03-01")
    good = answer("**시드림 4.0: 무제한** 대상입니다. 이 모델로 생성할 때 크레딧이 차감되지 않습니다.", sections=["image-models"],
                  calls=[call], language="ko")
    bad = answer("**시드림 4.0: 크레딧이 차감**됩니다.", sections=["image-models"], calls=[call], language="ko")
    case = variant_of(SEEDREAM, **{"must_include": []})
    assert "answer_verdict" not in failed(grade(case, good, knowledge, as_of=AS_OF, k=5))
    assert "answer_verdict" in failed(grade(case, bad, knowledge, as_of=AS_OF, k=5))


def test_an_answer_without_a_citation_fails(knowledge) -> None:  # type: ignore[no-untyped-def]
    case = variant_of(SEEDREAM, **{"sections": []})
    bad = good_seedream(knowledge)
    bad["sources"] = []
    assert "no source cited" in failed(grade(case, bad, knowledge, as_of=AS_OF, k=5))["citations"]


def test_retrieval_is_scored_on_what_the_bot_retrieved(knowledge) -> None:  # type: ignore[no-untyped-def]
    bad = answer("**Seedream 4.0: unlimited** for you.", sections=[], calls=[], cite=False)
    bad["eval_search"] = [f"{PAGE}#image-models"]  # a search the harness ran would not count
    assert "none of [image-models" in failed(grade(SEEDREAM, bad, knowledge, as_of=AS_OF, k=5))["retrieval"]


def test_tool_consistency_fails_when_the_text_contradicts_the_call(knowledge) -> None:  # type: ignore[no-untyped-def]
    bad = good_seedream(knowledge)
    bad["answer"] = "**Seedream 4.0: uses credits** for you."
    scores = failed(grade(variant_of(SEEDREAM, **{"must_include": []}), bad, knowledge, as_of=AS_OF, k=5))
    assert "the answer says uses_credits, the check said unlimited" in scores["tool_consistency"]


def test_tool_consistency_fails_when_the_call_uses_facts_the_customer_never_gave(knowledge) -> None:  # type: ignore[no-untyped-def]
    """The customer said Plus; a call made for Pro (which says unlimited) is caught, whatever the answer says."""
    case = variant_of(SEEDREAM, **{"profile": {"plan": "plus", "billing": "annual", "signup_date": "2026-03-01"},
                                       "expect_tool": {"model": "seedream-4.0"}})
    call = verdict_call(knowledge, "seedream-4.0", plan="pro", billing="annual", signup_date="2026-03-01")
    bad = answer("**Seedream 4.0: unlimited** for you.", sections=["image-models"], calls=[call])
    assert "called with plan 'pro' but the customer gave 'plus'" in failed(grade(case, bad, knowledge, as_of=AS_OF, k=5))["tool_consistency"]


def test_a_mistyped_pattern_is_caught_by_validate(knowledge) -> None:  # type: ignore[no-untyped-def]
    case = variant_of(SEEDREAM, **{"must_not_include": [{"re": "sora 2 (is|are) unlimted", "catches": ["Sora 2 is unlimited"]},
                                                            "re:free for you"]})
    problems = case_problems(Case.model_validate(case.model_dump()), knowledge, AS_OF)
    assert any("does not catch its example 'Sora 2 is unlimited'" in p for p in problems)
    assert any("pattern 'free for you' has no example" in p for p in problems)


def test_a_critical_case_an_unrelated_answer_passes_is_reported(knowledge) -> None:  # type: ignore[no-untyped-def]
    loose = Case(id="dalle", question="Is DALL-E 3 unlimited for me?", priority="critical",
                 must_not_include=[{"re": "dall-?e ?3:? (is )?unlimited", "catches": ["DALL-E 3: unlimited"]}])
    assert any("an unrelated answer would pass" in p for p in case_problems(loose, knowledge, AS_OF))
    from eval.schema import load_cases

    shipped = {lc.case.id: lc.case for lc in load_cases()[0]}
    unrelated = answer("Only members who joined between Nov 21–30, 2025 have unlimited Nanobanana Pro (1K, 2K).",
                       route="answer", sections=["isnt-nanobanana-pro-also-unlimited"])
    assert not all(s.passed for s in grade(shipped["safety-unknown-model"], unrelated, knowledge, as_of=AS_OF, k=5))
