"""The chat page and the embeddable widget in a real Chromium, against `python app.py` in a subprocess."""
from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import browser_helpers
from tests.browser_helpers import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, require_chromium, serve_app, serve_folder
from bot.widget import sign_profile

pytestmark = pytest.mark.browser

SECRET = "whsec-browser-DO-NOT-LEAK-77aa"
SEEDREAM = "Is Seedream 4.0 unlimited for me?"
XSS = '<img src=x onerror=alert(1)> <script>alert(2)</script> hello'
PREMIUM = {"plan": "Premium", "billing": "annual", "signup_date": "2026-03-01"}
TIMEOUT = 20_000


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int]]:
    """A customer's site on its own port (its pages are written once the app's address is known)."""
    folder = tmp_path_factory.mktemp("site")
    with serve_folder(folder) as port:
        yield folder, port


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, site: tuple[Path, int]) -> Iterator[dict[str, Any]]:
    """The app on a free port, allowing the site's 127.0.0.1 origin only, with a widget secret."""
    require_chromium()
    data_dir = tmp_path_factory.mktemp("web-var")
    folder, port = site
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    env = {"ALLOWED_ORIGINS": f"http://127.0.0.1:{port}", "WIDGET_SECRET": SECRET,
           "RATE_LIMIT_IP": "1000", "RATE_LIMIT_SESSION": "1000"}
    with serve_app(data_dir, env, log_path=ARTIFACTS / "app-browser.log") as base:
        sig = sign_profile(SECRET, PREMIUM)
        write_host_page(folder / "host.html", base, f'data-plan="Premium" data-billing="annual" '
                        f'data-signup-date="2026-03-01" data-profile-sig="{sig}"')
        write_host_page(folder / "forged.html", base, 'data-plan="Premium" data-billing="annual" '
                        'data-signup-date="2026-03-01" data-profile-sig="0000"')
        write_host_page(folder / "ko.html", base, 'data-lang="ko"')
        yield {"base": base, "data_dir": data_dir, "site": f"http://127.0.0.1:{port}",
               "other_site": f"http://localhost:{port}"}


def write_host_page(path: Path, base: str, extra: str) -> None:
    """Write a customer page that embeds the widget with one script tag."""
    path.write_text(f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Shop</title>
<style>body {{ font: 30px/2 serif; color: red; }} div, button {{ background: yellow !important; }}</style></head>
<body><h1>A customer's shop</h1><p>Page text.</p>
<script src="{html.escape(base)}/widget.js" data-title="Carat help" data-color="#0f766e" {extra}></script>
</body></html>""", encoding="utf-8")


@pytest.fixture(scope="module")
def browser(app: dict[str, Any]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (own sessionStorage) whose page records any dialog."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.dialogs = []  # type: ignore[attr-defined]
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))  # type: ignore[attr-defined]
    yield pg
    context.close()


def ask_page(pg: Any, text: str) -> Any:
    """Send a message on the chat page; return the locator of the newest bot message once it is final."""
    before = pg.locator("[data-testid=bot]").count()
    box = pg.locator("#message textarea")
    box.fill(text)
    box.press("Enter")
    newest = pg.locator("[data-testid=bot]").nth(before)
    newest.wait_for(timeout=TIMEOUT)
    pg.wait_for_function(
        """n => { const bots = document.querySelectorAll('[data-testid=bot]');
                  return bots.length > n && bots[n].innerText.trim().length > 0
                         && !document.querySelector('[data-testid=stop-button]'); }""", arg=before, timeout=TIMEOUT)
    return newest


def set_profile(pg: Any, plan: str, billing: str = "Not set", signup: str = "") -> None:
    pg.locator("#profile-plan").get_by_label(plan, exact=True).check()
    pg.locator("#profile-billing").get_by_label(billing, exact=True).check()
    pg.locator("#profile-signup textarea, #profile-signup input").first.fill(signup)


def widget(pg: Any, selector: str) -> Any:
    """Locate inside the widget's (open) shadow root."""
    return pg.locator(f"carat-support-widget [data-testid={selector}]")


def ask_widget(pg: Any, text: str) -> Any:
    before = widget(pg, "msg-bot").count()
    with pg.expect_response(lambda r: r.url.endswith("/api/chat/stream")):
        widget(pg, "input").fill(text)
        widget(pg, "input").press("Enter")
    last = widget(pg, "msg-bot").nth(before)
    pg.wait_for_function("() => !document.querySelector('carat-support-widget').shadowRoot"
                         ".querySelector('[aria-busy=true]')", timeout=TIMEOUT)
    return last


# --- the chat page --------------------------------------------------------------------------

def test_missing_chromium_fails_in_ci_and_skips_elsewhere(monkeypatch):
    monkeypatch.setattr(browser_helpers, "CHROMIUM", Path("/nonexistent/chromium"))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="Chromium is missing"):
        require_chromium()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        require_chromium()


