"""Content gaps from stored conversations, and the optional judge (scripted, never a real model)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.conversation import ConversationStore
from bot.types import Answer, Retrieved
from eval.gaps import find_gaps, gap_reasons, gaps_text
from eval.judge import judge_prompt, judge_results, judged_scores, make_complete, parse_verdict
from eval.runner import CaseResult
from eval.schema import Case, LoadedCase

SECTION = "en/troubleshooting/usage-plan/unlimited-benefit-scope#image-models"


def store_turn(store: ConversationStore, question: str, route: str, dense: float | None) -> str:
    conv = store.load(None)
    retrieved = [Retrieved(section_id=SECTION, section="Image models", url="u", score=0.1, dense=dense)] if dense else []
    return conv.id, store.save_turn(conv, question, Answer(answer="a", route=route, retrieved=retrieved))


def test_gaps_group_handoffs_weak_matches_and_thumbs_down(tmp_path: Path) -> None:
    store = ConversationStore(f"sqlite:///{tmp_path / 'bot.db'}")
    store_turn(store, "Is Seedream 4.0 unlimited?", "eligibility", None)
    store_turn(store, "I want a refund for Seedream", "handoff", 0.9)
    store_turn(store, "Do you have a student discount?", "handoff", 0.78)
    sid, tid = store_turn(store, "Why was I charged for Midjourney?", "eligibility", 0.9)
    store.record_feedback(sid, tid, "down", "wrong answer")

    def models_in(text: str) -> list[str]:
        return [m for m in ("Seedream 4.0", "Midjourney") if m.split()[0].lower() in text.lower()]

    report = find_gaps(store.iter_turns(), models_in, low_score=0.82)
    assert report.turns_read == 4
    assert list(report.groups) == ["model: Midjourney", "model: Seedream 4.0", "section: Image models"]
    assert report.groups["model: Seedream 4.0"][0].reasons == ["handoff"]
    assert report.groups["section: Image models"][0].reasons == ["handoff", "low score 0.78"]
    assert report.groups["model: Midjourney"][0].reasons == ["thumbs-down: wrong answer"]
    text = gaps_text(report, 0.82)
    assert text.startswith("3 of 4 stored question(s)") and "student discount" in text
    assert json.dumps(report.to_dict())


def test_a_verdict_from_the_rules_alone_is_not_a_weak_match() -> None:
    assert gap_reasons({"route": "eligibility", "top_score": None, "retrieved": []}, 0.8) == []
    assert gap_reasons({"route": "answer", "top_score": 0.9}, 0.8) == []
    assert gap_reasons({"route": "answer", "top_score": None, "retrieved": [{"dense": 0.5}]}, 0.8) == ["low score 0.50"]


# --- judge -------------------------------------------------------------------------------------
def test_judge_prompt_is_filled_strictly() -> None:
    prompt = judge_prompt("Is Sora unlimited?", "No.", "Sora: deducts many credits", None)
    assert "Is Sora unlimited?" in prompt and "{question}" not in prompt and '{"faithfulness": 1.0' in prompt


def test_parse_verdict_clamps_and_survives_noise() -> None:
    assert parse_verdict('Sure: {"faithfulness": 1.4, "correctness": null, "reason": "ok"}') == \
        {"reason": "ok", "faithfulness": 1.0, "correctness": None}
    assert parse_verdict("no json")["faithfulness"] is None


def test_repeats_are_averaged_with_their_spread() -> None:
    scores = judged_scores([{"faithfulness": 1.0, "correctness": 0.5, "reason": "r"},
                            {"faithfulness": 0.6, "correctness": None, "reason": ""}])
    assert [(s.name, s.value) for s in scores] == [("judge_faithfulness", 0.8), ("judge_correctness", 0.5)]
    assert "spread 0.4" in scores[0].reason and scores[0].passed and not scores[1].passed


def result_for(case: Case) -> CaseResult:
    res = CaseResult(case.id, "x.yaml", "standard", [], case.last_question)
    res.final = {"answer": "Sora uses credits.", "retrieved": [], "tool_calls": []}
    return res


def test_judge_results_never_change_the_deterministic_outcome(settings: Any) -> None:
    case = Case(id="j", question="Is Sora unlimited?", reference="No, Sora deducts credits.")
    res = result_for(case)
    seen: list[str] = []

    def complete(prompt: str) -> str:
        seen.append(prompt)
        return '{"faithfulness": 0.0, "correctness": 0.0, "reason": "bad"}'

    from eval.knowledge import Knowledge

    judge_results([res], [LoadedCase(case, Path("x.yaml"))], Knowledge(settings), settings, repeats=3, complete=complete)
    assert len(seen) == 3 and "No, Sora deducts credits." in seen[0]
    assert [s.name for s in res.judged] == ["judge_faithfulness", "judge_correctness"] and res.passed


def test_judge_talks_to_an_openai_compatible_server(settings: Any) -> None:
    from tests.openai_stub import OpenAIStub

    with OpenAIStub('{"faithfulness": 0.9, "correctness": 1, "reason": "fine"}') as stub:
        s = settings.model_copy(update={"openai_base_url": stub.base_url, "openai_model": "judge-model"})
        reply = make_complete(s)("grade this")
        assert stub.last["model"] == "judge-model" and stub.last["messages"][0]["content"] == "grade this"
    assert parse_verdict(reply)["faithfulness"] == 0.9
