"""Facts as customers give them: corrections, partial and ambiguous dates, holidays, follow-ups, and honest gaps."""
from __future__ import annotations

import pytest

from bot.service import make_bot
from bot.types import Answer


@pytest.fixture(scope="module")
def bot(built, tmp_path_factory):  # type: ignore[no-untyped-def]
    from datetime import date

    settings, _, _ = built
    db = tmp_path_factory.mktemp("facts") / "bot.db"
    return make_bot(settings.model_copy(update={"database_url": f"sqlite:///{db}"}), today=lambda: date(2026, 11, 24))


def talk(bot, *messages: str) -> Answer:  # type: ignore[no-untyped-def]
    session = None
    answer = None
    for m in messages:
        answer = bot.ask(m, session_id=session)
        session = answer.session_id
    assert answer is not None
    return answer


def verdict(answer: Answer, model: str) -> dict:  # type: ignore[type-arg]
    calls = [t for t in answer.tool_calls if t.args.get("model") == model]
    assert calls, answer.answer
    return calls[0].result | {"args": calls[0].args}


def test_a_correction_overrides_the_earlier_fact(bot) -> None:
    a = talk(bot, "I'm on Premium annual, joined 2026-03-05. Is ChatGPT Image 2.0 Medium unlimited?",
             "actually it's monthly billing, not annual")
    v = verdict(a, "chatgpt-image-2.0")
    assert v["args"]["billing"] == "monthly" and v["verdict"] == "uses_credits"


def test_until_when_after_a_verdict_gives_the_end_date(bot) -> None:
    a = talk(bot, "I'm on Premium annual since 2026-03-01. Is Carat Video unlimited?", "until when?")
    assert a.route == "eligibility" and "2027-03-01" in a.answer


def test_a_month_then_a_day_combine(bot) -> None:
    first = talk(bot, "I'm on Plus monthly, joined sometime in December 2025. Is Z Image unlimited?")
    assert first.route == "clarify"  # Dec 1-16 and Dec 17-31 differ
    a = talk(bot, "I'm on Plus monthly, joined sometime in December 2025. Is Z Image unlimited?", "it was the 20th")
    v = verdict(a, "z-image")
    assert v["args"]["signup_date"] == "2025-12-20" and v["verdict"] == "unlimited"


def test_a_month_written_as_yyyy_mm_keeps_its_month(bot) -> None:
    a = talk(bot, "I'm on Pro monthly since 2025-06. Is Nanobanana unlimited?")
    assert verdict(a, "nanobanana")["args"]["signup_date"] == "2025-06-01" and a.route == "eligibility"


def test_a_holiday_is_a_date(bot) -> None:
    a = talk(bot, "I joined on Black Friday 2025 on Plus monthly. Is Nanobanana Pro 1K unlimited?")
    v = verdict(a, "nanobanana-pro")
    assert v["args"]["signup_date"] == "2025-11-28" and v["verdict"] == "unlimited"


def test_an_ambiguous_date_is_asked_about_when_the_verdict_depends_on_it(bot) -> None:
    a = talk(bot, "Premium annual, signed up 01/03/2026. Is Seedream 4.0 unlimited?")
    assert a.route == "clarify" and "2026-01-03" in a.answer and "2026-03-01" in a.answer
    b = talk(bot, "Premium annual, signed up 01/03/2026. Is Seedream 4.0 unlimited?", "2026-03-01")
    assert verdict(b, "seedream-4.0")["verdict"] == "unlimited"
    same = talk(bot, "Premium annual, signed up 01/03/2026. Is Sora unlimited?")
    assert same.route == "eligibility"  # both readings give the same answer: no question


@pytest.mark.parametrize("message", ["I'm on Plus monthly since Jan 2026. list what's free on my plan",
                                     "Premium annual since 2026-03-01. Give me the full list of what's unlimited on my account"])
def test_profile_wide_questions_in_any_phrasing(bot, message: str) -> None:
    a = talk(bot, message)
    assert any(t.name == "eligibility_profile" for t in a.tool_calls), a.answer


def test_korean_product_names(bot) -> None:
    a = talk(bot, "챗GPT 이미지 2.0 미디엄 무제한인가요? 프리미엄 연간이에요")
    v = verdict(a, "chatgpt-image-2.0")
    assert v["args"]["variant"] == "medium" and a.language == "ko"