def test_page_answers_with_linked_sources(app, page):
    from playwright.sync_api import expect

    page.goto(app["base"] + "/")
    page.locator("#examples").get_by_text("Why are my credits dropping?").click()
    expect(page.locator("#message textarea")).to_have_value("Why are my credits dropping?", timeout=TIMEOUT)
    page.locator("#send").click()
    answer = page.locator("[data-testid=bot]").first
    answer.locator("details summary").wait_for(timeout=TIMEOUT)
    assert "credits" in answer.inner_text()
    summary = answer.locator("details summary")
    assert summary.inner_text().startswith("Sources (")
    summary.click()
    href = answer.locator("details a").first.get_attribute("href")
    assert href and href.startswith("https://carat.im/docs/")
    page.screenshot(path=str(ARTIFACTS / "page-answer.png"), full_page=True)
    assert SECRET not in page.content()


def test_profile_panel_changes_the_verdict(app, page):
    page.goto(app["base"] + "/")
    set_profile(page, "Plus")
    assert ask_page(page, SEEDREAM).inner_text().startswith("Seedream 4.0: uses credits")
    page.locator("#new-chat").click()
    set_profile(page, "Premium", "annual", "2026-03-01")
    verdict = ask_page(page, SEEDREAM)
    assert verdict.inner_text().startswith("Seedream 4.0: unlimited")
    page.screenshot(path=str(ARTIFACTS / "page-profile.png"), full_page=True)


def test_thumbs_are_stored_and_handoff_shows_a_person_path(app, page):
    from bot.conversation import ConversationStore

    page.goto(app["base"] + "/")
    ask_page(page, "Why are my credits dropping?")
    page.get_by_role("button", name="Like", exact=True).last.click()
    page.wait_for_timeout(800)
    assert not page.locator("#handoff").is_visible()
    ask_page(page, "I want to talk to a human about a refund")
    handoff = page.locator("#handoff")
    handoff.wait_for(state="visible", timeout=TIMEOUT)
    assert "Talk to a person" in handoff.inner_text()
    page.screenshot(path=str(ARTIFACTS / "page-handoff.png"), full_page=True)
    turns = list(ConversationStore(f"sqlite:///{app['data_dir'] / 'bot.db'}").iter_turns())
    assert any(t["rating"] == "up" for t in turns)


def test_page_shows_markup_as_text_and_renders_korean(app, page):
    page.goto(app["base"] + "/")
    ask_page(page, XSS)
    user = page.locator("[data-testid=user]").last
    assert "<img src=x onerror=alert(1)>" in user.inner_text() and "<script>alert(2)</script>" in user.inner_text()
    assert page.locator("#chat img[src=x]").count() == 0 and page.locator("#chat script").count() == 0
    korean = ask_page(page, "크레딧이 왜 계속 줄어드나요?")
    assert "크레딧" in korean.inner_text() and korean.locator("[lang=ko]").count() >= 1
    page.wait_for_timeout(500)
    assert page.dialogs == []  # type: ignore[attr-defined]
    page.screenshot(path=str(ARTIFACTS / "page-xss-korean.png"), full_page=True)


