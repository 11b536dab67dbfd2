"""Handing a conversation to a person: tickets stored and sent to a support desk on 127.0.0.1 (a webhook receiver and
an SMTP server), retried with backoff, and the customer told it was sent only when it was."""
from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.conversation import ConversationStore
from bot.desk import Desk, verify_signature
from bot.eligibility import Engine
from bot.errors import InputError
from bot.handoff import HandoffFlow, UnknownConversation
from bot.service import SupportBot
from bot.settings import get_settings
from bot.tickets import TicketStore
from tests.conftest import run_cli
from tests.receivers import WebhookReceiver, smtp_receiver, webhook_receiver

HOOK_SECRET = "hook-secret-DO-NOT-LEAK-93be"
EMAIL = "jane.doe@example.com"


@pytest.fixture()
def hook() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as receiver:
        yield receiver


def make_bot(built: Any, tmp_path: Path, **settings: Any) -> tuple[SupportBot, list[float]]:
    """Return the real offline bot with its own database and the desk these settings describe; and its backoff waits."""
    _, _, retriever = built
    s = get_settings(data_dir=tmp_path, support_url="https://carat.example/contact", **settings)
    conversations = ConversationStore(f"sqlite:///{tmp_path / 'bot.db'}")
    waits: list[float] = []
    flow = HandoffFlow(s, conversations, TicketStore(conversations.engine), Desk(s, sleep=waits.append))
    bot = SupportBot(s, retriever=retriever, engine=Engine.from_file(s.rules_file), conversations=conversations,
                     handoffs=flow)
    return bot, waits


def with_hook(hook: WebhookReceiver, **more: Any) -> dict[str, Any]:
    return {"handoff_webhook_url": hook.url, "handoff_webhook_secret": HOOK_SECRET, **more}


def tickets(bot: SupportBot) -> TicketStore:
    return bot.handoffs.tickets


# --- webhook ---------------------------------------------------------------------------------