def test_a_future_day_asked_about_gets_the_verdict_for_that_day(bot) -> None:
    a = talk(bot, "I'm on Premium annual since 2026-03-01. Will Carat Video still be unlimited in March 2027?")
    v = verdict(a, "carat-video")
    assert v["verdict"] == "uses_credits" and "2027-03-01" in a.answer


@pytest.mark.parametrize("message", ["how many credits does one Carat Video cost", "do free users get daily credits",
                                     "is there a daily cap", "how do I add sound effects",
                                     "what's the max length of a carat video clip"])
def test_what_the_help_center_does_not_say_is_said_honestly(bot, message: str) -> None:
    a = talk(bot, message)
    assert a.route == "handoff" and not a.sources and not a.tool_calls, a.answer
    assert "help center" in a.answer


def test_off_topic_requests_never_get_a_verdict(bot) -> None:
    a = talk(bot, "write me a python function to sort a list")
    assert a.route == "refuse" and not a.tool_calls


def test_max_as_a_length_is_not_the_max_plan(bot) -> None:
    a = talk(bot, "what's the max length of a carat video clip")
    assert all(t.args.get("plan") != "max" for t in a.tool_calls)


@pytest.mark.parametrize(("question", "needle"), [
    ("how do I get the free video model in Agent 2.0?", "Use Carat Basic Video (LTX 2.3)"),
    ("where do I see which models would be unlimited before paying", "upgrade page"),
    ("대화 크레딧을 가장 적게 쓰는 모델은 뭐예요?", "Carat 1.0 Lite"),
])
def test_the_passage_that_answers_leads(bot, question: str, needle: str) -> None:
    a = talk(bot, question)
    assert needle in a.answer.split("\n\n")[0], a.answer


def test_boilerplate_notes_once_per_conversation(bot) -> None:
    first = talk(bot, "I'm on Premium annual since 2026-03-01. Is Seedream 4.0 unlimited?")
    assert "subject to change" in first.answer
    second = talk(bot, "I'm on Premium annual since 2026-03-01. Is Seedream 4.0 unlimited?", "and Flux2 Pro?")
    assert "subject to change" not in second.answer and "unlimited" in second.answer


def test_an_unknown_product_is_named_and_not_judged(bot) -> None:
    a = talk(bot, "Is DALL-E 3 unlimited for me?")
    assert "DALL-E 3" in a.answer and not a.tool_calls and a.route == "handoff"


@pytest.mark.parametrize(("message", "start", "end"), [
    ("I signed up last week on Premium yearly. Is Seedream 4.0 unlimited?", "2026-11-16", "2026-11-22"),
    ("Premium annual, I joined this week. Is Seedream 4.0 unlimited?", "2026-11-23", "2026-11-24"),
    ("지난주에 프리미엄 연간으로 가입했는데 시드림 4.0 무제한인가요?", "2026-11-16", "2026-11-22"),
    ("어제 프리미엄 연간 구독했어요. 시드림 4.0 무제한이에요?", "2026-11-23", "2026-11-23"),
])
def test_a_relative_signup_day_or_week_is_a_date(bot, message: str, start: str, end: str) -> None:
    """Today is Tuesday 2026-11-24: last week is Nov 16-22; any day of it gives Seedream 4.0 the same verdict."""
    import re
    from datetime import date

    from bot.answer.facts import extract_facts

    lang = "ko" if re.search("[가-힣]", message) else "en"
    facts = extract_facts(message, bot.engine, date(2026, 11, 24), bot.offline.cues[lang])
    assert facts.signup and (facts.signup.start.isoformat(), facts.signup.end.isoformat()) == (start, end)
    a = talk(bot, message)
    assert a.route == "eligibility" and verdict(a, "seedream-4.0")["verdict"] == "unlimited", a.answer


def test_last_week_said_of_something_else_is_not_a_signup_date(bot) -> None:
    from datetime import date

    from bot.answer.facts import extract_facts

    assert extract_facts("Last week my credits dropped a lot", bot.engine, date(2026, 11, 24), bot.offline.cues["en"]).signup is None


def test_the_profile_table_names_a_signup_week_as_the_customer_gave_it(bot) -> None:
    a = talk(bot, "I signed up last week on Premium yearly, what do I get unlimited?")
    assert a.route == "eligibility" and "2026-11-16 – 2026-11-22" in a.answer, a.answer


