"""The chat page: a Gradio Blocks UI over the bot, mounted at / of the FastAPI app."""

import logging
import os
import time
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from pydantic import ValidationError

from bot.conversation import StorageUnavailable
from bot.errors import BotError
from bot.health import SEARCH_UNAVAILABLE, is_search_failure
from bot.limits import RateLimited, RateLimiter
from bot.page_guard import PageGuard
from bot.service import MAX_COMMENT_CHARS, MAX_EMAIL_CHARS, MAX_MESSAGE_CHARS, SupportBot, check_message
from bot.settings import Settings
from bot.templates import load_templates
from bot.types import Answer, Profile
from bot.web_html import history, language_of, message_html, read_snapshot, safe_html, snapshot, typing_html

log = logging.getLogger("bot.web")

STATIC = Path(__file__).resolve().parent / "static"
PLANS = ["Plus", "Premium", "Max", "Pro", "Business"]
BILLING = ["monthly", "annual"]
NOT_SET = "Not set"
CHIPS = 4  # suggestion buttons above the box
STREAM_EVERY = 0.05  # seconds between page updates while tokens arrive
QUEUE_POLL_SECONDS = 0.02
QUEUE_SIZE = 256  # page requests waiting for an answer slot; more get "busy" instead of growing memory
MAX_SNAPSHOT_CHARS = 60_000  # what a tab keeps of its conversation (the script trims it below the body limit)
RESTORE_JS = "() => [window.caratPage ? window.caratPage.restore() : (sessionStorage.getItem('carat-support-page:v1') || '')]"
HANDOFF_NOTE = "**Talk to a person.** Carat support replies by e-mail: give your address and they get this conversation."


@lru_cache(maxsize=1)
def page_assets() -> tuple[str, str]:
    """Return the page's stylesheet and script."""
    return (STATIC / "page.css").read_text(encoding="utf-8"), (STATIC / "page.js").read_text(encoding="utf-8")


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


def new_state() -> dict[str, Any]:
    """Return the page state of a new conversation (kept on the server, per browser tab)."""
    return {"session_id": None, "messages": [], "reason_for": None}


def needs_profile(answer: Answer) -> bool:
    """Return True when a clarifying question asks for what the subscription panel sets."""
    if answer.route != "clarify":
        return False
    missing = {m for call in answer.tool_calls for m in call.result.get("missing") or []}
    return not answer.tool_calls or bool(missing & {"plan", "billing", "signup_date"})


def _client_ip(request: Any) -> str:
    """Return the browser's address as Gradio saw it."""
    client = getattr(request, "client", None)
    return getattr(client, "host", None) or "unknown"


def _bot_message(text: str, lang: str, **fields: Any) -> dict[str, Any]:
    m = {"role": "assistant", "text": text, "lang": lang, **fields}
    return {**m, "html": message_html(m)}