def test_asking_for_a_person_asks_the_address_then_sends_a_signed_ticket(built, tmp_path, hook):
    bot, _ = make_bot(built, tmp_path, **with_hook(hook))
    first = bot.ask("I'm on Premium annual. I want to talk to a human about my account")
    assert first.route == "handoff" and first.handoff and first.handoff.status == "email_needed"
    assert "e-mail address" in first.answer and "Sent to Carat support" not in first.answer
    assert hook.requests == []  # nothing is sent before the customer gives an address
    second = bot.ask(f"Sure, it's {EMAIL}", session_id=first.session_id)
    assert second.handoff and second.handoff.status == "sent" and second.handoff.email == EMAIL
    ref = second.handoff.ref
    assert f"**Sent to Carat support** (reference **{ref}**)" in second.answer and EMAIL in second.answer
    [request] = hook.requests
    # The desk checks the signature with its copy of the secret (recomputed here from the documented scheme).
    stamp, digest = (part.split("=", 1)[1] for part in request.headers["x-carat-signature"].split(","))
    expected = hmac.new(HOOK_SECRET.encode(), f"{stamp}.".encode() + request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(digest, expected)
    assert verify_signature(HOOK_SECRET, request.body, request.headers["x-carat-signature"])
    assert not verify_signature("another-secret", request.body, request.headers["x-carat-signature"])
    assert not verify_signature(HOOK_SECRET, request.body.replace(b"jane", b"joan"), request.headers["x-carat-signature"])
    body = json.loads(request.body)
    assert body["ref"] == ref == request.headers["x-carat-ticket"]
    assert body["email"] == EMAIL and body["consent"] is True and body["reason"] == "human"
    assert body["profile"]["plan"] == "premium" and body["profile"]["billing"] == "annual"  # catalog ids
    assert "talk to a human" in body["transcript"][0]["question"]
    stored = tickets(bot).get(ref)
    assert stored and stored.status == "delivered" and stored.email == EMAIL
    assert [(d.channel, d.ok, d.attempts) for d in stored.deliveries] == [("webhook", True, 1)]
    assert HOOK_SECRET not in json.dumps(body) + second.answer


def test_a_failing_desk_is_retried_with_backoff(built, tmp_path, hook):
    hook.queue = [503, 502]
    bot, waits = make_bot(built, tmp_path, **with_hook(hook, handoff_retries=3, handoff_backoff=0.5))
    first = bot.ask("I want to talk to a human")
    answer = bot.ask(EMAIL, session_id=first.session_id)
    assert answer.handoff and answer.handoff.status == "sent"
    assert len(hook.requests) == 3 and waits == [0.5, 1.0]
    assert len({r.headers["x-carat-ticket"] for r in hook.requests}) == 1  # one ticket, the desk can drop repeats
    stored = tickets(bot).get(answer.handoff.ref)
    assert stored and stored.deliveries[0].attempts == 3 and stored.deliveries[0].detail == "HTTP 200"


def test_a_desk_that_stays_down_is_never_reported_as_sent(built, tmp_path, hook):
    hook.status = 503
    bot, waits = make_bot(built, tmp_path, **with_hook(hook, handoff_retries=2))
    first = bot.ask("I was charged twice and want a refund")
    assert first.handoff and first.handoff.status == "email_needed" and first.handoff.reason == "money"
    answer = bot.ask(EMAIL, session_id=first.session_id)
    assert answer.handoff and answer.handoff.status == "not_sent"
    assert "Sent to Carat support" not in answer.answer and "nothing was sent" in answer.answer
    ref = answer.handoff.ref
    # The way to reach support is stated plainly and linked, with a reference short enough to quote.
    assert f"[carat.example/contact](https://carat.example/contact)" in answer.answer and f"**{ref}**" in answer.answer
    assert len(ref) <= 9 and len(hook.requests) == 3 and waits == [0.5, 1.0]
    stored = tickets(bot).get(ref)
    assert stored and stored.status == "failed" and stored.deliveries[0].detail == "HTTP 503"


def test_a_refusal_by_the_desk_is_not_retried(built, tmp_path, hook):
    hook.status = 401  # the desk rejected the signature: trying again cannot help
    bot, waits = make_bot(built, tmp_path, **with_hook(hook))
    first = bot.ask("talk to a person please")
    answer = bot.ask(EMAIL, session_id=first.session_id)
    assert answer.handoff and answer.handoff.status == "not_sent" and len(hook.requests) == 1 and waits == []


# --- e-mail ----------------------------------------------------------------------------------

def test_tickets_go_by_e_mail_with_the_customer_as_reply_to(built, tmp_path):
    with smtp_receiver() as smtp:
        smtp.refuse = 1  # a 451 the first time: retried
        bot, waits = make_bot(built, tmp_path, smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_security="none",
                              smtp_to="desk@carat.example", smtp_from="Bot <bot@carat.example>")
        first = bot.ask("상담원과 이야기하고 싶어요")
        assert first.language == "ko" and "이메일 주소" in first.answer
        answer = bot.ask(EMAIL, session_id=first.session_id)
    assert answer.handoff and answer.handoff.status == "sent" and "Carat 고객지원에 전달했습니다" in answer.answer
    [message] = smtp.messages
    assert smtp.envelopes == [("bot@carat.example", ["desk@carat.example"])] and waits == [0.5]
    assert message["Reply-To"] == EMAIL and answer.handoff.ref in message["Subject"]
    text = message.get_content()
    assert "상담원과 이야기하고 싶어요" in text and f"Customer e-mail: {EMAIL}" in text


def test_webhook_and_e_mail_together_count_as_sent_when_one_takes_it(built, tmp_path, hook):
    hook.status = 500
    with smtp_receiver() as smtp:
        bot, _ = make_bot(built, tmp_path, **with_hook(hook, handoff_retries=0), smtp_host="127.0.0.1",
                          smtp_port=smtp.port, smtp_security="none", smtp_to="desk@carat.example")
        first = bot.ask("I want a human")
        answer = bot.ask(EMAIL, session_id=first.session_id)
    assert answer.handoff and answer.handoff.status == "sent" and len(smtp.messages) == 1
    stored = tickets(bot).get(answer.handoff.ref)
    assert stored and {(d.channel, d.ok) for d in stored.deliveries} == {("webhook", False), ("email", True)}


# --- no desk ---------------------------------------------------------------------------------

def test_without_a_desk_the_customer_gets_the_contact_path_and_a_reference(built, tmp_path):
    bot, _ = make_bot(built, tmp_path)
    answer = bot.ask("I want to talk to a human")
    assert answer.handoff and answer.handoff.status == "not_sent" and not answer.handoff.desk
    ref = answer.handoff.ref
    assert answer.answer.endswith(f"contact Carat support at [carat.example/contact](https://carat.example/contact) "
                                  f"and quote reference **{ref}** so they can find this conversation.")
    assert "I'll pass" not in answer.answer and "Sent" not in answer.answer
    stored = tickets(bot).get(ref)
    assert stored and stored.status == "not_configured" and stored.email is None


def test_the_handoffs_command_lists_tickets_and_their_delivery(tmp_path):
    from bot.conversation import Conversation
    from bot.desk import Desk

    settings = get_settings(data_dir=tmp_path)
    conversations = ConversationStore(settings.db_url)
    flow = HandoffFlow(settings, conversations, TicketStore(conversations.engine), Desk(settings))
    outcome = flow.file(Conversation("s" * 32), "money", "en", None)
    env = {"DATA_DIR": str(tmp_path)}
    listed = run_cli("handoffs", env=env)
    assert listed.returncode == 0, listed.stderr
    assert outcome.handoff.ref in listed.stdout and "not_configured" in listed.stdout and "money" in listed.stdout
    data = json.loads(run_cli("handoffs", "--json", env=env).stdout)
    assert data[0]["ref"] == outcome.handoff.ref and data[0]["status"] == "not_configured"
    missing = run_cli("handoffs", "CS-XXXXXX", env=env)
    assert missing.returncode == 2 and "no ticket CS-XXXXXX" in missing.stderr


# --- frustration -----------------------------------------------------------------------------

def test_frustration_offers_a_person_and_yes_goes_ahead(built, tmp_path, hook):
    bot, _ = make_bot(built, tmp_path, **with_hook(hook))
    offer = bot.ask("this bot is useless")
    assert offer.handoff and offer.handoff.status == "offered" and offer.handoff.reason == "frustration"
    assert "Talk to a person?" in offer.answer and "I can only help" not in offer.answer
    yes = bot.ask("yes please", session_id=offer.session_id)
    assert yes.handoff and yes.handoff.status == "email_needed"
    sent = bot.ask(EMAIL, session_id=offer.session_id)
    assert sent.handoff and sent.handoff.status == "sent" and sent.handoff.reason == "frustration"


def test_an_offer_lasts_one_turn(built, tmp_path, hook):
    bot, _ = make_bot(built, tmp_path, **with_hook(hook))
    offer = bot.ask("this is useless")
    later = bot.ask("Why are my credits dropping?", session_id=offer.session_id)
    assert later.route == "answer" and later.handoff is None
    assert bot.ask("yes", session_id=offer.session_id).route != "handoff" and hook.requests == []


def test_repeated_unanswered_questions_offer_a_person(built, tmp_path):
    bot, _ = make_bot(built, tmp_path)
    first = bot.ask("What's the weather in Paris?")
    assert first.route == "refuse" and first.handoff is None
    second = bot.ask("Who won the football match yesterday?", session_id=first.session_id)
    assert second.handoff and second.handoff.reason == "failed_answers" and second.handoff.status == "offered"
    assert "Sorry, I couldn't answer that either." in second.answer
    assert "[carat.example/contact](https://carat.example/contact)" in second.answer


def test_a_second_thumbs_down_offers_a_person(built, tmp_path, hook):
    bot, _ = make_bot(built, tmp_path, **with_hook(hook))
    a = bot.ask("Why are my credits dropping?")
    b = bot.ask("How do I get the free video model in Agent 2.0?", session_id=a.session_id)
    assert bot.feedback(a.session_id, a.turn_id, "down", "not what I asked") is None
    offer = bot.feedback(a.session_id, b.turn_id, "down")
    assert offer and offer.handoff.status == "offered" and offer.handoff.reason == "thumbs_down"
    assert offer.text.startswith("Sorry these answers didn't help.")
    sent = bot.ask(EMAIL, session_id=a.session_id)  # the offer asked for the address
    assert sent.handoff and sent.handoff.status == "sent" and sent.handoff.reason == "thumbs_down"
    turns = {t["id"]: t for t in bot.conversations.iter_turns()}
    assert turns[a.turn_id]["comment"] == "not what I asked"


# --- the form --------------------------------------------------------------------------------

def test_the_form_needs_consent_and_a_real_address(built, tmp_path, hook):
    bot, _ = make_bot(built, tmp_path, **with_hook(hook))
    a = bot.ask("Why are my credits dropping?")
    with pytest.raises(InputError, match="consent"):
        bot.handoff(a.session_id, EMAIL, consent=False)
    with pytest.raises(InputError, match="e-mail address is needed"):
        bot.handoff(a.session_id, None, consent=True)
    with pytest.raises(InputError, match="not complete"):
        bot.handoff(a.session_id, "jane@", consent=True)
    with pytest.raises(UnknownConversation):
        bot.handoff("x" * 32, EMAIL, consent=True)
    assert hook.requests == [] and tickets(bot).latest() == []
    outcome = bot.handoff(a.session_id, EMAIL, consent=True)
    assert outcome.handoff.status == "sent" and outcome.handoff.email == EMAIL
    body = json.loads(hook.requests[0].body)
    assert body["transcript"][0]["question"] == "Why are my credits dropping?"


def test_one_conversation_cannot_flood_the_desk(built, tmp_path, hook):
    bot, _ = make_bot(built, tmp_path, **with_hook(hook))
    a = bot.ask("Why are my credits dropping?")
    refs = [bot.handoff(a.session_id, EMAIL, consent=True).handoff.ref for _ in range(5)]
    assert len(set(refs)) == 3 and len(hook.requests) == 3


def test_the_api_passes_a_conversation_on(built, tmp_path, hook):
    from bot.server import build_app

    bot, _ = make_bot(built, tmp_path, **with_hook(hook))
    app = build_app(bot.settings, bot=bot, web=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        chat = client.post("/api/chat", json={"message": "I want to talk to a human"}).json()
        assert chat["handoff"]["status"] == "email_needed" and chat["handoff"]["desk"] is True
        sid = chat["session_id"]
        assert client.post("/api/handoff", json={"session_id": sid, "email": EMAIL}).status_code == 400
        bad = client.post("/api/handoff", json={"session_id": sid, "email": "no-at-sign", "consent": True})
        assert bad.status_code == 400 and "not complete" in bad.json()["error"]["message"]
        unknown = client.post("/api/handoff", json={"session_id": "u" * 32, "email": EMAIL, "consent": True})
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
        assert client.post("/api/handoff", json={"session_id": sid, "email": 5, "consent": True}).status_code == 422
        ok = client.post("/api/handoff", json={"session_id": sid, "email": EMAIL, "consent": True})
        assert ok.status_code == 200 and ok.json()["handoff"]["status"] == "sent"
        assert ok.json()["message"].startswith("**Sent to Carat support**")
        assert HOOK_SECRET not in ok.text + json.dumps(chat)


# --- settings and storage --------------------------------------------------------------------

def test_a_webhook_without_a_signing_secret_is_refused():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="HANDOFF_WEBHOOK_SECRET must be set"):
        get_settings(handoff_webhook_url="https://desk.example/hook")
    with pytest.raises(ValidationError, match="SMTP_TO"):
        get_settings(smtp_host="127.0.0.1")
    with pytest.raises(ValidationError, match="SUPPORT_URL"):
        get_settings(support_url="javascript:alert(1)")


def test_tickets_are_stored_in_postgres_too():
    from bot.tickets import Delivery, Ticket, new_ref
    from datetime import datetime, timezone
    from tests.services import Postgres

    pg = Postgres()
    try:
        pg.start()
        store = TicketStore(ConversationStore(pg.url).engine)
        ticket = store.create(Ticket(ref=new_ref(), session_id="p" * 32, created_at=datetime.now(timezone.utc),
                                     reason="human", language="ko", email=EMAIL, consent=True,
                                     profile={"plan": "Max"}, transcript=[{"question": "상담원", "answer": "네"}]))
        store.record(ticket.ref, "delivered", [Delivery(channel="webhook", ok=True, attempts=2, detail="HTTP 200",
                                                        at=datetime.now(timezone.utc))])
        again = TicketStore(ConversationStore(pg.url).engine).get(ticket.ref)
        assert again and again.status == "delivered" and again.transcript[0]["question"] == "상담원"
        assert again.deliveries[0].attempts == 2 and again.profile == {"plan": "Max"}
    finally:
        pg.close()


def test_app_servers_starting_at_once_on_a_fresh_postgres_all_start():
    """Each server creates the tables it needs; two creating them at the same moment is not an error."""
    import threading

    from tests.services import Postgres

    pg = Postgres()
    errors: list[BaseException] = []
    go = threading.Barrier(6)

    def start_server() -> None:
        try:
            go.wait()
            conversations = ConversationStore(pg.url)
            TicketStore(conversations.engine)
            conversations.engine.dispose()
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    try:
        pg.start()
        for _ in range(3):  # a fresh database each round: the race is only on the first creation
            with ConversationStore(pg.url).engine.begin() as db:
                db.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
            threads = [threading.Thread(target=start_server) for _ in range(6)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            go.reset()
        assert not errors, errors
    finally:
        pg.close()