@pytest.mark.parametrize("messages", [("I'm Pro.", "what about Kling 2.5?"), ("Is Kling 2.5 unlimited?",)])
def test_a_version_the_help_center_does_not_name_is_named_not_refused_or_judged(bot, messages) -> None:
    a = talk(bot, *messages)
    assert a.route == "handoff" and "Kling 2.5" in a.answer and not a.tool_calls, a.answer


@pytest.mark.parametrize("message", ["Where can I see the list of unlimited models?", "무제한 모델 목록은 어디서 보나요?"])
def test_where_to_see_the_list_is_not_a_request_for_my_table(bot, message: str) -> None:
    a = talk(bot, message)
    assert a.route == "answer" and a.sources, a.answer


def test_how_to_use_a_named_model_is_answered_from_the_page_without_asking_for_facts(bot) -> None:
    a = talk(bot, "how do I use carat video in agent 2?")
    assert a.route == "answer" and "Use Carat Basic Video (LTX 2.3)" in a.answer, a.answer
    assert not a.answer.startswith("See ["), a.answer  # a pointer to another page never leads
    b = talk(bot, "How do I get Seedream 4.0 unlimited?")  # whether it is unlimited: that needs the facts
    assert b.route == "clarify"


@pytest.mark.parametrize("message", ["What's the difference between Agent 1.0 and Agent 2.0?", "에이전트 1.0이랑 2.0 차이가 뭐예요?"])
def test_a_difference_is_answered_by_the_comparison(bot, message: str) -> None:
    a = talk(bot, message)
    assert a.route == "answer" and "1.0" in a.answer and "2.0" in a.answer, a.answer


def test_a_korean_day_alone_completes_a_month_given_earlier(bot) -> None:
    a = talk(bot, "프로 월간, 2025년 12월 가입. 지 이미지 무제한?", "20일이요")
    v = verdict(a, "z-image")
    assert v["args"]["signup_date"] == "2025-12-20" and v["verdict"] == "unlimited", a.answer


@pytest.mark.parametrize("message", ["What is Carat Video?", "캐럿 비디오가 뭐예요?"])
def test_what_a_model_is_is_answered_from_the_page(bot, message: str) -> None:
    a = talk(bot, message)
    assert a.route == "answer" and a.sources and not a.tool_calls, a.answer


def test_the_service_s_own_name_is_not_an_unknown_product(bot) -> None:
    a = talk(bot, "Do I get free credits for inviting my friends to Carat?")
    assert "doesn't name" not in a.answer and not a.tool_calls, a.answer


def test_not_covered_mentions_my_credits_only_for_a_question_about_benefits_or_credits(bot) -> None:
    lora = talk(bot, "Can I upload and use my own LoRA model?")
    assert lora.route == "handoff" and not lora.sources and "My Credits" not in lora.answer, lora.answer
    daily = talk(bot, "do free users get daily credits")
    assert daily.route == "handoff" and "My Credits" in daily.answer, daily.answer


def test_another_person_in_a_korean_question_is_not_a_request_for_a_person(bot) -> None:
    a = talk(bot, "무제한 혜택을 다른 사람으로 바꾸려면 어떻게 하나요?")
    assert not (a.handoff and a.handoff.reason == "human"), a.answer
    b = talk(bot, "상담원 연결해 주세요")
    assert b.route == "handoff"


def test_a_passage_that_opens_with_yes_or_no_keeps_it_first() -> None:
    from bot.answer.render import lead_sentence

    text = "No. Exports of free-plan videos are limited to 720p. Upgrade to keep 1080p downloads."
    assert lead_sentence(text, ["upgrade", "1080p", "downloads"]) == text
    steps = "**Open the gallery**\n\nGo to Gallery.\n\n**Download**\n\nClick Download to save the MP4 download."
    assert lead_sentence(steps, ["download", "mp4"]) == steps  # steps under bold titles keep their order
    prose = "Agent 2.0 uses Seedance 2.0. Chatting with the agent deducts credits."
    assert lead_sentence(prose, ["chatting", "credits"]).startswith("Chatting")



def test_pronouns_carry_no_topic() -> None:
    """"our" and "we" are on no page: as a question's rarest word they would keep every passage from answering."""
    from bot.answer.policy import key_terms

    assert key_terms("If I remove a seat from our team, do I get money back?", "en") == ["remove", "seat", "team", "money", "back"]
