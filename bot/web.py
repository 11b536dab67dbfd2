"""The chat page: a Gradio Blocks UI over the bot, mounted at / of the FastAPI app."""

import html
import json
import logging
import os
import re
import time
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from fastapi import FastAPI
from pydantic import ValidationError

from bot.conversation import StorageUnavailable
from bot.errors import BotError
from bot.health import SEARCH_UNAVAILABLE, is_search_failure
from bot.limits import RateLimited, RateLimiter
from bot.page_guard import PageGuard
from bot.service import MAX_MESSAGE_CHARS, SupportBot, check_message
from bot.settings import Settings
from bot.types import Answer, Profile

log = logging.getLogger("bot.web")

EXAMPLES = [
    "Is Seedream 4.0 unlimited for me?",
    "Why are my credits dropping?",
    "How do I get the free video model in Agent 2.0?",
    "크레딧이 왜 계속 줄어드나요?",
]
PLANS = ["Plus", "Premium", "Max", "Pro", "Business"]
BILLING = ["monthly", "annual"]
NOT_SET = "Not set"
HANGUL = re.compile(r"[\uac00-\ud7a3]")
BETWEEN_TAGS = re.compile(r">\s*\n\s*<")
STREAM_EVERY = 0.05  # seconds between page updates while tokens arrive
QUEUE_SIZE = 256  # page requests waiting for an answer slot; more get "busy" instead of growing memory

ALLOWED_TAGS = {"p", "br", "strong", "em", "code", "pre", "ul", "ol", "li", "a", "blockquote", "h3", "h4",
                "table", "thead", "tbody", "tr", "th", "td", "details", "summary", "div", "span", "hr"}
ALLOWED_ATTRIBUTES = {"a": {"href"}, "div": {"lang"}, "th": {"align"}, "td": {"align"}}

CSS = """
#chat, #chat .message, #handoff, #profile { font-family: var(--font), "Noto Sans KR", "Noto Sans CJK KR",
  "Apple SD Gothic Neo", "Malgun Gothic", "NanumGothic", sans-serif; }
#chat [lang="ko"] { word-break: keep-all; overflow-wrap: anywhere; line-height: 1.7; }
#chat [lang] ul, #chat [lang] ol { padding-left: 1.4em; margin: .3em 0; }
#chat [lang] strong { font-weight: 600; }
#chat details { margin-top: .6em; font-size: .92em; }
#chat details summary { cursor: pointer; font-weight: 600; }
#chat details ul { margin: .3em 0 0 1.1em; }
#handoff { border: 1px solid var(--color-accent); border-radius: 8px; padding: .8em 1em; }
#page-title h1 { margin-bottom: 0; }
"""


@lru_cache(maxsize=1)
def _cleaner() -> Any:
    """Return the shared HTML sanitiser: a short tag list, http(s)/mailto links only."""
    import nh3

    return nh3.Cleaner(tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes={"http", "https", "mailto"},
                       link_rel="noopener noreferrer nofollow", set_tag_attribute_values={"a": {"target": "_blank"}})


@lru_cache(maxsize=1)
def _markdown() -> Any:
    """Return the markdown renderer; raw HTML in text is escaped, never passed through."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "breaks": True}).enable("table")


def safe_html(markdown_text: str, language: str | None = None) -> str:
    """Return sanitised HTML for markdown text (answers and echoed messages alike)."""
    language = language or ("ko" if HANGUL.search(markdown_text) else "en")
    # Newlines between block tags would show as blank lines in the chat bubble.
    body = BETWEEN_TAGS.sub("><", _markdown().render(markdown_text).strip())
    return _cleaner().clean(f'<div lang="{language}">{body}</div>')


def sources_html(answer: Answer) -> str:
    """Return a collapsible list of the answer's help-center sources."""
    if not answer.sources:
        return ""
    items = "".join(
        f'<li><a href="{html.escape(s.url, quote=True)}">{html.escape(s.title)}'
        f'{" - " + html.escape(s.section) if s.section and s.section != s.title else ""}</a></li>'
        for s in answer.sources)
    label = "출처" if answer.language == "ko" else "Sources"
    return _cleaner().clean(f"<details><summary>{label} ({len(answer.sources)})</summary><ul>{items}</ul></details>")


