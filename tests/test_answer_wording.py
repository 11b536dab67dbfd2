"""Answers written for the customer: UI labels in their language only, and nothing said twice, checked over every
template, every passage summary and the answers to every eval question and model, in both languages."""
from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest
import yaml

from bot.answer.compose import passage
from bot.answer.labels import localize_labels
from bot.conversation import ConversationStore
from bot.eligibility import Engine
from bot.retrieval import Hit
from bot.service import SupportBot
from bot.settings import ROOT
from bot.templates import load_templates

HANGUL = re.compile(r"[\uac00-\ud7a3]")
LINK_TARGET = re.compile(r"\]\([^)]*\)|<?https?://\S+|\bcarat\.im/\S*")
SENTENCE = re.compile(r"(?<=[.!?])\s+|(?<=다\.)\s*|\n+")
# Words too common to make a repeat noticeable.
STOP = frozenset("the a an to of and or in on for is are it its you your with be by as at this that from can use uses "
                 "used using when if so".split())


def _stem(word: str) -> str:
    return word[:3] if HANGUL.search(word) else word[:5]


def sentences(text: str) -> list[str]:
    """Return the sentences of markdown text, without markup, citations or link targets."""
    plain = re.sub(r"\*\*|`|\s*\[\d+\]", "", LINK_TARGET.sub("]", text))
    return [s.strip(" -:") for s in SENTENCE.split(plain) if s.strip(" -:")]


def echoes(text: str, names: frozenset[str] = frozenset()) -> set[str]:
    """Return what a text says twice: whole sentences, or two words in a row repeated inside one sentence."""
    found = set()
    said = Counter(s.lower() for s in sentences(text) if len(s.split()) >= 3)
    found |= {f"sentence twice: {s}" for s, n in said.items() if n > 1}
    for s in sentences(text):
        stems = [_stem(w) for w in re.findall(r"[\w']+", s.lower())
                 if w not in STOP and not w.replace(".", "").isdigit() and _stem(w) not in names]
        pairs = Counter(zip(stems, stems[1:]))
        found |= {f"'{a} {b}' twice in: {s}" for (a, b), n in pairs.items() if n > 1 and len(a) > 1 and len(b) > 1}
    return found


@pytest.fixture(scope="module")
def engine() -> Engine:
    from bot.settings import get_settings

    return Engine.from_file(get_settings().rules_file)


@pytest.fixture(scope="module")
def names(engine: Engine) -> frozenset[str]:
    """Stems of model, plan and billing names: a list of plans or a model named twice is not an echo."""
    spec = engine.book.spec
    words: list[str] = []
    for m in spec.models.values():
        words += [m.name, m.ko or "", *m.aliases, m.request_phrase or ""]
        for v in m.variants.values():
            words += [v.name, v.ko or "", *v.aliases]
    for spellings in engine.catalog.plan_spellings().values():
        words += spellings
    words += ["monthly", "annual", "월간", "연간", "members", "회원"]
    return frozenset(_stem(w) for text in words for w in re.findall(r"[\w']+", str(text).lower()))


def all_hits(retriever: Any) -> list[Hit]:
    """Return every chunk of the index as a search hit."""
    return [Hit(r["id"], r["section_id"], r["section"], r["page_title"], r["url"], r["text"], r["kind"], 0.0, 0.0, 0.0,
                r.get("lang") or "en") for r in retriever.load().by_id.values()]


@pytest.fixture(scope="module")
def page_echoes(built: Any, names: frozenset[str]) -> set[str]:
    """Repeats the help-center pages themselves contain (an answer may quote a page as it is)."""
    _, _, retriever = built
    return {e for h in all_hits(retriever) for lang in ("en", "ko") for e in echoes(localize_labels(h.text, lang), names)}


@pytest.fixture(scope="module")
def bot(built: Any, tmp_path_factory: pytest.TempPathFactory, engine: Engine) -> SupportBot:
    settings, _, retriever = built
    folder = tmp_path_factory.mktemp("wording")
    return SupportBot(settings, retriever=retriever, engine=engine,
                      conversations=ConversationStore(f"sqlite:///{folder / 'bot.db'}"))


# --- UI labels -------------------------------------------------------------------------------

