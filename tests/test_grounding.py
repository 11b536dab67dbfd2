"""The answer check reads claims, not strings: careless and hostile phrasings are caught, faithful ones pass."""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from bot.answer.grounding import check_answer
from bot.eligibility import Engine

ROOT = Path(__file__).resolve().parent.parent
ENGINE = Engine.from_file(ROOT / "knowledge" / "rules" / "eligibility.yaml")
AS_OF = date(2026, 11, 20)
# This turn's checks: a Pro monthly customer since 2025-10-01 asked about Sora; a Premium annual one since
# 2026-03-01 about Seedream 4.0 and Carat Video.
VERDICTS = [
    ENGINE.evaluate("sora", None, "pro", "monthly", "2025-10-01", as_of=AS_OF),
    ENGINE.evaluate("seedream 4.0", None, "premium", "annual", "2026-03-01", as_of=AS_OF),
    ENGINE.evaluate("carat video", None, "premium", "annual", "2026-03-01", as_of=AS_OF),
]
ROW = "Model: Seedream 4.0\nUnlimited eligibility: Premium / Pro members who joined on or after Feb 25, 2026"
EVIDENCE = "\n".join([ROW, *(json.dumps(v.to_dict()) for v in VERDICTS)])
URLS = {"https://carat.im/en/subscription", "https://carat.im/en/upgrade"}


def problems(text: str, lang: str = "en") -> list[str]:
    return [p.detail for p in check_answer(text, verdicts=VERDICTS, evidence=EVIDENCE, urls=URLS, sections=1,
                                           engine=ENGINE, lang=lang)]


CARELESS = [
    "Sora is included in your plan at no charge.",
    "Sora won't cost you anything.",
    "You can use Sora without spending credits.",
    "Sora costs zero credits.",
    "Sora 2 is a great model. It is unlimited for you.",
    "Both Sora and Kling are unlimited for you.",
    "Sora is free for you.",
    "Sora doesn't deduct credits.",
    "Sora is unlimited on your plan.",
    "Good news: Sora / Sora 2 is unlimited.",
    "Sora generations are free of charge.",
    "Sora is covered by the unlimited benefit.",
    "Sora does not use any credits.",
    "You won't be charged for Sora.",
    "Kling is unlimited for you.",
    "Kling costs nothing.",
    "Midjourney is free.",
    "Seedream 4.0 uses credits for you.",
    "Seedream 4.0 is not unlimited for you.",
    "Seedream 4.0 will deduct credits.",
    "Seedream 4.0 costs 5 credits per image.",
    "Your Carat Video benefit ends on 2027-06-01.",
    "Carat Video is unlimited until Mar 1, 2028.",
    "Each Sora clip costs 150 credits.",
    "Sora costs 2 credits in Agent 2.0.",
    "Nanobanana Pro 4K is unlimited.",
    "Veo 3 is free.",
    "Lip sync is unlimited.",
    "Sora is unlimited for everyone.",
    "Sora 2: unlimited.",
    "**Sora**: free",
    "Sora comes at no extra cost.",
    "There's no charge for Sora.",
    "Sora generations don't cost credits.",
    "Using Sora won't use your credits.",
    "Sora is unlimited for Pro members who joined after Oct 1, 2025.",
    "Sora is unlimited, so go ahead.",
    "Sora is unlimited (no credits needed).",
    "Kling: unlimited for you.",
    "Your plan includes Sora at no cost.",
    "Sora costs you nothing on Pro.",
    "Sora 2 and Kling don't deduct credits.",
    "Seedream 4.0 is paid.",
    "Seedream 4.0 isn't free for you.",
    "You'll be charged credits for Seedream 4.0.",
    "Your Carat Video benefit lasts 2 years.",
    "Carat Video is unlimited for 3 months.",
    "Seedream 4.0 has been unlimited since Jan 1, 2026.",
    "Premium costs $20 a month.",
    "You have 500 credits left.",
    "Sora is a video model. It's unlimited.",
    "Sora is unlimited for Pro members.",
    "Veo and Kling are unlimited for Business members.",
    "Midjourney is included for Premium annual members.",
    "Seedance 2.0 is unlimited in Agent 2.0.",
    "See the details at https://carat.im/en/secret-free-offer",
    "Sora is free, see [3].",
    ("소라 2는 크레딧 없이 사용할 수 있습니다.", "ko"),
    ("소라는 무료입니다.", "ko"),
    ("소라 2는 무제한이에요.", "ko"),
    ("클링은 크레딧이 차감되지 않습니다.", "ko"),
    ("시드림 4.0은 크레딧이 차감됩니다.", "ko"),
    ("소라 2는 크레딧이 들지 않아요.", "ko"),
    ("나노바나나 프로 4K는 무료입니다.", "ko"),
    ("소라 2는 2026년 3월 1일부터 무제한입니다.", "ko"),
    ("미드저니는 무제한입니다.", "ko"),
    # Said by a real small model (eval/real-model.md) and let through before:
    "No, the AI agent does not use conversation credits.",
    "No, Sora is not limited to members. It is a paid service, and members can use it for unlimited.",
]

