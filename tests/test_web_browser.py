"""The chat page in a real Chromium at desktop and phone sizes, against `python app.py` in a subprocess."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests import browser_helpers
from tests.browser_fixtures import (CONTACT, HOOK_SECRET, SECRET, TIMEOUT, app, browser, hook, open_page,  # noqa: F401
                                    plain_app, shot, site)
from tests.browser_helpers import require_chromium

pytestmark = pytest.mark.browser

SEEDREAM = "Is Seedream 4.0 unlimited for me?"
XSS = '<img src=x onerror=alert(1)> <script>alert(2)</script> hello'
HANGUL = re.compile(r"[\uac00-\ud7a3]")
BOTH = pytest.mark.parametrize("size", ["desktop", "phone"])


def ask_page(pg: Any, text: str) -> Any:
    """Send a message on the chat page; return the locator of the newest bot message once it is final."""
    before = pg.locator("[data-testid=bot]").count()
    box = pg.locator("#message textarea")
    box.fill(text)
    box.press("Enter")
    return wait_answer(pg, before)


def wait_answer(pg: Any, before: int) -> Any:
    """Wait until bot message number `before` is final (no typing indicator, no answer pending); return it."""
    pg.wait_for_function(
        """n => { const bots = document.querySelectorAll('[data-testid=bot]');
                  return bots.length > n && bots[n].innerText.trim().length > 0 && !bots[n].querySelector('.typing')
                         && document.documentElement.dataset.answering !== '1'; }""", arg=before, timeout=TIMEOUT)
    return pg.locator("[data-testid=bot]").nth(before)


def goto(pg: Any, url: str) -> None:
    pg.goto(url)
    pg.locator("#message textarea").wait_for(timeout=TIMEOUT)


def set_profile(pg: Any, plan: str, billing: str = "Not set", signup: str = "") -> None:
    pg.locator("#profile-plan").get_by_label(plan, exact=True).check()
    pg.locator("#profile-billing").get_by_label(billing, exact=True).check()
    pg.locator("#profile-signup textarea, #profile-signup input").first.fill(signup)


def in_view(pg: Any, selector: str) -> bool:
    """Return True when the element is fully inside the viewport without scrolling."""
    box = pg.locator(selector).first.bounding_box()
    size = pg.viewport_size
    return bool(box) and box["y"] >= 0 and box["y"] + box["height"] <= size["height"] and box["x"] + box["width"] <= size["width"]


def stored_turns(app: dict[str, Any]) -> list[dict[str, Any]]:
    from bot.conversation import ConversationStore

    return list(ConversationStore(f"sqlite:///{app['data_dir'] / 'bot.db'}").iter_turns())


def test_missing_chromium_fails_in_ci_and_skips_elsewhere(monkeypatch):
    monkeypatch.setattr(browser_helpers, "CHROMIUM", Path("/nonexistent/chromium"))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="Chromium is missing"):
        require_chromium()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        require_chromium()


# --- answers --------------------------------------------------------------------------------

@BOTH
def test_a_suggestion_sends_and_citations_link_to_their_sources(app, open_page, size):
    pg = open_page(size)
    goto(pg, app["base"] + "/")
    assert in_view(pg, "#message textarea") and in_view(pg, "#suggestions button")
    shot(pg, f"page-empty-{size}")
    pg.locator("#suggestions button", has_text="Why are my credits dropping?").click()
    answer = wait_answer(pg, 0)
    assert pg.locator("[data-testid=user]").first.inner_text() == "Why are my credits dropping?"
    assert "credits" in answer.inner_text() and not HANGUL.search(answer.inner_text())
    assert "[Agent 1.0]" in answer.inner_text()  # the page's "[Agent 1.0(에이전트 1.0)]", in English only
    cite = answer.locator("a.cite").first
    answer.locator("details summary").click()
    sources = answer.locator("details a")
    assert cite.inner_text() == "[1]" and cite.get_attribute("href") == sources.first.get_attribute("href")
    assert sources.first.get_attribute("href").startswith("https://carat.im/docs/")
    assert in_view(pg, "#message textarea")
    shot(pg, f"page-answer-{size}")
    assert SECRET not in pg.content() and HOOK_SECRET not in pg.content()


def test_the_question_shows_at_once_with_a_typing_indicator(app, open_page):
    """Held at the network: the question and the indicator show before the server has even received it."""
    pg = open_page()
    goto(pg, app["base"] + "/")
    held: list[Any] = []
    pg.route("**/gradio_api/queue/join*", lambda route: held.append(route))
    pg.locator("#message textarea").fill(SEEDREAM)
    pg.locator("#message textarea").press("Enter")
    pg.locator("[data-testid=user]").first.wait_for(timeout=TIMEOUT)
    typing = pg.locator("[data-testid=bot] .typing")
    typing.wait_for(timeout=TIMEOUT)
    assert pg.locator("[data-testid=user]").first.inner_text() == SEEDREAM
    assert typing.inner_text() == "Carat support is typing"  # read by screen readers, hidden from sight
    assert pg.locator("#message textarea").input_value() == ""
    shot(pg, "page-typing-desktop")
    for route in held:
        route.continue_()
    pg.unroute("**/gradio_api/queue/join*")  # lets through a request not held yet
    answer = wait_answer(pg, 0)
    assert "Seedream 4.0" in answer.inner_text() and pg.locator(".typing").count() == 0


def test_copy_gives_plain_text_and_messages_are_named_by_their_text(app, open_page):
    pg = open_page(permissions=["clipboard-read", "clipboard-write"])
    goto(pg, app["base"] + "/")
    answer = ask_page(pg, "Why are my credits dropping?")
    label = answer.get_attribute("aria-label")
    assert label.startswith("Carat support: ") and "<" not in label and "chatting with the AI agent" in label
    assert pg.locator("[data-testid=user]").first.get_attribute("aria-label") == "You: Why are my credits dropping?"
    answer.hover()
    pg.get_by_role("button", name="Copy message").last.click()
    copied = pg.evaluate("navigator.clipboard.readText()")
    assert "<" not in copied and "**" not in copied and "chatting with the AI agent" in copied
    assert "\n- Other video models" in copied and "Sources (2):" in copied


def test_the_conversation_survives_a_reload(app, open_page):
    pg = open_page()
    goto(pg, app["base"] + "/")
    ask_page(pg, "I'm on Premium annual since March 2026")
    pg.reload()
    pg.locator("[data-testid=bot]").first.wait_for(timeout=TIMEOUT)
    assert pg.locator("[data-testid=user]").first.inner_text() == "I'm on Premium annual since March 2026"
    # The same conversation goes on: the plan given before the reload is remembered.
    answer = ask_page(pg, "what about Flux2 Pro?")
    assert answer.inner_text().startswith("Flux2 Pro: unlimited")
    shot(pg, "page-after-reload-desktop")
    pg.locator("#new-chat").click()
    pg.wait_for_function("() => !document.querySelector('[data-testid=bot]')", timeout=TIMEOUT)
    pg.wait_for_function("() => !sessionStorage.getItem('carat-support-page:v1')", timeout=TIMEOUT)
    pg.reload()
    pg.locator("#message textarea").wait_for(timeout=TIMEOUT)
    pg.wait_for_timeout(1000)
    assert pg.locator("[data-testid=bot]").count() == 0  # a new conversation forgets the old one


def test_profile_panel_changes_the_verdict_and_links_are_clickable(app, open_page):
    pg = open_page()
    goto(pg, app["base"] + "/")
    set_profile(pg, "Plus")
    assert ask_page(pg, SEEDREAM).inner_text().startswith("Seedream 4.0: uses credits")
    pg.locator("#new-chat").click()
    set_profile(pg, "Premium", "annual", "2026-03-01")
    verdict = ask_page(pg, SEEDREAM)
    assert verdict.inner_text().startswith("Seedream 4.0: unlimited")
    # A bare address in an answer is a link.
    assert verdict.locator("a[href='https://carat.im/en/upgrade']").count() == 1
    # Follow-up suggestions send too.
    pg.locator("#suggestions button", has_text="What is unlimited for me?").click()
    table = wait_answer(pg, 1)
    assert "Unlimited:" in table.inner_text() and "Seedream 4.0" in table.inner_text()
    shot(pg, "page-profile-desktop")


def test_on_a_phone_the_box_stays_in_view_and_the_panel_is_one_tap_from_the_question(app, open_page):
    pg = open_page("phone")
    goto(pg, app["base"] + "/")
    assert in_view(pg, "#message textarea") and in_view(pg, "#send")
    clarify = ask_page(pg, SEEDREAM)
    assert "could you tell me your plan" in clarify.inner_text()
    assert in_view(pg, "#message textarea")
    shot(pg, "page-clarify-phone")
    clarify.locator("a.to-profile").click()
    pg.wait_for_function("() => { const r = document.querySelector('#profile-plan').getBoundingClientRect();"
                         " return r.top >= 0 && r.top < innerHeight - 100; }", timeout=TIMEOUT)
    shot(pg, "page-profile-panel-phone")
    set_profile(pg, "Premium", "annual", "2026-03-01")
    answer = ask_page(pg, SEEDREAM)
    assert answer.inner_text().startswith("Seedream 4.0: unlimited")


def test_bold_text_renders_in_one_font(app, open_page):
    """The weight used for bold text has every glyph the regular weight has, at proportionate widths."""
    pg = open_page()
    goto(pg, app["base"] + "/")
    ask_page(pg, "Why are my credits dropping?")
    result = pg.evaluate("""async () => {
        await document.fonts.ready;
        const out = [];
        const chars = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
        const canvas = document.createElement('canvas').getContext('2d');
        for (const sel of ['#page-title h1', '#chat strong', '#send', '#profile h3']) {
          const node = document.querySelector(sel);
          const style = getComputedStyle(node);
          const family = style.fontFamily.split(',')[0];
          await document.fonts.load(`${style.fontWeight} 40px ${family}`, chars);
          await document.fonts.load(`400 40px ${family}`, chars);
          // A missing glyph falls back to monospace, whose widths are all alike.
          const widths = w => [...chars].map(ch => { canvas.font = `${w} 40px ${family}, monospace`;
                                                     return canvas.measureText(ch).width; });
          out.push({sel, family, weight: style.fontWeight, bold: widths(style.fontWeight), regular: widths(400)});
        }
        return out;
    }""")
    for r in result:
        assert int(r["weight"]) >= 600, r["sel"]
        ratios = [b / n for b, n in zip(r["bold"], r["regular"])]
        assert all(0.97 <= x <= 1.3 for x in ratios), (r["sel"], r["family"], r["weight"], ratios)
        assert len({round(w, 1) for w in r["bold"]}) > 20  # not one fallback width for everything


# --- ratings ---------------------------------------------------------------------------------

def test_a_thumbs_down_asks_why_and_stores_the_reason(app, open_page):
    pg = open_page()
    goto(pg, app["base"] + "/")
    answer = ask_page(pg, "How do I get the free video model in Agent 2.0?")
    answer.hover()
    pg.get_by_role("button", name="Dislike").last.click()
    reason = pg.locator("#feedback-reason textarea")
    reason.wait_for(timeout=TIMEOUT)
    assert in_view(pg, "#feedback-reason textarea")
    shot(pg, "page-thumbs-down-desktop")
    reason.fill("It did not say where the button is")
    pg.locator("#feedback-reason-send").click()
    pg.locator("#feedback-note").wait_for(timeout=TIMEOUT)
    assert not pg.locator("#feedback-reason").is_visible()
    turns = [t for t in stored_turns(app) if t["question"] == "How do I get the free video model in Agent 2.0?"]
    assert turns[-1]["rating"] == "down" and turns[-1]["comment"] == "It did not say where the button is"
    # A second thumbs-down in the conversation: the reason is optional, and a person is offered.
    second = ask_page(pg, "Why are my credits dropping?")
    second.hover()
    pg.get_by_role("button", name="Dislike").last.click()
    pg.locator("#feedback-reason-skip").click()
    pg.locator("#handoff-email input").wait_for(timeout=TIMEOUT)
    assert pg.locator("#feedback-reason").count() == 0
    offer = pg.locator("[data-testid=bot]").last
    assert offer.inner_text().startswith("Sorry these answers didn't help.") and "Talk to a person?" in offer.inner_text()
    shot(pg, "page-thumbs-down-offer-desktop")


# --- a person --------------------------------------------------------------------------------

@BOTH
def test_a_person_with_a_desk_gets_the_conversation_and_the_customer_is_told(app, hook, open_page, size):
    pg = open_page(size)
    goto(pg, app["base"] + "/")
    ask_page(pg, "Why are my credits dropping?")
    asked = ask_page(pg, "I want to talk to a human")
    assert "e-mail address" in asked.inner_text() and "Sent to" not in asked.inner_text()
    pg.locator("#handoff-email input").wait_for(timeout=TIMEOUT)
    assert in_view(pg, "#message textarea")
    shot(pg, f"page-handoff-form-{size}")
    before = len(hook.requests)
    pg.locator("#handoff-email input").fill("jane@example.com")
    pg.locator("#handoff-send").click()
    pg.locator("#handoff-error").wait_for(timeout=TIMEOUT)  # no consent yet: nothing is sent
    assert "consent" in pg.locator("#handoff-error").inner_text() and len(hook.requests) == before
    pg.locator("#handoff-consent input").check()
    pg.locator("#handoff-send").click()
    sent = wait_answer(pg, 2)
    assert "Sent to Carat support" in sent.inner_text() and "jane@example.com" in sent.inner_text()
    body = json.loads(hook.requests[-1].body)
    assert body["email"] == "jane@example.com" and body["ref"] in sent.inner_text()
    assert body["transcript"][0]["question"] == "Why are my credits dropping?"
    assert not pg.locator("#handoff").is_visible()
    shot(pg, f"page-handoff-sent-{size}")


@BOTH
def test_without_a_desk_the_customer_gets_a_linked_contact_path(plain_app, open_page, size):
    pg = open_page(size)
    goto(pg, plain_app + "/")
    answer = ask_page(pg, "I want to talk to a human")
    text = answer.inner_text()
    assert "Sent" not in text and re.search(r"quote reference CS-[A-Z]{6}", text)
    link = answer.locator("a", has_text="carat.im/docs")
    assert link.get_attribute("href") == "https://carat.im/docs"
    assert pg.locator("#handoff").count() == 0
    shot(pg, f"page-handoff-no-desk-{size}")


def test_page_shows_markup_as_text_and_renders_korean(app, open_page):
    pg = open_page()
    goto(pg, app["base"] + "/")
    ask_page(pg, XSS)
    user = pg.locator("[data-testid=user]").last
    assert "<img src=x onerror=alert(1)>" in user.inner_text() and "<script>alert(2)</script>" in user.inner_text()
    assert pg.locator("#chat img[src=x]").count() == 0 and pg.locator("#chat script").count() == 0
    korean = ask_page(pg, "앱에서 에이전트 1.0으로 바꾸는 방법")
    assert "[에이전트 1.0]" in korean.inner_text() and "[Agent" not in korean.inner_text()
    assert korean.locator("[lang=ko]").count() >= 1
    pg.wait_for_timeout(500)
    assert pg.dialogs == []  # type: ignore[attr-defined]
    shot(pg, "page-xss-korean-desktop")
