"""Two app servers sharing PostgreSQL, Redis and a Chroma server (Debian's packages and chromadb's server,
started here on 127.0.0.1): one conversation across both, one set of limits, no lost turn, faults survived."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bot.conversation import ConversationStore
from tests.services import App, Fleet, race_first_turn, run_fleet, together

SEEDREAM = "Is Seedream 4.0 unlimited for me?"
SESSION_LIMIT, IP_LIMIT = 5, 8


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    with run_fleet(tmp_path_factory.mktemp("fleet"), {"RATE_LIMIT_SESSION": str(SESSION_LIMIT),
                                                      "RATE_LIMIT_IP": str(IP_LIMIT)}) as running:
        yield running


def store_of(fleet: Fleet) -> ConversationStore:
    return ConversationStore(fleet.pg.url)


def chat(app: App, body: dict[str, Any], client_ip: str, path: str = "/api/chat") -> httpx.Response:
    """Post to one server as a customer at client_ip (the proxy in front sets X-Forwarded-For)."""
    return httpx.post(f"{app.url}{path}", json=body, headers={"X-Forwarded-For": client_ip}, timeout=60)


def wait_status(app: App, status: int, state: str | None = None, timeout: float = 60) -> dict[str, Any]:
    """Poll /healthz until it answers with this HTTP status (and this state, if given); return its body."""
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            resp = httpx.get(f"{app.url}/healthz", timeout=10)
            body = resp.json()
            if resp.status_code == status and state in (None, body["status"]):
                return body
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"/healthz did not answer {status} within {timeout} s: {body}")


def test_one_conversation_continues_across_both_servers(fleet: Fleet):
    a, b = fleet.apps
    first = chat(a, {"message": "I'm on Premium annual since 2026-03-01. Is Seedream 4.0 unlimited?"}, "10.0.0.1")
    assert first.status_code == 200 and first.json()["answer"].startswith("**Seedream 4.0: unlimited**")
    sid = first.json()["session_id"]
    second = chat(b, {"message": "what about Flux2 Pro?", "session_id": sid}, "10.0.0.1")
    assert second.status_code == 200 and second.json()["session_id"] == sid
    assert second.json()["route"] == "eligibility"  # B knew the plan A was told
    turns = store_of(fleet).load(sid).turns
    assert [t["id"] for t in turns] == [first.json()["turn_id"], second.json()["turn_id"]]
    feedback = httpx.post(f"{a.url}/api/feedback", json={"session_id": sid, "turn_id": second.json()["turn_id"],
                                                         "rating": "up"}, timeout=30)
    assert feedback.status_code == 200


def test_one_session_limit_and_one_address_limit_across_both_servers(fleet: Fleet):
    a, b = fleet.apps
    sid = chat(a, {"message": SEEDREAM}, "10.0.1.1").json()["session_id"]
    codes = [chat((b, a)[n % 2], {"message": SEEDREAM, "session_id": sid}, "10.0.1.1").status_code
             for n in range(SESSION_LIMIT + 2)]
    assert codes == [200] * SESSION_LIMIT + [429, 429]
    responses = [chat((a, b)[n % 2], {"message": SEEDREAM}, "10.0.1.2") for n in range(IP_LIMIT + 2)]
    assert [r.status_code for r in responses] == [200] * IP_LIMIT + [429, 429]
    assert 1 <= int(responses[-1].headers["retry-after"]) <= 60
    assert chat(b, {"message": SEEDREAM}, "10.0.1.3").status_code == 200  # another customer is still served


def test_no_acknowledged_turn_is_lost_under_concurrent_load(fleet: Fleet):
    acknowledged: list[str] = []
    failures: list[str] = []
    lock = threading.Lock()

    def customer(n: int) -> None:
        sid = None
        for turn in range(4):
            body: dict[str, Any] = {"message": ["Why are my credits dropping?", SEEDREAM][turn % 2]}
            if sid:
                body["session_id"] = sid
            resp = chat(fleet.apps[(n + turn) % 2], body, f"10.0.2.{n}")
            with lock:
                if resp.status_code == 200:
                    acknowledged.append(resp.json()["turn_id"])
                    sid = resp.json()["session_id"]
                else:
                    failures.append(f"{resp.status_code} {resp.text[:200]}")

    threads = [threading.Thread(target=customer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures and len(acknowledged) == 32, (failures[:3], [app.log()[-2500:] for app in fleet.apps])
    stored = {t["id"] for t in store_of(fleet).iter_turns()}
    assert set(acknowledged) <= stored


def test_the_same_new_session_on_two_servers_at_once_never_fails(fleet: Fleet):
    # Clients that choose their own id get a fresh one from each server: nothing to collide on.
    for round_ in range(5):
        results: list[httpx.Response] = []
        body = {"message": SEEDREAM, "session_id": f"chosen-by-client-{round_:03d}"}
        assert not together(*(lambda a=a: results.append(chat(a, body, f"10.0.3.{round_}")) for a in fleet.apps))
        assert [r.status_code for r in results] == [200, 200]
        assert len({r.json()["session_id"] for r in results}) == 2
    # Two servers storing the first turn of one conversation at the same moment (the database race itself).
    stores = [store_of(fleet), store_of(fleet)]
    for round_ in range(20):
        sid = f"first-turn-race-{round_:04d}"
        assert not race_first_turn(stores, sid)
        assert len(stores[0].load(sid).turns) == 2


def test_nul_and_surrogates_are_400_on_postgres_and_nothing_is_lost(fleet: Fleet):
    a = fleet.apps[0]
    before = sum(1 for _ in store_of(fleet).iter_turns())
    for path in ("/api/chat", "/api/chat/stream"):
        for escaped in ("\\u0000", "\\ud800"):
            resp = httpx.post(f"{a.url}{path}", content=('{"message": "credits %s?"}' % escaped).encode(),
                              headers={"content-type": "application/json", "X-Forwarded-For": "10.0.4.1"}, timeout=30)
            assert resp.status_code == 400 and resp.json()["error"]["code"] == "bad_input"
    assert sum(1 for _ in store_of(fleet).iter_turns()) == before


def test_a_crashed_server_loses_nothing_and_the_other_carries_on(fleet: Fleet):
    a, b = fleet.apps
    first = chat(a, {"message": "I'm on Premium annual since 2026-03-01. Is Seedream 4.0 unlimited?"}, "10.0.5.1")
    sid = first.json()["session_id"]
    a.kill()
    try:
        follow = chat(b, {"message": "what about Flux2 Pro?", "session_id": sid}, "10.0.5.1")
        assert follow.status_code == 200 and follow.json()["route"] == "eligibility"
        assert len(store_of(fleet).load(sid).turns) == 2
    finally:
        a.start()


def test_redis_outage_keeps_serving_and_health_says_degraded(fleet: Fleet):
    a, b = fleet.apps
    fleet.redis.stop()
    try:
        body = wait_status(a, 200, "degraded")
        assert body["failed"] == ["rate_limits"]
        assert all(chat(app, {"message": SEEDREAM}, "10.0.6.1").status_code == 200 for app in (a, b))
    finally:
        fleet.redis.start()
    wait_status(a, 200, "ok")
    wait_status(b, 200, "ok")


def test_postgres_restart_is_a_clear_503_then_recovers(fleet: Fleet):
    a, b = fleet.apps
    sid = chat(a, {"message": SEEDREAM}, "10.0.7.1").json()["session_id"]
    fleet.pg.stop()
    try:
        for app in (a, b):
            body = wait_status(app, 503)
            assert body["failed"] == ["database"] and not body["checks"]["database"]["ok"]
        down = chat(b, {"message": SEEDREAM, "session_id": sid}, "10.0.7.2")
        assert down.status_code == 503 and down.json()["error"]["code"] == "unavailable"
        assert "127.0.0.1" not in down.text and "postgres" not in down.text.lower()
    finally:
        fleet.pg.start()
    for app in (a, b):
        wait_status(app, 200, "ok")
    again = chat(b, {"message": "what about Flux2 Pro?", "session_id": sid}, "10.0.7.1")
    assert again.status_code == 200 and again.json()["session_id"] == sid


def test_chroma_outage_is_reported_and_never_a_500(fleet: Fleet):
    a, b = fleet.apps
    fleet.chroma.stop()
    try:
        body = wait_status(a, 503)
        assert body["failed"] == ["index"]
        resp = chat(b, {"message": "Why are my credits dropping?"}, "10.0.8.1")
        assert resp.status_code != 500, resp.text
        if resp.status_code == 503:
            assert resp.json()["error"]["code"] == "search_unavailable"
    finally:
        fleet.chroma.start()
    wait_status(a, 200, "ok")
    wait_status(b, 200, "ok")
    assert chat(b, {"message": "Why are my credits dropping?"}, "10.0.8.2").status_code == 200


def test_the_fleet_logged_no_traceback(fleet: Fleet):
    for app in fleet.apps:
        log = app.log()
        assert "Traceback" not in log and "Exception in ASGI application" not in log, log[-3000:]


def test_docker_compose_describes_the_same_fleet():
    import tomllib

    import yaml

    from bot.settings import ROOT, Settings

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    services = compose["services"]
    apps = {name: s for name, s in services.items() if name.startswith("app")}
    assert len(apps) >= 2 and {"postgres", "redis", "chroma", "index", "proxy"} <= set(services)
    known = {name.upper() for name in Settings.model_fields}
    proxy_ip = services["proxy"]["networks"]["fleet"]["ipv4_address"]
    for name, app in apps.items():
        env = app["environment"]
        assert set(env) <= known, set(env) - known
        assert env["FORWARDED_ALLOW_IPS"] == proxy_ip and env["RATE_LIMIT_STORAGE"].startswith("redis://")
        assert env["DATABASE_URL"].startswith("postgresql+psycopg://") and env["CHROMA_HOST"] == "chroma"
        assert f"{name}:7860" in services["proxy"]["command"]
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(d.startswith("psycopg[binary]") for d in extras["postgres"])
    assert any(d.startswith("redis") for d in extras["redis"])
