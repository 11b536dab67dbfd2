"""Optional LLM-judged scores (faithfulness, correctness against a reference), repeated; never gating alone."""
from __future__ import annotations

import json
import re
import statistics
from collections.abc import Callable
from typing import Any

from bot.settings import Settings
from eval.grading import tool_sections
from eval.knowledge import Knowledge
from eval.runner import CaseResult
from eval.schema import LoadedCase
from eval.scorers import Score

PROMPT = "judge.md"
PASS_AT = 0.7  # shown as pass/fail in reports; judged scores never decide a case or the gate
Complete = Callable[[str], str]
JSON_OBJECT = re.compile(r"\{.*\}", re.S)


def judge_prompt(question: str, answer: str, context: str, reference: str | None) -> str:
    """Return prompts/judge.md filled in; a missing value is an error."""
    from bot.templates import load_prompt

    return load_prompt(PROMPT, question=question, answer=answer, context=context or "(nothing)", reference=reference or "")


def parse_verdict(text: str) -> dict[str, Any]:
    """Return the judge's JSON reply, with scores clamped to 0..1 (None when absent or unparsable)."""
    match = JSON_OBJECT.search(text or "")
    try:
        data = json.loads(match.group(0)) if match else {}
    except json.JSONDecodeError:
        data = {}
    out: dict[str, Any] = {"reason": str(data.get("reason", "")) if data else f"unparsable reply: {text[:120]!r}"}
    for key in ("faithfulness", "correctness"):
        value = data.get(key)
        out[key] = min(1.0, max(0.0, float(value))) if isinstance(value, (int, float)) else None
    return out


def judged_scores(replies: list[dict[str, Any]]) -> list[Score]:
    """Return one score per judged quality: the mean over repeats, with the spread in the reason."""
    scores = []
    for key in ("faithfulness", "correctness"):
        values = [r[key] for r in replies if r.get(key) is not None]
        if not values:
            continue
        mean = round(statistics.fmean(values), 3)
        spread = round(max(values) - min(values), 3)
        why = next((r["reason"] for r in replies if r.get("reason")), "")
        scores.append(Score(f"judge_{key}", mean >= PASS_AT, mean,
                            f"mean of {len(values)} run(s), spread {spread}: {why}"))
    return scores


def make_complete(settings: Settings, model: str | None = None) -> Complete:
    """Return a function sending one prompt to the configured OpenAI-compatible model."""
    from openai import OpenAI

    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "not-needed"
    client = OpenAI(api_key=key, base_url=settings.openai_base_url, timeout=settings.llm_timeout,
                    max_retries=settings.llm_retries)

    def complete(prompt: str) -> str:
        reply = client.chat.completions.create(model=model or settings.openai_model, temperature=0,
                                               messages=[{"role": "user", "content": prompt}])
        return reply.choices[0].message.content or ""

    return complete


def context_for(result: CaseResult, knowledge: Knowledge) -> str:
    """Return the help-center text and tool results the answer was given."""
    final = result.final
    sections = [str(r.get("section_id")) for r in final.get("retrieved") or []]
    sections += tool_sections(final.get("tool_calls") or [], knowledge)
    texts = [knowledge.texts.get(s, "") for s in dict.fromkeys(sections)]
    calls = [json.dumps(t.get("result"), ensure_ascii=False) for t in final.get("tool_calls") or []]
    return "\n\n".join(t for t in texts + calls if t)


def judge_results(results: list[CaseResult], cases: list[LoadedCase], knowledge: Knowledge, settings: Settings,
                  *, repeats: int, complete: Complete | None = None) -> None:
    """Add judged scores to every answered case, asking the judge `repeats` times each."""
    complete = complete or make_complete(settings)
    by_id = {lc.case.id: lc.case for lc in cases}
    for result in results:
        if result.error or not result.final:
            continue
        case = by_id[result.id]
        prompt = judge_prompt(case.last_question, str(result.final.get("answer", "")), context_for(result, knowledge),
                              case.reference)
        replies = []
        for _ in range(repeats):
            try:
                replies.append(parse_verdict(complete(prompt)))
            except Exception as err:  # a judge outage leaves the deterministic scores standing
                replies.append({"reason": f"judge error: {err}", "faithfulness": None, "correctness": None})
        result.judged = judged_scores(replies)
