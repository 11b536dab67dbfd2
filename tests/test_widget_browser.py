"""The embeddable widget on a customer's site, in a real Chromium at desktop and phone sizes."""
from __future__ import annotations

import json
from typing import Any

import pytest

from tests.browser_fixtures import (HOOK_SECRET, SECRET, TIMEOUT, app, browser, hook, open_page,  # noqa: F401
                                    shot, site)

pytestmark = pytest.mark.browser

SEEDREAM = "Is Seedream 4.0 unlimited for me?"
XSS = '<img src=x onerror=alert(1)> <script>alert(2)</script> hello'
BOTH = pytest.mark.parametrize("size", ["desktop", "phone"])
SHADOW = "document.querySelector('carat-support-widget').shadowRoot"


def widget(pg: Any, selector: str) -> Any:
    """Locate inside the widget's (open) shadow root."""
    return pg.locator(f"carat-support-widget [data-testid={selector}]")


def wait_idle(pg: Any, count: int) -> Any:
    """Wait until the widget shows `count` bot messages and none is still streaming; return the last."""
    pg.wait_for_function(f"n => {SHADOW}.querySelectorAll('[data-testid=msg-bot]').length >= n"
                         f" && !{SHADOW}.querySelector('[aria-busy=true]')", arg=count, timeout=TIMEOUT)
    return widget(pg, "msg-bot").nth(count - 1)


def ask_widget(pg: Any, text: str) -> Any:
    before = widget(pg, "msg-bot").count()
    with pg.expect_response(lambda r: r.url.endswith("/api/chat/stream")):
        widget(pg, "input").fill(text)
        widget(pg, "input").press("Enter")
    return wait_idle(pg, before + 1)


def icon_shown(pg: Any) -> str:
    """Return which icon the launcher shows: 'chat' or 'close'."""
    return pg.evaluate(f"""() => {{ const svgs = {SHADOW}.querySelectorAll('.launcher svg');
        return getComputedStyle(svgs[0]).display !== 'none' ? 'chat' : 'close'; }}""")


@BOTH
def test_widget_streams_an_answer_with_linked_citations_on_another_site(app, open_page, size):
    pg = open_page(size)
    pg.goto(app["site"] + "/host.html")
    launcher = widget(pg, "launcher")
    assert launcher.get_attribute("aria-label") == "Open support chat" and icon_shown(pg) == "chat"
    shot(pg, f"widget-closed-{size}")
    launcher.click()
    assert widget(pg, "panel").is_visible() and launcher.get_attribute("aria-expanded") == "true"
    answer = ask_widget(pg, SEEDREAM)
    # The signed profile (Premium annual, joined 2026-03-01) reached the bot.
    assert answer.inner_text().startswith("Seedream 4.0: unlimited")
    sources = answer.locator("[data-testid=sources]")
    sources.locator("summary").click()
    assert sources.locator("a").first.get_attribute("href").startswith("https://carat.im/docs/")
    assert answer.locator("a[href='https://carat.im/en/upgrade']").count() == 1  # a bare address is a link
    docs = ask_widget(pg, "Why are my credits dropping?")
    first = docs.locator("[data-testid=sources] a").first.get_attribute("href")
    assert docs.locator("a.cite").first.inner_text() == "[1]" and docs.locator("a.cite").first.get_attribute("href") == first
    assert "[Agent 1.0]" in docs.inner_text() and "에이전트" not in docs.inner_text()
    assert pg.locator("carat-support-widget h2").inner_text() == "Carat help"
    shot(pg, f"widget-answer-{size}")
    # The conversation survives a reload of the tab.
    pg.reload()
    assert widget(pg, "panel").is_visible()
    assert widget(pg, "msg-bot").first.inner_text().startswith("Seedream 4.0: unlimited")
    assert SECRET not in pg.content() and HOOK_SECRET not in pg.content()