def handoff_html(settings: Settings, session_id: str) -> str:
    """Return the 'talk to a person' panel for a conversation."""
    ref = html.escape(session_id)
    if settings.support_url:
        link = f'<a href="{html.escape(settings.support_url, quote=True)}">Contact Carat support</a>'
        body = f"{link} and mention conversation reference <code>{ref}</code> so they can read this chat."
    else:
        body = f"Contact Carat support and quote conversation reference <code>{ref}</code> so they can read this chat."
    return _cleaner().clean(f"<p><strong>Talk to a person.</strong> {body}</p>")


def profile_from_panel(plan: str | None, billing: str | None, signup: str | None) -> Profile | None:
    """Return the profile set in the side panel, or None when nothing is set."""
    values = {"plan": plan, "billing": billing, "signup_date": (signup or "").strip()}
    values = {k: v for k, v in values.items() if v and v != NOT_SET}
    if not values:
        return None
    try:
        return Profile.model_validate(values)
    except ValidationError:
        raise BotError("The signup date must be a real date written as YYYY-MM-DD, for example 2026-03-01.") from None


def _client_ip(request: Any) -> str:
    """Return the browser's address as Gradio saw it."""
    client = getattr(request, "client", None)
    return getattr(client, "host", None) or "unknown"


def make_respond(bot: SupportBot, settings: Settings, limiter: RateLimiter) -> Any:
    """Return the chat handler: streams one answer into the chat history."""
    import gradio as gr

    def respond(message: str, history: list[dict[str, Any]], state: dict[str, Any], plan: str, billing: str,
                signup: str, request: gr.Request) -> Iterator[tuple[Any, ...]]:
        message = (message or "").strip()
        history = list(history or [])
        state = dict(state or {"session_id": None, "turns": []})
        turns = list(state.get("turns") or [])
        if not message:
            yield history, "", state, gr.update()
            return
        history.append({"role": "user", "content": safe_html(message)})
        history.append({"role": "assistant", "content": ""})
        turns += [None, None]
        yield history, "", {**state, "turns": turns}, gr.update(visible=False)
        text, last = "", 0.0
        try:
            # Checked before counting: a refused message costs no rate-limit entry.
            check_message(message)
            profile = profile_from_panel(plan, billing, signup)
            bot.check_profile(profile)
            limiter.hit_ip(_client_ip(request))
            if state.get("session_id"):  # issued by the server and kept server-side in the page's state
                limiter.hit_session(state["session_id"])
            for ev in bot.stream(message, session_id=state.get("session_id"), profile=profile):
                if ev.type == "token":
                    text += ev.text
                    if time.monotonic() - last >= STREAM_EVERY:
                        last = time.monotonic()
                        history[-1] = {"role": "assistant", "content": safe_html(text)}
                        yield history, "", {**state, "turns": turns}, gr.update()
                elif ev.type == "final" and ev.answer is not None:
                    answer = ev.answer
                    history[-1] = {"role": "assistant",
                                   "content": safe_html(answer.answer, answer.language) + sources_html(answer)}
                    turns[-1] = answer.turn_id
                    state = {"session_id": answer.session_id, "turns": turns}
                    handoff = (gr.update(visible=True, value=handoff_html(settings, answer.session_id))
                               if answer.route == "handoff" else gr.update(visible=False))
                    yield history, "", state, handoff
        except (RateLimited, StorageUnavailable) as exc:
            history[-1] = {"role": "assistant", "content": safe_html(f"**Sorry:** {exc.message}")}
            yield history, "", {**state, "turns": turns}, gr.update()
        except Exception as exc:
            if is_search_failure(exc):
                log.warning("chat page: search index unavailable (%s)", type(exc).__name__)
                reply = SEARCH_UNAVAILABLE
            elif isinstance(exc, BotError):  # written for people: bad input, a date that does not exist
                reply = f"**Sorry, I could not answer that:** {exc.message}"
            else:
                log.exception("chat page answer failed")
                reply = "Something went wrong on our side. Please try again."
            history[-1] = {"role": "assistant", "content": safe_html(reply)}
            yield history, "", {**state, "turns": turns}, gr.update()

    return respond


