"""Fixtures for the browser tests: the app in a subprocess (with a support desk on 127.0.0.1, and without one),
a customer's site embedding the widget, Chromium, and pages at desktop and phone sizes."""
from __future__ import annotations

import html
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.widget import sign_profile
from tests.browser_helpers import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, require_chromium, serve_app, serve_folder
from tests.receivers import WebhookReceiver, webhook_receiver

SECRET = "whsec-browser-DO-NOT-LEAK-77aa"
HOOK_SECRET = "hook-browser-DO-NOT-LEAK-31c"
PREMIUM = {"plan": "Premium", "billing": "annual", "signup_date": "2026-03-01"}
CONTACT = "https://carat.example/contact"
TIMEOUT = 30_000
SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int]]:
    """A customer's site on its own port (its pages are written once the app's address is known)."""
    folder = tmp_path_factory.mktemp("site")
    with serve_folder(folder) as port:
        yield folder, port


@pytest.fixture(scope="module")
def hook() -> Iterator[WebhookReceiver]:
    """The support desk's webhook receiver."""
    with webhook_receiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, site: tuple[Path, int], hook: WebhookReceiver) -> Iterator[dict[str, Any]]:
    """The app on a free port, allowing the site's 127.0.0.1 origin only, with a widget secret and a support desk."""
    require_chromium()
    data_dir = tmp_path_factory.mktemp("web-var")
    folder, port = site
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    env = {"ALLOWED_ORIGINS": f"http://127.0.0.1:{port}", "WIDGET_SECRET": SECRET, "SUPPORT_URL": CONTACT,
           "HANDOFF_WEBHOOK_URL": hook.url, "HANDOFF_WEBHOOK_SECRET": HOOK_SECRET,
           "RATE_LIMIT_IP": "1000", "RATE_LIMIT_SESSION": "1000"}
    with serve_app(data_dir, env, log_path=ARTIFACTS / f"app-{folder.name}.log", timeout=120) as base:
        sig = sign_profile(SECRET, PREMIUM)
        write_host_page(folder / "host.html", base, f'data-plan="Premium" data-billing="annual" '
                        f'data-signup-date="2026-03-01" data-profile-sig="{sig}"')
        write_host_page(folder / "plain.html", base, "")
        write_host_page(folder / "forged.html", base, 'data-plan="Premium" data-billing="annual" '
                        'data-signup-date="2026-03-01" data-profile-sig="0000"')
        write_host_page(folder / "ko.html", base, 'data-lang="ko"')
        yield {"base": base, "data_dir": data_dir, "site": f"http://127.0.0.1:{port}",
               "other_site": f"http://localhost:{port}"}


@pytest.fixture(scope="module")
def plain_app(app: dict[str, Any]) -> Iterator[str]:
    """The same app and data with no support desk configured (and no SUPPORT_URL: the help center is the contact)."""
    with serve_app(app["data_dir"], {"RATE_LIMIT_IP": "1000", "RATE_LIMIT_SESSION": "1000"},
                   log_path=ARTIFACTS / "app-plain.log", timeout=120) as base:
        yield base


def write_host_page(path: Path, base: str, extra: str) -> None:
    """Write a customer page that embeds the widget with one script tag (and hostile styles of its own)."""
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
def open_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """Open pages in fresh contexts (own storage) at a named size; each records dialogs and console messages."""
    contexts: list[Any] = []

    def make(size: str = "desktop", **options: Any) -> Any:
        phone = size == "phone"
        context = browser.new_context(viewport=SIZES[size], is_mobile=phone, has_touch=phone, **options)
        contexts.append(context)
        pg = context.new_page()
        pg.dialogs, pg.console = [], []  # type: ignore[attr-defined]
        pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))  # type: ignore[attr-defined]
        pg.on("console", lambda m: pg.console.append((m.type, m.text)))  # type: ignore[attr-defined]
        return pg

    yield make
    for context in contexts:
        context.close()


def shot(pg: Any, name: str, full_page: bool = False) -> None:
    """Save a screenshot for a person to look at (tests/artifacts, git-ignored)."""
    pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)
