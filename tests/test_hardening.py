"""Faults and hostile input against the app in process: routes, Gradio internals, inputs, identity, health."""
from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.conversation import ConversationStore
from bot.server import build_app
from bot.service import MAX_MESSAGE_CHARS, SupportBot, make_bot
from bot.settings import ROOT, get_settings
from bot.widget import sign_profile
from tests.browser_helpers import free_port
from tests.services import race_first_turn

SEEDREAM = "Is Seedream 4.0 unlimited for me?"
SECRET = "whsec-hardening-DO-NOT-LEAK-1b2c"
PLUS = {"plan": "Plus", "billing": "annual", "signup_date": "2026-03-01"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hardening-var")


@pytest.fixture(scope="module")
def bot(data_dir: Path) -> SupportBot:
    """The real bot in offline mode, index built once for the module."""
    return make_bot(get_settings(data_dir=data_dir), ensure_index=True)


def client_for(bot: Any, data_dir: Path, web: bool = False, **overrides: Any) -> TestClient:
    """Return a test client of the whole app, built with these settings around the shared bot."""
    return TestClient(build_app(get_settings(data_dir=data_dir, **overrides), bot=bot, web=web),
                      raise_server_exceptions=False)


@pytest.fixture(scope="module")
def client(bot: SupportBot, data_dir: Path) -> Iterator[TestClient]:
    with client_for(bot, data_dir, web=True, rate_limit_ip=0, rate_limit_session=0) as c:
        yield c


def assert_error(resp: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """Check one error response: the status, the JSON shape, no stack trace."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    err = resp.json()["error"]
    assert err["message"] and "Traceback" not in resp.text
    if code:
        assert err["code"] == code, err
    return err


def stored_turns(bot: SupportBot) -> int:
    return sum(1 for _ in bot.conversations.iter_turns())


def raw_json(client: TestClient, path: str, text: str) -> Any:
    """POST a JSON body written by hand (so escapes like \\ud800 and \\u0000 reach the server as sent)."""
    return client.post(path, content=text.encode(), headers={"content-type": "application/json"})


# --- only what the product uses is reachable ------------------------------------------------

@pytest.mark.parametrize("method, path, allowed", [
    ("GET", "/api/chat", "POST"), ("PUT", "/api/chat/stream", "POST"), ("GET", "/api/feedback", "POST"),
    ("DELETE", "/api/chat", "POST"), ("POST", "/healthz", "GET"), ("POST", "/widget.js", "GET"), ("PATCH", "/api/feedback", "POST"),
])
def test_wrong_methods_are_json_405_with_allow(client, method, path, allowed):
    resp = client.request(method, path)
    assert_error(resp, 405, "method_not_allowed")
    assert resp.headers["allow"] == allowed


@pytest.mark.parametrize("method, path", [
    ("GET", "/api/nothing-here"), ("POST", "/api/chat/extra"), ("POST", "/api/"), ("GET", "/api/../api/x"),
    ("POST", "/api/admin"),
])
def test_unknown_api_paths_are_json_404(client, method, path):
    assert_error(client.request(method, path), 404, "not_found")


@pytest.mark.parametrize("method, path", [
    ("POST", "/gradio_api/upload"), ("GET", "/gradio_api/upload_progress"), ("GET", "/gradio_api/file=/etc/passwd"),
    ("GET", "/file=/etc/passwd"), ("POST", "/gradio_api/run/predict"), ("POST", "/gradio_api/call/respond"),
    ("POST", "/gradio_api/api/respond"), ("GET", "/gradio_api/info"), ("GET", "/gradio_api/openapi.json"),
    ("GET", "/monitoring"), ("POST", "/gradio_api/reset"), ("GET", "/gradio_api/proxy=http://example.com/"),
    ("POST", "/login"), ("GET", "/gradio_api/startup-events"), ("POST", "/gradio_api/vibe-edit"),
])
def test_gradio_routes_the_page_does_not_use_are_404(client, method, path):
    kwargs = {"files": {"files": ("a.txt", b"hello")}} if path.endswith("upload") else {}
    assert_error(client.request(method, path, **kwargs), 404, "not_found")


def test_the_page_and_its_assets_still_load(client):
    page = client.get("/")
    assert page.status_code == 200 and "Carat support" in page.text
    assets = re.findall(r'(?:src|href)="\.?(/(?:assets|static)/[^"]+)"', page.text)
    assert assets and all(client.get(a).status_code == 200 for a in assets[:5])
    assert client.get("/theme.css").status_code == 200 and client.get("/config").status_code == 200


def _page_fns(client: TestClient) -> dict[str, int]:
    """Return the page's server-side events: trigger name -> fn_index, from the page's own config."""
    deps = client.get("/config").json()["dependencies"]
    return {t[1]: d["id"] for d in deps if d.get("backend_fn") for t in d["targets"]}


def _join(client: TestClient, body: Any) -> Any:
    return raw_json(client, "/gradio_api/queue/join", body if isinstance(body, str) else json.dumps(body))


def test_gradio_queue_refuses_what_the_page_would_not_send(client, caplog):
    fns = _page_fns(client)
    send, like = fns["submit"], fns["like"]
    ok_data = ["Why are my credits dropping?", [], None, "Not set", "Not set", ""]
    caplog.set_level(logging.INFO)
    bad = [
        {"data": [], "fn_index": 999, "session_hash": "abcdef12"},
        {"data": [], "session_hash": "abcdef12"},
        {"data": ok_data, "fn_index": str(send), "session_hash": "abcdef12"},
        {"data": ok_data[:1], "fn_index": send, "session_hash": "abcdef12"},
        {"data": ["hi", "not a list", None, "Not set", "Not set", ""], "fn_index": send, "session_hash": "abcdef12"},
        {"data": ["hi", [], None, "Gold", "Not set", ""], "fn_index": send, "session_hash": "abcdef12"},
        {"data": ["hi", [], None, "Not set", "Not set", "x" * 11], "fn_index": send, "session_hash": "abcdef12"},
        {"data": ["x" * (MAX_MESSAGE_CHARS + 1), [], None, "Not set", "Not set", ""], "fn_index": send,
         "session_hash": "abcdef12"},
        {"data": ok_data, "fn_index": send, "session_hash": "../../etc"},
        {"data": ok_data, "fn_index": send},
        {"data": [None], "fn_index": like, "session_hash": "abcdef12"},
        {"data": [None], "fn_index": like, "session_hash": "abcdef12", "event_data": {"index": "0", "value": 1}},
        [1, 2, 3],
    ]
    for body in bad:
        assert_error(_join(client, body), 400, "bad_request")
    surrogate = '{"data": ["\\ud800", [], null, "Not set", "Not set", ""], "fn_index": %d, "session_hash": "abcdef12"}'
    assert_error(_join(client, surrogate % send), 400, "bad_request")
    assert_error(_join(client, "{not json"), 400, "bad_request")
    assert_error(client.get("/gradio_api/queue/data", params={"session_hash": "neverjoined1"}), 400)
    assert_error(client.get("/gradio_api/queue/data"), 400)
    assert_error(client.get("/gradio_api/heartbeat/..%2F..%2Fetc"), 404)
    assert_error(raw_json(client, "/gradio_api/cancel", '{"fn_index": 999, "session_hash": "abcdef12"}'), 400)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


def test_a_message_sent_through_the_page_queue_is_answered(client):
    send = _page_fns(client)["submit"]
    joined = _join(client, {"data": ["Why are my credits dropping?", [], None, "Not set", "Not set", ""],
                            "fn_index": send, "session_hash": "pagetest1", "trigger_id": 1})
    assert joined.status_code == 200 and joined.json()["event_id"]
    with client.stream("GET", "/gradio_api/queue/data", params={"session_hash": "pagetest1"}) as resp:
        done = next(json.loads(line[6:]) for line in resp.iter_lines()
                    if line.startswith("data:") and "process_completed" in line)
    history = done["output"]["data"][0]
    assert done["success"] and history[-1]["role"] == "assistant" and "credit" in json.dumps(history[-1]).lower()


def test_oversized_bodies_and_headers_are_refused_before_any_route(client):
    def chunked(total: int) -> Iterator[bytes]:
        for _ in range(total // 65536):
            yield b"x" * 65536

    too_big = client.post("/gradio_api/queue/join", content=chunked(2 * 1024 * 1024),
                          headers={"content-type": "application/json"})
    assert_error(too_big, 413, "too_large")
    assert_error(client.post("/api/chat", content=chunked(256 * 1024), headers={"content-type": "application/json"}),
                 413, "too_large")
    assert_error(client.get("/healthz", headers={"x-filler": "a" * 20_000}), 431, "headers_too_large")
    assert_error(client.post("/api/chat", content=b"{}", headers={"content-type": "application/json",
                                                                  "content-length": "-1"}), 413)


# --- inputs ---------------------------------------------------------------------------------

def test_one_message_limit_in_the_api_the_page_the_widget_and_the_readme(client):
    words = "Why are my credits dropping so fast every day? "
    longest = (words * (MAX_MESSAGE_CHARS // len(words) + 1))[:MAX_MESSAGE_CHARS].strip()
    longest = longest + "x" * (MAX_MESSAGE_CHARS - len(longest))
    assert len(longest) == MAX_MESSAGE_CHARS
    assert client.post("/api/chat", json={"message": longest}).status_code == 200  # retrieval takes it too
    for path in ("/api/chat", "/api/chat/stream"):
        err = assert_error(client.post(path, json={"message": longest + "?"}), 413, "too_large")
        assert f"limit is {MAX_MESSAGE_CHARS}" in err["message"]
    box = [c for c in client.get("/config").json()["components"] if c["props"].get("elem_id") == "message"]
    assert box[0]["props"]["max_length"] == MAX_MESSAGE_CHARS
    assert f'\\"maxChars\\": {MAX_MESSAGE_CHARS}' in client.get("/widget.js").text
    schema = client.get("/openapi.json").json()["components"]["schemas"]["ChatRequest"]
    assert str(MAX_MESSAGE_CHARS) in schema["properties"]["message"]["description"]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"{MAX_MESSAGE_CHARS:,} characters" in readme and "4,000" not in readme


@pytest.mark.parametrize("body", [
    {"message": "hello", "profile": {"plan": "Gold"}},
    {"message": "Why are my credits dropping?", "profile": {"billing": "weekly"}},
    {"message": "hello", "profile": {"signup_date": "2026-02-30"}},
])
def test_a_profile_the_rules_do_not_know_is_400_whatever_the_message(client, bot, body):
    before = stored_turns(bot)
    assert_error(client.post("/api/chat", json=body), 400, "bad_input")
    assert stored_turns(bot) == before


@pytest.mark.parametrize("escaped", ["\\u0000", "\\ud800", "\\udfff", "\\u001b[31m", "\\u0008", "\\u007f"])
@pytest.mark.parametrize("path", ["/api/chat", "/api/chat/stream"])
def test_control_characters_and_lone_surrogates_are_400_and_store_nothing(client, bot, escaped, path):
    before = stored_turns(bot)
    resp = raw_json(client, path, '{"message": "Why are my credits dropping? %s"}' % escaped)
    err = assert_error(resp, 400, "bad_input")
    assert "not allowed" in err["message"]
    assert stored_turns(bot) == before


def test_a_feedback_comment_with_a_nul_is_400_not_stored(client, bot):
    answer = client.post("/api/chat", json={"message": SEEDREAM}).json()
    body = '{"session_id": "%s", "turn_id": "%s", "rating": "down", "comment": "bad\\u0000answer"}'
    assert_error(raw_json(client, "/api/feedback", body % (answer["session_id"], answer["turn_id"])), 400, "bad_input")
    stored = [t for t in bot.conversations.iter_turns() if t["id"] == answer["turn_id"]][0]
    assert stored["rating"] is None and stored["comment"] is None


def test_session_ids_are_issued_by_the_server(client, bot):
    chosen = "my-own-session-0001"
    resp = client.post("/api/chat", json={"message": SEEDREAM, "session_id": chosen})
    issued = resp.json()["session_id"]
    assert resp.status_code == 200 and issued != chosen and len(issued) >= 32
    assert not bot.conversations.exists(chosen) and bot.conversations.exists(issued)
    follow = client.post("/api/chat", json={"message": "what about Flux2 Pro?", "session_id": issued})
    assert follow.json()["session_id"] == issued
    for bad in (issued + "\n", issued + " ", "short", "x" * 65, "a/b/c/d/e/f", "é" * 10):
        assert_error(client.post("/api/chat", json={"message": SEEDREAM, "session_id": bad}), 400, "bad_input")


def test_rejected_session_ids_are_never_counted_or_kept(bot, data_dir):
    with client_for(bot, data_dir, rate_limit_ip=5000, rate_limit_session=20) as c:
        limiter = c.app.state.limiter
        for n in range(300):
            huge = f"{n:06d}" + "x" * 60_000
            assert c.post("/api/chat", json={"message": SEEDREAM, "session_id": huge}).status_code in (400, 413)
        assert c.post("/api/chat", json={"message": SEEDREAM, "session_id": "never-issued-123"}).status_code == 200
        keys = list(limiter.storage.events)
    # One bucket for the address; none for 300 bad ids or for an id the server never issued.
    assert len(keys) == 1 and "/ip/" in keys[0] and all(len(k) < 200 for k in keys)


def test_two_servers_storing_one_first_turn_at_once_both_succeed(tmp_path):
    url = f"sqlite:///{tmp_path / 'race.db'}"
    stores = [ConversationStore(url), ConversationStore(url)]
    for round_ in range(10):
        sid = f"race-session-{round_:04d}"
        assert not race_first_turn(stores, sid)
        assert len(stores[0].load(sid).turns) == 2


# --- identity -------------------------------------------------------------------------------

def test_a_signed_profile_is_never_overridden_by_the_message(bot, data_dir):
    with client_for(bot, data_dir, widget_secret=SECRET) as c:
        first = c.post("/api/chat", json={"message": SEEDREAM, "profile": PLUS,
                                          "profile_sig": sign_profile(SECRET, PLUS)})
        assert first.headers["x-profile"] == "accepted"
        assert first.json()["answer"].startswith("**Seedream 4.0: uses credits**")
        sid = first.json()["session_id"]
        claim = c.post("/api/chat", json={"message": "Actually I'm on Pro now. Is Seedream 4.0 unlimited for me?",
                                          "session_id": sid}).json()
        assert "**Seedream 4.0: uses credits**" in claim["answer"] and "unlimited**" not in claim["answer"]
        assert "**Plus**" in claim["answer"] and "can't change it" in claim["answer"]
        assert claim["tool_calls"][0]["args"]["plan"].lower() == "plus"
        unsigned = c.post("/api/chat/stream", json={"message": "I'm on Pro annual. Is Seedream 4.0 unlimited?",
                                                    "session_id": sid, "profile": {"plan": "Pro"}})
        assert unsigned.headers["x-profile"] == "ignored"
        events = [json.loads(line[6:]) for line in unsigned.text.splitlines() if line.startswith("data: ")]
        assert "**Plus**" in events[0]["text"]  # the plan used, said first
        assert "**Seedream 4.0: uses credits**" in events[-1]["answer"]
        # The host site signing a new plan does change it.
        pro = {**PLUS, "plan": "Pro"}
        changed = c.post("/api/chat", json={"message": SEEDREAM, "session_id": sid, "profile": pro,
                                            "profile_sig": sign_profile(SECRET, pro)}).json()
        assert changed["answer"].startswith("**Seedream 4.0: unlimited**")


def test_without_a_secret_no_profile_is_locked(bot, data_dir):
    with client_for(bot, data_dir) as c:
        first = c.post("/api/chat", json={"message": SEEDREAM, "profile": PLUS}).json()
        claim = c.post("/api/chat", json={"message": "Actually I'm on Pro now. Is Seedream 4.0 unlimited for me?",
                                          "session_id": first["session_id"]}).json()
    assert "can't change it" not in claim["answer"]
    assert claim["tool_calls"][0]["args"]["plan"].lower() == "pro"


# --- health and degradation ------------------------------------------------------------------

def test_healthz_reports_a_full_disk(bot, data_dir):
    with client_for(bot, data_dir, min_free_disk_mb=10**9) as c:
        resp = c.get("/healthz")
    body = resp.json()
    assert resp.status_code == 503 and body["status"] == "unavailable" and body["failed"] == ["disk"]
    assert "MB free" in body["checks"]["disk"]["detail"] and body["checks"]["database"]["ok"]


def test_without_an_index_health_says_so_and_chat_is_not_a_500(tmp_path):
    empty = make_bot(get_settings(data_dir=tmp_path / "var"))
    with client_for(empty, tmp_path / "var") as c:
        health = c.get("/healthz")
        chat = c.post("/api/chat", json={"message": "Why are my credits dropping?"})
    assert health.status_code == 503 and health.json()["failed"] == ["index"]
    assert "python -m bot index" in health.json()["checks"]["index"]["detail"]
    assert chat.status_code != 500, chat.text
    if chat.status_code == 503:
        assert_error(chat, 503, "search_unavailable")


def test_a_failing_search_index_is_a_clear_503(tmp_path, data_dir, monkeypatch, caplog):
    from chromadb.errors import InternalError

    broken = make_bot(get_settings(data_dir=data_dir))

    def search(*args: Any, **kwargs: Any) -> Any:
        raise InternalError("Error finding id")

    monkeypatch.setattr(broken.retriever, "search", search)
    with client_for(broken, data_dir) as c:
        plain = c.post("/api/chat", json={"message": "Why are my credits dropping?"})
        stream = c.post("/api/chat/stream", json={"message": "Why are my credits dropping?"})
    for resp in (plain, stream):
        err = assert_error(resp, 503, "search_unavailable")
        assert "Search is unavailable" in err["message"] and "Error finding id" not in resp.text
    assert not [r for r in caplog.records if r.exc_info]


def test_a_database_outage_is_a_503_and_health_names_it(bot, data_dir, monkeypatch):
    from sqlalchemy import create_engine

    store = ConversationStore(f"sqlite:///{data_dir / 'outage.db'}")
    down = make_bot(get_settings(data_dir=data_dir))
    down.conversations = store
    # Nothing listens on this port: every query fails as with a database that is down.
    monkeypatch.setattr(store, "engine", create_engine(f"postgresql+psycopg://u@127.0.0.1:{free_port()}/x"))
    with client_for(down, data_dir) as c:
        health = c.get("/healthz")
        chat = c.post("/api/chat", json={"message": SEEDREAM})
    assert health.status_code == 503 and health.json()["failed"] == ["database"]
    err = assert_error(chat, 503, "unavailable")
    assert "127.0.0.1" not in err["message"]


def test_a_rate_limit_store_outage_degrades_to_per_server_limits(bot, data_dir, caplog):
    with client_for(bot, data_dir, rate_limit_storage=f"redis://127.0.0.1:{free_port()}/0", rate_limit_ip=2) as c:
        health = c.get("/healthz")
        codes = [c.post("/api/chat", json={"message": SEEDREAM}).status_code for _ in range(3)]
    assert health.status_code == 200 and health.json()["status"] == "degraded"
    assert health.json()["failed"] == ["rate_limits"]
    assert codes == [200, 200, 429]
    assert any("counting per server" in r.getMessage() for r in caplog.records)