class Page:
    """The page's handlers: each takes the tab's state and returns updates for the components it names."""

    def __init__(self, bot: SupportBot, settings: Settings, limiter: RateLimiter) -> None:
        self.bot, self.settings, self.limiter = bot, settings, limiter
        self.templates = load_templates()
        self.c: dict[str, Any] = {}  # components by name, filled by build_blocks

    # --- suggestions ---------------------------------------------------------------------------
    def examples(self) -> list[str]:
        """Return the questions suggested on an empty page (English first, then one in Korean)."""
        q = self.settings.suggested_questions
        return (list(q.get("en", []))[: CHIPS - 1] + list(q.get("ko", []))[:1])[:CHIPS]

    def followups(self, answer: Answer, asked: set[str]) -> list[str]:
        """Return the questions worth suggesting after an answer."""
        if answer.route == "eligibility":
            return [str(q) for q in self.templates[answer.language].raw("followups.eligibility")]
        if answer.route in ("answer", "refuse"):
            return [q for q in self.settings.suggested_questions.get(answer.language, []) if q not in asked][:3]
        return []

    def chips(self, questions: list[str]) -> dict[Any, Any]:
        import gradio as gr

        return {chip: gr.update(value=questions[n], visible=True) if n < len(questions) else gr.update(visible=False)
                for n, chip in enumerate(self.c["chips"])}

    # --- one question ------------------------------------------------------------------------------
    def respond(self, text: str | None, state: dict[str, Any], plan: str, billing: str, signup: str,
                request: Any) -> Iterator[dict[Any, Any]]:
        """Stream one answer into the chat; the question already shows (echoed in the browser)."""
        import gradio as gr

        c = self.c
        state = {**new_state(), **(state or {})}
        message = (text or "").strip()
        if not message:
            yield {c["state"]: state}
            return
        lang = language_of(message)
        user = {"role": "user", "text": message, "lang": lang}
        base = [*state["messages"], {**user, "html": message_html(user)}]
        hidden = {c["handoff_box"]: gr.update(visible=False), c["reason_box"]: gr.update(visible=False),
                  c["feedback_note"]: gr.update(visible=False)}
        yield {c["chat"]: history(base) + [{"role": "assistant", "content": typing_html(lang)}], **hidden,
               **self.chips([])}
        text_so_far, last = "", 0.0
        try:
            check_message(message)  # checked before counting: a refused message costs no rate-limit entry
            profile = profile_from_panel(plan, billing, signup)
            self.bot.check_profile(profile)
            self.limiter.hit_ip(_client_ip(request))
            if state.get("session_id"):  # issued by the server (or restored after checking it exists)
                self.limiter.hit_session(state["session_id"])
            for ev in self.bot.stream(message, session_id=state.get("session_id"), profile=profile):
                if ev.type == "token":
                    text_so_far += ev.text
                    if time.monotonic() - last >= STREAM_EVERY:
                        last = time.monotonic()
                        partial = {"role": "assistant", "content": safe_html(text_so_far, lang)}
                        yield {c["chat"]: history(base) + [partial]}
                elif ev.type == "final" and ev.answer is not None:
                    yield self._final(ev.answer, base, state)
        except (RateLimited, StorageUnavailable) as exc:
            yield self._failed(f"**Sorry:** {exc.message}", base, state)
        except Exception as exc:
            if is_search_failure(exc):
                log.warning("chat page: search index unavailable (%s)", type(exc).__name__)
                reply = SEARCH_UNAVAILABLE
            elif isinstance(exc, BotError):  # written for people: bad input, a date that does not exist
                reply = f"**Sorry, I could not answer that:** {exc.message}"
            else:
                log.exception("chat page answer failed")
                reply = "Something went wrong on our side. Please try again."
            yield self._failed(reply, base, state)

    def _final(self, answer: Answer, base: list[dict[str, Any]], state: dict[str, Any]) -> dict[Any, Any]:
        import gradio as gr

        c = self.c
        reply = _bot_message(answer.answer, answer.language, turn_id=answer.turn_id, profile_link=needs_profile(answer),
                             sources=[s.model_dump(include={"title", "section", "url"}) for s in answer.sources])
        messages = [*base, reply]
        state = {**state, "session_id": answer.session_id, "messages": messages, "reason_for": None}
        asked = {m["text"] for m in messages if m["role"] == "user"}
        form = bool(answer.handoff and answer.handoff.desk and answer.handoff.status in ("offered", "email_needed"))
        return {c["chat"]: history(messages), c["state"]: state, c["stored"]: snapshot(answer.session_id, messages),
                c["handoff_box"]: gr.update(visible=form), c["handoff_error"]: gr.update(visible=False),
                **self.chips(self.followups(answer, asked))}

    def _failed(self, reply: str, base: list[dict[str, Any]], state: dict[str, Any]) -> dict[Any, Any]:
        messages = [*base, _bot_message(reply, "en")]
        return {self.c["chat"]: history(messages), self.c["state"]: {**state, "messages": messages},
                **self.chips(self.examples())}

    # --- ratings -----------------------------------------------------------------------------------
    def on_like(self, state: dict[str, Any], data: Any) -> dict[Any, Any]:
        """Store a thumbs up or down; a thumbs-down asks for an optional reason (and the second offers a person)."""
        import gradio as gr

        c = self.c
        state = {**new_state(), **(state or {})}
        index = data.index if isinstance(data.index, int) else data.index[0]
        messages = state["messages"]
        turn_id = messages[index].get("turn_id") if 0 <= index < len(messages) else None
        # True or "Like" is a thumbs-up, False or "Dislike" a thumbs-down; anything else (unselecting) changes nothing.
        up, down = data.liked is True or data.liked == "Like", data.liked is False or data.liked == "Dislike"
        if not turn_id or not state.get("session_id") or not (up or down):
            return {c["state"]: state}
        try:
            offer = self.bot.feedback(state["session_id"], turn_id, "down" if down else "up")
        except BotError as exc:
            raise gr.Error(exc.message) from None
        out: dict[Any, Any] = {c["reason_box"]: gr.update(visible=down), c["feedback_note"]: gr.update(visible=not down)}
        state = {**state, "reason_for": turn_id if down else None}
        if offer is not None:
            lang = messages[index].get("lang") or "en"
            state["messages"] = [*messages, _bot_message(offer.text, lang)]
            out |= {c["chat"]: history(state["messages"]), c["stored"]: snapshot(state["session_id"], state["messages"]),
                    c["handoff_box"]: gr.update(visible=offer.handoff.desk)}
        return out | {c["state"]: state}

    def send_reason(self, reason: str, state: dict[str, Any]) -> dict[Any, Any]:
        """Store the reason given for a thumbs-down with the rating."""
        import gradio as gr

        c = self.c
        turn_id, session_id = (state or {}).get("reason_for"), (state or {}).get("session_id")
        if turn_id and session_id and (reason or "").strip():
            try:
                self.bot.feedback(session_id, turn_id, "down", reason)
            except BotError as exc:
                raise gr.Error(exc.message) from None
        return {c["reason_box"]: gr.update(visible=False), c["reason"]: "", c["feedback_note"]: gr.update(visible=True),
                c["state"]: {**new_state(), **(state or {}), "reason_for": None}}

    # --- a person ------------------------------------------------------------------------------
    def send_handoff(self, email: str, consent: bool, state: dict[str, Any], plan: str, billing: str, signup: str,
                     request: Any) -> dict[Any, Any]:
        """Send the conversation to Carat support from the form; the chat says what became of it."""
        import gradio as gr

        c = self.c
        state = {**new_state(), **(state or {})}
        if not state.get("session_id"):
            return {c["handoff_error"]: gr.update(visible=True, value="Ask your question first.")}
        try:
            self.limiter.hit_ip(_client_ip(request))
            self.limiter.hit_session(state["session_id"])
            outcome = self.bot.handoff(state["session_id"], (email or "").strip() or None, bool(consent),
                                       profile_from_panel(plan, billing, signup))
        except (BotError, RateLimited) as exc:
            return {c["handoff_error"]: gr.update(visible=True, value=f"**Not sent:** {exc.message}")}
        lang = next((m.get("lang") for m in reversed(state["messages"]) if m["role"] == "assistant"), "en")
        messages = [*state["messages"], _bot_message(outcome.text, lang or "en")]
        state = {**state, "messages": messages}
        return {c["chat"]: history(messages), c["state"]: state, c["stored"]: snapshot(state["session_id"], messages),
                c["handoff_box"]: gr.update(visible=False), c["handoff_error"]: gr.update(visible=False)}

    # --- the tab -------------------------------------------------------------------------------
    def restore(self, raw: str) -> dict[Any, Any]:
        """Show the conversation this tab had before a reload (the server checks it still exists)."""
        c = self.c
        session_id, messages = read_snapshot(raw)
        try:
            known = self.bot.known_session(session_id) if session_id else None
        except BotError:
            known = None
        if not known or not messages:
            return {c["stored"]: "", **self.chips(self.examples())}
        messages = [{**m, "html": message_html(m)} for m in messages]
        state = {**new_state(), "session_id": known, "messages": messages}
        return {c["chat"]: history(messages), c["state"]: state, c["stored"]: snapshot(known, messages),
                **self.chips([])}

    def new_chat(self) -> dict[Any, Any]:
        """Start a new conversation (and forget the old one in this tab)."""
        import gradio as gr

        c = self.c
        return {c["chat"]: [], c["box"]: "", c["state"]: new_state(), c["stored"]: "",
                c["handoff_box"]: gr.update(visible=False), c["reason_box"]: gr.update(visible=False),
                c["feedback_note"]: gr.update(visible=False), **self.chips(self.examples())}