def test_two_language_labels_show_the_customers_language_only():
    page = r"Use \[Agent 1.0(에이전트 1.0)]: \[Home(홈)] → Top left \[Menu(메뉴)], or [My Credits(내 크레딧)](https://carat.im/en/subscription)."
    assert localize_labels(page, "en") == "Use [Agent 1.0]: [Home] → Top left [Menu], or [My Credits](https://carat.im/en/subscription)."
    assert localize_labels(page, "ko") == "Use [에이전트 1.0]: [홈] → Top left [메뉴], or [내 크레딧](https://carat.im/en/subscription)."
    assert localize_labels("[Seedream 4.0(2K)] and (에이전트 1.0 vs 2.0)", "en") == "[Seedream 4.0(2K)] and (에이전트 1.0 vs 2.0)"


@pytest.mark.parametrize("question", ["How do I switch to Agent 1.0 in the app?", "Why are my credits dropping?",
                                      "How do I see which benefits are active on my account?"])
def test_english_answers_carry_no_korean(bot, question):
    answer = bot.ask(question)
    assert answer.language == "en" and answer.sources
    assert not HANGUL.search(answer.answer), answer.answer


def test_english_answers_name_buttons_in_english(bot):
    answer = bot.ask("How do I switch to Agent 1.0 in the app?").answer
    assert "[Home] → Top left [Menu]" in answer and "[Agent 1.0]" in answer


def test_korean_answers_name_buttons_in_korean(bot):
    answer = bot.ask("앱에서 에이전트 1.0으로 바꾸는 방법").answer
    assert "[홈]" in answer and "[에이전트 1.0]" in answer and "[Home" not in answer


# --- nothing said twice ----------------------------------------------------------------------

def _leaves(node: Any, prefix: str = "") -> list[str]:
    if isinstance(node, dict):
        return [k for key, value in node.items() for k in _leaves(value, f"{prefix}{key}.")]
    return [prefix.rstrip(".")] if isinstance(node, str) else []


SAMPLES = {"model": "Seedream 4.0", "other": "Nanobanana Pro", "plan": "Max", "billing": "annual", "plans": "Pro",
           "date": "2026-05-22", "expires_on": "2027-03-01", "day": "2026-12-01", "text": "March 40th",
           "today": "2026-11-24", "duration": "1 year", "models": "Seedance 2.0", "needs": "your plan",
           "ref": "CS-ABCDEF", "email": "jane@example.com", "contact": "carat.im/docs", "url": "https://carat.im/docs",
           "verdict": "unlimited", "variants": "1K, 2K", "profile": "Premium, annual", "name": "DALL-E 3"}


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_no_template_says_anything_twice(lang, names):
    tpl = load_templates()[lang]
    for key in _leaves(tpl.data):
        values = {n: SAMPLES.get(n, f"{n}") for n in tpl.names(key)}
        text = tpl.render(key, **values)
        assert not echoes(text), f"{key}: {echoes(text)}"


def test_passage_summaries_add_no_repeats(built, names, page_echoes):
    """A table row made a sentence, an FAQ cut to its answer: the summary repeats nothing its page does not."""
    _, _, retriever = built
    checked = 0
    for lang in ("en", "ko"):
        for hit in all_hits(retriever):
            if hit.kind == "card":
                continue  # a related-article card never leads an answer
            added = echoes(passage(hit, lang), names) - page_echoes
            assert not added, f"{hit.section_id}: {added}"
            checked += 1
    assert checked > 100


def _questions() -> list[list[str]]:
    out = []
    for path in sorted((ROOT / "eval" / "cases").glob("*.yaml")):
        for case in yaml.safe_load(path.read_text(encoding="utf-8")):
            out.append([str(m) for m in case.get("messages") or [case["question"]]])
    return out


def test_answers_say_nothing_twice(bot, engine, names, page_echoes):
    """Every eval question and every model asked about with and without a profile, in English and Korean."""
    conversations = list(_questions())
    for mid, m in engine.book.spec.models.items():
        conversations.append([f"Is {m.name} unlimited for me?", "I'm on Premium annual, joined 2026-03-01"])
        conversations.append([f"{m.ko or m.name} 무제한인가요?", "맥스 연간이고 2026년 6월 1일에 가입했어요"])
    conversations += [["What is unlimited for me? I'm on Plus monthly since 2026-01-10"],
                      ["제 플랜에서 무제한인 모델 알려주세요. 프로 연간, 2025년 12월 1일 가입"]]
    answered = 0
    for turns in conversations:
        session = None
        for text in turns:
            answer = bot.ask(text, session_id=session)
            session = answer.session_id
            added = echoes(answer.answer, names) - page_echoes
            assert not added, f"{text!r}: {added}\n{answer.answer}"
            answered += 1
    assert answered > 150