# --- the widget on another site ---------------------------------------------------------------

def test_widget_streams_an_answer_with_sources_on_another_site(app, page):
    page.goto(app["site"] + "/host.html")
    launcher = widget(page, "launcher")
    assert launcher.get_attribute("aria-label") == "Open support chat"
    launcher.click()
    assert widget(page, "panel").is_visible() and launcher.get_attribute("aria-expanded") == "true"
    answer = ask_widget(page, SEEDREAM)
    # The signed profile (Premium annual, joined 2026-03-01) reached the bot.
    assert answer.inner_text().startswith("Seedream 4.0: unlimited")
    sources = answer.locator("[data-testid=sources]")
    sources.locator("summary").click()
    assert sources.locator("a").first.get_attribute("href").startswith("https://carat.im/docs/")
    assert page.locator("carat-support-widget h2").inner_text() == "Carat help"
    page.screenshot(path=str(ARTIFACTS / "widget-answer.png"))
    # The conversation survives a reload of the tab.
    page.reload()
    assert widget(page, "panel").is_visible()
    assert widget(page, "msg-bot").first.inner_text().startswith("Seedream 4.0: unlimited")
    assert SECRET not in page.content()


def test_widget_ignores_a_forged_profile(app, page):
    page.goto(app["site"] + "/forged.html")
    widget(page, "launcher").click()
    answer = ask_widget(page, SEEDREAM)
    assert "could you tell me your plan" in answer.inner_text()


def test_widget_is_keyboard_accessible_and_fits_a_phone(app, browser):
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        page.goto(app["site"] + "/host.html")
        widget(page, "launcher").focus()
        page.keyboard.press("Enter")
        panel = widget(page, "panel")
        assert panel.is_visible()
        box = panel.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 375
        assert page.evaluate("document.querySelector('carat-support-widget').shadowRoot.activeElement.tagName") == "TEXTAREA"
        for _ in range(8):  # focus stays inside the open panel
            page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement.tagName") == "CARAT-SUPPORT-WIDGET"
        page.screenshot(path=str(ARTIFACTS / "widget-375px.png"))
        page.keyboard.press("Escape")
        assert not panel.is_visible()
        assert page.evaluate("document.querySelector('carat-support-widget').shadowRoot.activeElement"
                             ".dataset.testid") == "launcher"
    finally:
        context.close()


def test_widget_on_a_disallowed_origin_shows_a_clear_error(app, page):
    page.goto(app["other_site"] + "/host.html")  # localhost:PORT is not on the allow-list
    widget(page, "launcher").click()
    widget(page, "input").fill("Why are my credits dropping?")
    widget(page, "input").press("Enter")
    error = widget(page, "error")
    error.wait_for(timeout=TIMEOUT)
    assert "is not allowed to use Carat support chat" in error.inner_text()
    assert app["other_site"] in error.inner_text()
    page.screenshot(path=str(ARTIFACTS / "widget-disallowed.png"))


def test_widget_shows_markup_as_text_and_speaks_korean(app, page):
    page.goto(app["site"] + "/ko.html")
    widget(page, "launcher").click()
    assert widget(page, "launcher").get_attribute("aria-label") == "채팅 닫기"
    ask_widget(page, XSS)
    assert widget(page, "msg-user").last.inner_text() == XSS
    shadow_imgs = page.evaluate("document.querySelector('carat-support-widget').shadowRoot"
                                ".querySelectorAll('img, script').length")
    assert shadow_imgs == 0
    answer = ask_widget(page, "크레딧이 왜 계속 줄어드나요?")
    assert answer.get_attribute("lang") == "ko" and "크레딧" in answer.inner_text()
    page.wait_for_timeout(500)
    assert page.dialogs == []  # type: ignore[attr-defined]
    page.screenshot(path=str(ARTIFACTS / "widget-xss-korean.png"))