def build_blocks(bot: SupportBot, settings: Settings, limiter: RateLimiter) -> Any:
    """Build the Blocks of the chat page."""
    import gradio as gr

    page = Page(bot, settings, limiter)
    c = page.c
    with gr.Blocks(title="Carat support") as demo:
        c["state"] = gr.State(new_state())
        c["pending"] = gr.Textbox(visible=False, max_length=MAX_MESSAGE_CHARS)
        c["stored"] = gr.Textbox(visible=False, max_length=MAX_SNAPSHOT_CHARS)
        gr.Markdown("# Carat support\nAsk about credits, plans and which models are unlimited for you.",
                    elem_id="page-title")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=320):
                c["chat"] = gr.Chatbot(
                    elem_id="chat", label="Conversation", show_label=False, render_markdown=False, line_breaks=False,
                    sanitize_html=True, feedback_options=("Like", "Dislike"), buttons=["copy"], autoscroll=True,
                    group_consecutive_messages=False,
                    placeholder="Ask a question about Carat in English or 한국어, or pick a suggestion below.")
                with gr.Group(elem_id="feedback-reason", visible=False) as c["reason_box"]:
                    c["reason"] = gr.Textbox(label="What was wrong with this answer? (optional)", lines=2, max_lines=4,
                                             max_length=MAX_COMMENT_CHARS, elem_id="feedback-reason-text")
                    with gr.Row():
                        reason_send = gr.Button("Send", size="sm", variant="primary", elem_id="feedback-reason-send")
                        reason_skip = gr.Button("Skip", size="sm", variant="secondary", elem_id="feedback-reason-skip")
                c["feedback_note"] = gr.Markdown("Thanks, your feedback was saved.", visible=False, elem_id="feedback-note")
                with gr.Group(elem_id="handoff", visible=False) as c["handoff_box"]:
                    gr.Markdown(HANDOFF_NOTE, elem_id="handoff-note")
                    c["email"] = gr.Textbox(label="Your e-mail", placeholder="you@example.com", max_length=MAX_EMAIL_CHARS,
                                            elem_id="handoff-email", type="email")
                    c["consent"] = gr.Checkbox(label="Send this conversation, my plan details and my e-mail to Carat support",
                                               elem_id="handoff-consent")
                    handoff_send = gr.Button("Send to Carat support", variant="primary", elem_id="handoff-send")
                    c["handoff_error"] = gr.Markdown("", visible=False, elem_id="handoff-error")
                with gr.Row(elem_id="suggestions"):
                    c["chips"] = [gr.Button(q, size="sm", variant="secondary", min_width=0, elem_classes=["suggestion"])
                                  for q in page.examples()]
                    c["chips"] += [gr.Button("", size="sm", variant="secondary", min_width=0, visible=False,
                                             elem_classes=["suggestion"]) for _ in range(CHIPS - len(c["chips"]))]
                with gr.Row(elem_id="composer"):
                    c["box"] = gr.Textbox(elem_id="message", show_label=False, scale=5, lines=1, max_lines=6,
                                          max_length=MAX_MESSAGE_CHARS, placeholder="Type your question (English or 한국어)",
                                          autofocus=True)
                    send = gr.Button("Send", elem_id="send", variant="primary", scale=1, min_width=72)
            with gr.Column(scale=1, min_width=240, elem_id="profile"):
                gr.Markdown("### Your subscription\nOptional: lets the bot check what is unlimited for you.")
                plan = gr.Radio([NOT_SET, *PLANS], value=NOT_SET, label="Plan", elem_id="profile-plan")
                billing = gr.Radio([NOT_SET, *BILLING], value=NOT_SET, label="Billing", elem_id="profile-billing")
                signup = gr.Textbox(label="Signup date", placeholder="YYYY-MM-DD", max_length=10, elem_id="profile-signup")
                clear = gr.Button("New conversation", elem_id="new-chat", variant="secondary")

        # Gradio passes event data and the request by the parameter's type: typed wrappers around the handlers.
        def respond(text: str, state: dict[str, Any], plan_: str, billing_: str, signup_: str,
                    request: gr.Request) -> Iterator[dict[Any, Any]]:
            yield from page.respond(text, state, plan_, billing_, signup_, request)

        def on_like(state: dict[str, Any], data: gr.LikeData) -> dict[Any, Any]:
            return page.on_like(state, data)

        def send_handoff(email: str, consent: bool, state: dict[str, Any], plan_: str, billing_: str, signup_: str,
                         request: gr.Request) -> dict[Any, Any]:
            return page.send_handoff(email, consent, state, plan_, billing_, signup_, request)

        everything = [c["chat"], c["state"], c["stored"], c["box"], c["handoff_box"], c["handoff_error"], c["reason_box"],
                      c["reason"], c["feedback_note"], *c["chips"]]
        for trigger in (c["box"].submit, send.click):
            # Echoed in the browser at once; the answer streams in from the server after.
            trigger(None, [c["box"], c["chat"]], [c["pending"], c["chat"], c["box"]],
                    js="(text, chat) => window.caratPage.echo(text, chat)").then(
                respond, [c["pending"], c["state"], plan, billing, signup], everything,
                concurrency_limit=settings.chat_concurrency, concurrency_id="chat", api_visibility="undocumented",
                show_progress="hidden").then(None, None, None, js="() => window.caratPage.done()")
        for chip in c["chips"]:
            chip.click(None, [chip], None, js="(text) => window.caratPage.ask(text)")
        c["chat"].like(on_like, [c["state"]], everything, api_visibility="undocumented")
        reason_send.click(page.send_reason, [c["reason"], c["state"]], everything, api_visibility="undocumented")
        reason_skip.click(None, None, [c["reason_box"]], js="() => [{visible: false, __type__: 'update'}]")
        handoff_send.click(send_handoff, [c["email"], c["consent"], c["state"], plan, billing, signup], everything,
                           api_visibility="undocumented")
        c["stored"].change(None, [c["stored"]], None, js="(saved) => window.caratPage.save(saved)")
        clear.click(page.new_chat, None, everything, api_visibility="undocumented")
        # The chat's own trash button empties the history: start a new conversation to match.
        c["chat"].clear(page.new_chat, None, everything, api_visibility="undocumented")
        demo.load(page.restore, [c["stored"]], everything, js=RESTORE_JS, api_visibility="undocumented")
    demo.queue(default_concurrency_limit=settings.chat_concurrency, max_size=QUEUE_SIZE)
    # Gradio's queue looks for work every millisecond when it has none: 5% of a core on an idle server, and a
    # wake-up that takes the interpreter from the answering threads a thousand times a second under load.
    # Every 20 ms is soon enough for a page event; the API does not go through this queue.
    # Its progress loop (every 10 ms) has nothing to send either: the page shows no progress bars.
    queue = getattr(demo, "_queue", None)
    if queue is not None and hasattr(queue, "sleep_when_free"):
        queue.sleep_when_free = QUEUE_POLL_SECONDS
    if queue is not None and hasattr(queue, "progress_update_sleep_when_free"):
        queue.progress_update_sleep_when_free = 0.25
    return demo