def test_the_launcher_becomes_a_close_button_and_suggestions_send(app, open_page):
    pg = open_page()
    pg.goto(app["site"] + "/plain.html")
    widget(pg, "launcher").click()
    assert icon_shown(pg) == "close" and widget(pg, "launcher").get_attribute("aria-label") == "Close chat"
    suggestions = widget(pg, "suggestions").locator("button")
    assert suggestions.count() == 3 and suggestions.first.inner_text() == SEEDREAM
    shot(pg, "widget-suggestions-desktop")
    suggestions.nth(1).click()
    answer = wait_idle(pg, 1)
    assert widget(pg, "msg-user").first.inner_text() == "Why are my credits dropping?"
    assert "credits" in answer.inner_text() and widget(pg, "suggestions").count() == 0
    widget(pg, "launcher").click()
    assert not widget(pg, "panel").is_visible() and icon_shown(pg) == "chat"


def test_korean_widget_suggests_korean_questions(app, open_page):
    pg = open_page()
    pg.goto(app["site"] + "/ko.html")
    widget(pg, "launcher").click()
    assert widget(pg, "suggestions").locator("button").first.inner_text() == "시드림 4.0 무제한인가요?"


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_widget_follows_the_visitors_colour_scheme(app, open_page, scheme):
    pg = open_page("phone" if scheme == "dark" else "desktop", color_scheme=scheme)
    pg.goto(app["site"] + "/plain.html")
    widget(pg, "launcher").click()
    ask_widget(pg, "Why are my credits dropping?")
    background = pg.evaluate(f"getComputedStyle({SHADOW}.querySelector('.panel')).backgroundColor")
    channels = [int(x) for x in background[background.index("(") + 1:background.index(")")].split(",")[:3]]
    assert (sum(channels) / 3 < 60) if scheme == "dark" else (sum(channels) / 3 > 240), background
    shot(pg, f"widget-{scheme}-{'phone' if scheme == 'dark' else 'desktop'}")


def test_an_answer_that_arrives_while_closed_shows_an_unread_badge(app, open_page):
    pg = open_page()
    pg.goto(app["site"] + "/plain.html")
    widget(pg, "launcher").click()
    held: list[Any] = []
    pg.route("**/api/chat/stream", lambda route: held.append(route))
    widget(pg, "input").fill("Why are my credits dropping?")
    widget(pg, "input").press("Enter")
    pg.locator("carat-support-widget .typing").wait_for(timeout=TIMEOUT)
    widget(pg, "launcher").click()  # closed before the answer comes
    assert not widget(pg, "badge").is_visible()
    for route in held:
        route.continue_()
    pg.unroute("**/api/chat/stream")
    wait_idle(pg, 1)
    badge = widget(pg, "badge")
    assert badge.is_visible() and badge.inner_text() == "1"
    assert widget(pg, "launcher").get_attribute("aria-label") == "Open support chat (1 new message(s))"
    shot(pg, "widget-unread-desktop")
    widget(pg, "launcher").click()
    assert not badge.is_visible() and widget(pg, "launcher").get_attribute("aria-label") == "Close chat"


def test_copy_gives_the_answer_as_plain_text(app, open_page):
    pg = open_page(permissions=["clipboard-read", "clipboard-write"])
    pg.goto(app["site"] + "/plain.html")
    widget(pg, "launcher").click()
    answer = ask_widget(pg, "Why are my credits dropping?")
    answer.locator("[data-testid=copy]").click()
    pg.wait_for_function(f"() => {SHADOW}.querySelector('[data-testid=copy]').getAttribute('aria-label') === 'Copied'",
                         timeout=TIMEOUT)
    copied = pg.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("What still deducts credits is chatting") and "**" not in copied
    assert "Sources" not in copied and "Helpful" not in copied