def build_blocks(bot: SupportBot, settings: Settings, limiter: RateLimiter) -> Any:
    """Build the Blocks of the chat page."""
    import gradio as gr

    def on_like(state: dict[str, Any], data: gr.LikeData) -> None:
        turns = (state or {}).get("turns") or []
        index = data.index if isinstance(data.index, int) else data.index[0]
        turn_id = turns[index] if 0 <= index < len(turns) else None
        if not turn_id or not state.get("session_id"):
            return
        rating = "up" if data.liked is True or data.liked == "Like" else "down"
        try:
            bot.feedback(state["session_id"], turn_id, rating)
        except BotError as exc:
            raise gr.Error(exc.message) from None
        gr.Info("Thanks, your feedback was saved.")

    def new_chat() -> tuple[Any, ...]:
        return [], "", {"session_id": None, "turns": []}, gr.update(visible=False, value="")

    with gr.Blocks(title="Carat support") as demo:
        state = gr.State({"session_id": None, "turns": []})
        gr.Markdown("# Carat support\nAsk about credits, plans and which models are unlimited for you.",
                    elem_id="page-title")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=320):
                chat = gr.Chatbot(elem_id="chat", label="Conversation", height=560, render_markdown=False,
                                  line_breaks=False, sanitize_html=True, feedback_options=("Like", "Dislike"), buttons=["copy"],
                                  placeholder="Ask a question about Carat, or pick an example below.")
                handoff = gr.HTML("", elem_id="handoff", visible=False)
                with gr.Row():
                    box = gr.Textbox(elem_id="message", show_label=False, scale=5, lines=1, max_lines=6,
                                     max_length=MAX_MESSAGE_CHARS, placeholder="Type your question (English or 한국어)",
                                     autofocus=True)
                    send = gr.Button("Send", elem_id="send", variant="primary", scale=1, min_width=80)
                with gr.Row(elem_id="examples"):
                    # Filled in the browser: an example costs no request to the server.
                    for example in EXAMPLES:
                        gr.Button(example, size="sm", variant="secondary", min_width=0).click(
                            None, None, box, js=f"() => {json.dumps(example)}")
            with gr.Column(scale=1, min_width=240, elem_id="profile"):
                gr.Markdown("### Your subscription\nOptional: lets the bot check what is unlimited for you.")
                plan = gr.Radio([NOT_SET, *PLANS], value=NOT_SET, label="Plan", elem_id="profile-plan")
                billing = gr.Radio([NOT_SET, *BILLING], value=NOT_SET, label="Billing", elem_id="profile-billing")
                signup = gr.Textbox(label="Signup date", placeholder="YYYY-MM-DD", max_length=10,
                                    elem_id="profile-signup")
                clear = gr.Button("New conversation", elem_id="new-chat", variant="secondary")

        inputs = [box, chat, state, plan, billing, signup]
        outputs = [chat, box, state, handoff]
        respond = make_respond(bot, settings, limiter)
        for trigger in (box.submit, send.click):
            trigger(respond, inputs, outputs, concurrency_limit=settings.chat_concurrency,
                    concurrency_id="chat", api_visibility="undocumented", show_progress="hidden")
        chat.like(on_like, [state], None, api_visibility="undocumented")
        clear.click(new_chat, None, outputs, api_visibility="undocumented")
        # The chat's own trash button empties the history: start a new conversation to match.
        chat.clear(new_chat, None, outputs, api_visibility="undocumented")
    demo.queue(default_concurrency_limit=settings.chat_concurrency, max_size=QUEUE_SIZE)
    return demo


def mount_web(app: FastAPI, bot: SupportBot, settings: Settings, limiter: RateLimiter) -> FastAPI:
    """Mount the chat page at / (after every API route, which would otherwise be shadowed)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gradio as gr
    from starlette.routing import Mount

    demo = build_blocks(bot, settings, limiter)
    app = gr.mount_gradio_app(app, demo, path="/", css=CSS, ssr_mode=False, footer_links=[], show_error=False,
                              theme=gr.themes.Default(primary_hue="indigo"), max_file_size=0)
    # Only the routes the page uses reach Gradio, and only with bodies the page would send.
    page = next(r for r in app.routes if isinstance(r, Mount) and r.path == "")
    page.app.add_middleware(PageGuard, blocks=demo)
    return app