def mount_web(app: FastAPI, bot: SupportBot, settings: Settings, limiter: RateLimiter) -> FastAPI:
    """Mount the chat page at / (after every API route, which would otherwise be shadowed)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gradio as gr
    from starlette.routing import Mount

    demo = build_blocks(bot, settings, limiter)
    css, script = page_assets()
    # Gradio's regular and bold font files are complete; its semibold ones are small subsets (see page.css).
    theme = gr.themes.Default(
        primary_hue="indigo",
        font=(gr.themes.LocalFont("Source Sans Pro", weights=(400, 700)), "ui-sans-serif", "system-ui", "sans-serif"),
        font_mono=(gr.themes.LocalFont("IBM Plex Mono", weights=(400, 700)), "ui-monospace", "monospace"))
    # The stylesheet goes in the head as it is: Gradio would scope a `css` string below the app's own containers.
    app = gr.mount_gradio_app(app, demo, path="/", head=f"<style>{css}</style>", js=f"() => {{ {script} }}", ssr_mode=False,
                              footer_links=[], show_error=False, theme=theme, max_file_size=0)
    # Only the routes the page uses reach Gradio, and only with bodies the page would send.
    page = next(r for r in app.routes if isinstance(r, Mount) and r.path == "")
    page.app.add_middleware(PageGuard, blocks=demo)
    return app