@BOTH
def test_a_person_from_the_widget_with_consent(app, hook, open_page, size):
    pg = open_page(size)
    pg.goto(app["site"] + "/plain.html")
    widget(pg, "launcher").click()
    asked = ask_widget(pg, "I want to talk to a human")
    form = asked.locator("[data-testid=handoff]")
    assert form.is_visible() and "e-mail address" in asked.inner_text()
    before = len(hook.requests)
    form.locator("[data-testid=handoff-email]").fill("sam@example.com")
    form.locator("[data-testid=handoff-send]").click()  # consent not ticked: the browser keeps the form
    assert len(hook.requests) == before
    form.locator("[data-testid=handoff-consent]").check()
    shot(pg, f"widget-handoff-form-{size}")
    form.locator("[data-testid=handoff-send]").click()
    sent = wait_idle(pg, 2)
    sent.wait_for(timeout=TIMEOUT)
    pg.wait_for_function(f"() => {SHADOW}.querySelectorAll('[data-testid=msg-bot]').length === 2", timeout=TIMEOUT)
    assert "Sent to Carat support" in sent.inner_text() and "sam@example.com" in sent.inner_text()
    body = json.loads(hook.requests[-1].body)
    assert body["email"] == "sam@example.com" and body["ref"] in sent.inner_text()
    assert widget(pg, "handoff").count() == 0
    shot(pg, f"widget-handoff-sent-{size}")


def test_widget_ignores_a_forged_profile(app, open_page):
    pg = open_page()
    pg.goto(app["site"] + "/forged.html")
    widget(pg, "launcher").click()
    answer = ask_widget(pg, SEEDREAM)
    assert "could you tell me your plan" in answer.inner_text()


def test_widget_is_keyboard_accessible_and_fits_a_phone(app, open_page):
    pg = open_page("phone")
    pg.goto(app["site"] + "/host.html")
    widget(pg, "launcher").focus()
    pg.keyboard.press("Enter")
    panel = widget(pg, "panel")
    assert panel.is_visible()
    box = panel.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["y"] + box["height"] <= 844
    assert pg.evaluate(f"{SHADOW}.activeElement.tagName") == "TEXTAREA"
    for _ in range(8):  # focus stays inside the open panel
        pg.keyboard.press("Tab")
        assert pg.evaluate("document.activeElement.tagName") == "CARAT-SUPPORT-WIDGET"
    shot(pg, "widget-open-phone")
    pg.keyboard.press("Escape")
    assert not panel.is_visible()
    assert pg.evaluate(f"{SHADOW}.activeElement.dataset.testid") == "launcher"


def test_on_a_site_that_is_not_allowed_visitors_see_nothing_and_the_owner_is_told(app, open_page):
    pg = open_page()
    pg.goto(app["other_site"] + "/host.html")  # localhost:PORT is not on the allow-list
    pg.wait_for_function("() => window.CaratSupport !== undefined", timeout=TIMEOUT)
    assert pg.locator("carat-support-widget").count() == 0
    errors = [text for kind, text in pg.console if kind == "error"]  # type: ignore[attr-defined]
    assert any(app["other_site"] in e and "ALLOWED_ORIGINS" in e for e in errors), errors
    pg.evaluate("window.CaratSupport.open()")  # the site's own calls do nothing, and break nothing
    shot(pg, "widget-disallowed-desktop")


def test_widget_shows_markup_as_text_and_speaks_korean(app, open_page):
    pg = open_page()
    pg.goto(app["site"] + "/ko.html")
    widget(pg, "launcher").click()
    assert widget(pg, "launcher").get_attribute("aria-label") == "채팅 닫기"
    ask_widget(pg, XSS)
    assert widget(pg, "msg-user").last.inner_text() == XSS
    assert pg.evaluate(f"{SHADOW}.querySelectorAll('img, script').length") == 0
    answer = ask_widget(pg, "크레딧이 왜 계속 줄어드나요?")
    assert answer.get_attribute("lang") == "ko" and "크레딧" in answer.inner_text()
    pg.wait_for_timeout(500)
    assert pg.dialogs == []  # type: ignore[attr-defined]
    shot(pg, "widget-xss-korean-desktop")
