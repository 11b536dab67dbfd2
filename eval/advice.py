"""What a docs writer should do about a failed check: fix the page, the rules, the case, or tell engineering."""
from __future__ import annotations

import difflib
import re
from typing import Any

# Each failed check, in the words of the person who has to act on it.
NEXT_STEP = {
    "route": "The bot answered in a different way than the case expects (from the help center, with a verdict, asking, "
             "handing off). If the page now answers this question, update the case's route; otherwise tell engineering.",
    "retrieval": "Search did not find the section that answers this. Use the customer's words in that section's heading "
                 "or text (or add them to knowledge/glossary.yaml), or fix the case's sections if the answer moved.",
    "evidence": "The section no longer contains the wording the case quotes. If you changed the page on purpose, update "
                "the case's evidence; if not, the page lost a fact: fix the page.",
    "tool_call": "The eligibility check gave another verdict than the case expects. Run `python -m bot check-rules`: if "
                 "the page and the rules agree, the case is out of date (update expect_tool); otherwise fix the page or the rules.",
    "answer_verdict": "The answer tells the customer something other than the case expects about the model. If the rules "
                      "changed, update the case; if not, the bot states a wrong verdict: tell engineering.",
    "tool_consistency": "The answer does not match the eligibility check it made (or the check used facts the customer "
                        "never gave). This is a bot problem: tell engineering.",
    "required_facts": "The answer lacks a fact the case requires. If the page still states it, the bot is wrong (tell "
                      "engineering); if you reworded the page, update the case's must_include.",
    "forbidden_claims": "The answer says something the case forbids. This is a bot problem: tell engineering.",
    "citations": "The answer cites nothing, or a section it did not use. This is a bot problem: tell engineering.",
    "no_invented_numbers": "The answer states a date, number or link that is on no page the bot read and in no rule. "
                           "If the page should state it, add it to the page; otherwise the bot invented it: tell engineering.",
    "language": "The answer is not in the customer's language. If the page has no twin in that language, add one "
                "(knowledge/help-center/<lang>/...); otherwise tell engineering.",
    "error": "The bot crashed on this question: tell engineering.",
}


def next_step(check: str) -> str:
    """Return what to do about one failed check."""
    return NEXT_STEP.get(check, "Read the reason; fix the page, the rules or the case, whichever is wrong.")


def word_diff(before: str, after: str) -> list[tuple[str, str]]:
    """Return the change from before to after as (op, text) runs: ' ' same, '-' removed, '+' added."""
    a, b = re.findall(r"\S+|\s+", before or ""), re.findall(r"\S+|\s+", after or "")
    out: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append((" ", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append(("-", "".join(a[i1:i2])))
        if j2 > j1:
            out.append(("+", "".join(b[j1:j2])))
    return out


def group_of(case: dict[str, Any], sections: dict[str, str]) -> str:
    """Return the page section a case is about, for grouping the report (its first expected section)."""
    for sid in case.get("expected_sections") or []:
        if sid in sections:
            page = sid.split("#", 1)[0].rsplit("/", 1)[-1]
            return f"{sections[sid]} ({page})"
    calls = (case.get("final") or {}).get("tool_calls") or []
    for call in calls:
        src = (call.get("result") or {}).get("source") or {}
        if src.get("section"):
            return f"{src['section']} (rules)"
    return "Other questions"