FAITHFUL = [
    "**Sora / Sora 2: uses credits** for you.",
    "Sora and Sora 2 are advanced models that deduct many credits.",
    "Sora is never unlimited.",
    "Sora is not unlimited for you.",
    "Sora uses credits on your plan.",
    "Seedream 4.0 is unlimited for you.",
    "Seedream 4.0 is unlimited for Premium, Max and Pro members who joined on or after Feb 25, 2026, which includes you.",
    "Generating with Seedream 4.0 uses no credits for you.",
    "Seedream 4.0 doesn't use your credits.",
    "Carat Video (LTX) is unlimited for you until 2027-03-01.",
    "Your Carat Video benefit ends on Mar 1, 2027.",
    "Chatting with the AI agent still uses credits.",
    "Agent 2.0 uses credits for conversation.",
    "If you're low on credits, switch to Agent 1.0.",
    "Sora deducts credits; it is never unlimited.",
    "Sora isn't free.",
    "Sora is not included in the unlimited benefit.",
    "You'll be charged credits for Sora.",
    "Seedream 4.0 costs you nothing.",
    "Seedream 4.0 is included at no charge for you.",
    'To get the unlimited Carat Video, ask for "Use Carat Basic Video (LTX 2.3)".',
    "See the help center section [1] for details.",
    "Seedream 4.0 is free for you.",
    "Sora generations deduct many credits.",
    "Both Sora and Sora 2 use credits.",
    "Seedream 4.0 stays unlimited for you.",
    "Check your benefits on My Credits (https://carat.im/en/subscription).",
    ("시드림 4.0은 무제한입니다.", "ko"),
    ("소라 2는 크레딧이 차감됩니다.", "ko"),
    ("소라 2는 무제한이 아닙니다.", "ko"),
    ("소라는 무제한 대상이 아니어서 항상 크레딧이 차감됩니다.", "ko"),
    ("시드림 4.0으로 생성할 때 크레딧이 차감되지 않습니다.", "ko"),
]


def _case(item: str | tuple[str, str]) -> tuple[str, str]:
    return item if isinstance(item, tuple) else (item, "en")


@pytest.mark.parametrize("item", CARELESS, ids=lambda i: _case(i)[0][:50])
def test_careless_or_hostile_phrasing_is_caught(item: str | tuple[str, str]) -> None:
    text, lang = _case(item)
    assert problems(text, lang), text


@pytest.mark.parametrize("item", FAITHFUL, ids=lambda i: _case(i)[0][:50])
def test_faithful_phrasing_passes(item: str | tuple[str, str]) -> None:
    text, lang = _case(item)
    assert problems(text, lang) == []


def test_the_table_is_big_enough() -> None:
    assert len(CARELESS) >= 60 and len(FAITHFUL) >= 30
    assert sum(isinstance(i, tuple) for i in CARELESS) >= 8 and sum(isinstance(i, tuple) for i in FAITHFUL) >= 4
