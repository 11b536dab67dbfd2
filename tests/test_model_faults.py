"""Fault table: whatever a model server does wrong, the customer gets the correct offline answer (`degraded`)."""
from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from langchain_core.messages import AIMessageChunk, HumanMessage
from pydantic import SecretStr

from bot.answer.model_call import Limits, ModelCall, ModelFailure
from bot.api import create_app
from bot.service import SupportBot, make_bot
from bot.types import Answer, Profile
from tests import openai_faults as faults
from tests.openai_stub import OpenAIStub, Response, delay, text, tool_call, tool_calls

TODAY = date(2026, 11, 24)
TOOL = "check_unlimited_eligibility"
PREMIUM = Profile(plan="Premium", billing="annual", signup_date=date(2026, 3, 1))
QUESTION = "Is Seedream 4.0 unlimited?"
GOOD_CALL = {"model": "Seedream 4.0"}


def again(response: Callable[[], Response]) -> Callable[[dict[str, Any]], Response]:
    """Return a responder giving the same misbehaviour to every request."""
    return lambda _request: response()


# id -> (script, responder for every later request, chat-model requests expected or None for "at least one")
FAULTS: dict[str, tuple[list[Response], Callable[[dict[str, Any]], Response] | None, int | None]] = {
    "html-200": ([faults.html_page()], None, 1),
    "wrong-json-200": ([faults.wrong_json()], None, 1),
    "wrong-json-events": ([faults.wrong_json_events()], None, 1),
    "broken-sse": ([faults.broken_sse()], None, 1),
    "binary": ([faults.binary_body()], None, 1),
    "nul-bytes": ([faults.nul_bytes()], None, 1),
    "nul-in-text": ([faults.nul_text()], None, 1),
    "false-gzip": ([faults.bad_gzip()], None, 1),
    "empty-stream": ([faults.empty_stream()], None, 1),
    "empty-text": ([text("")], None, 1),
    "blank-text": ([text(" \n\t ")], None, 1),
    "endless-text": ([faults.endless_text()], None, 1),
    "endless-empty-chunks": ([faults.endless_empty_chunks()], None, 1),
    "stall-mid-stream": ([faults.stall_mid_stream()], None, 1),
    "stall-before-answer": ([delay(120)], None, 1),
    "huge-tool-args-in-tiny-chunks": ([tool_call(TOOL, {"model": "Seedream 4.0", "plan": "x" * 100_000})], None, 1),
    "many-tool-calls": ([tool_calls([(TOOL, GOOD_CALL)] * 50)], None, 1),
    "endless-tool-calls": ([], again(lambda: tool_call(TOOL, GOOD_CALL)), 3),
    "tool-args-not-json": ([tool_call(TOOL, '{"model": "Seedream 4.0", ')], None, 1),
    "tool-args-not-object": ([tool_call(TOOL, '["Seedream 4.0"]')], None, 1),
    "unknown-tool": ([tool_call("grant_unlimited", {"model": "Seedream 4.0"})], None, 1),
    "html-after-tool-call": ([tool_call(TOOL, GOOD_CALL), faults.html_page()], None, 2),
    "stall-after-tool-call": ([tool_call(TOOL, GOOD_CALL), faults.stall_mid_stream()], None, 2),
    "endless-text-after-tool-call": ([tool_call(TOOL, GOOD_CALL), faults.endless_text()], None, 2),
}


def _bot(built, tmp_path, base_url: str, **extra: Any) -> SupportBot:
    settings, _, _ = built
    # A short timeout so stalls end soon; the stub answers at once otherwise, and stalls last 120 s.
    s = settings.model_copy(update={"openai_base_url": base_url, "openai_api_key": SecretStr("sk-test"),
                                    "database_url": f"sqlite:///{tmp_path / 'faults.db'}", "llm_retries": 0,
                                    "llm_timeout": 5.0, **extra})
    return make_bot(s, today=lambda: TODAY)


def _assert_correct_degraded(a: Answer) -> None:
    assert a.mode == "degraded", a
    assert a.route == "eligibility" and a.tool_calls and a.tool_calls[0].result["verdict"] == "unlimited"
    assert "Seedream 4.0: unlimited" in a.answer


@pytest.mark.parametrize("fault", FAULTS)
def test_fault_degrades_to_the_correct_answer(built, tmp_path, fault: str) -> None:
    script, responder, expected_calls = FAULTS[fault]
    with OpenAIStub(*script, responder=responder) as stub:
        a = _bot(built, tmp_path, stub.base_url).ask(QUESTION, profile=PREMIUM)
        _assert_correct_degraded(a)
        assert stub.calls == expected_calls


@pytest.mark.parametrize("fault", FAULTS)
def test_fault_degrades_when_streamed(built, tmp_path, fault: str) -> None:
    script, responder, expected_calls = FAULTS[fault]
    with OpenAIStub(*script, responder=responder) as stub:
        events = list(_bot(built, tmp_path, stub.base_url).stream(QUESTION, profile=PREMIUM))
        assert [e.type for e in events].count("final") == 1 and events[-1].type == "final"
        assert "error" not in [e.type for e in events]
        _assert_correct_degraded(events[-1].answer)
        # The offline answer is streamed whole, after whatever the broken server sent before failing.
        assert events[-2].type == "token" and events[-2].text == events[-1].answer.answer
        assert stub.calls == expected_calls


@pytest.mark.parametrize("fault", ["html-200", "broken-sse", "nul-bytes", "endless-tool-calls"])
def test_api_answers_200_degraded_not_500(built, tmp_path, fault: str) -> None:
    script, responder, _ = FAULTS[fault]
    with OpenAIStub(*script, *script, responder=responder) as stub:
        bot = _bot(built, tmp_path, stub.base_url)
        with TestClient(create_app(bot.settings, bot=bot), raise_server_exceptions=False) as client:
            body = {"message": QUESTION, "profile": PREMIUM.model_dump(mode="json")}
            resp = client.post("/api/chat", json=body)
            assert resp.status_code == 200, resp.text
            assert resp.json()["mode"] == "degraded" and "Seedream 4.0: unlimited" in resp.json()["answer"]
            streamed = client.post("/api/chat/stream", json=body)
            assert streamed.status_code == 200 and "event: error" not in streamed.text
            final = json.loads(streamed.text.split("event: final\ndata: ", 1)[1])
            assert final["mode"] == "degraded" and "Seedream 4.0: unlimited" in final["answer"]


class _ScriptedChunks:
    """A chat model double that streams prepared chunks (no HTTP), to measure accumulation alone."""

    def __init__(self, chunks: list[AIMessageChunk]) -> None:
        self.chunks = chunks

    def stream(self, _messages: Any) -> Any:
        yield from self.chunks


def test_huge_arguments_in_tiny_chunks_are_joined_once() -> None:
    # 100 KB of arguments in 4-character pieces: quadratic accumulation would take minutes, linear a moment.
    args = '{"model": "Seedream 4.0", "note": "' + "x" * 100_000 + '"}'
    pieces = [args[i:i + 4] for i in range(0, len(args), 4)]
    chunks = [AIMessageChunk(content="", tool_call_chunks=[{"name": TOOL if i == 0 else None, "args": p,
                                                            "id": "call_1" if i == 0 else None, "index": 0}])
              for i, p in enumerate(pieces)]
    roomy = Limits(max_tokens=len(pieces), max_tool_args_chars=len(args))
    call = ModelCall(_ScriptedChunks(chunks), [HumanMessage("hi")], roomy)
    assert list(call) == []
    assert call.message.tool_calls[0]["args"]["note"] == "x" * 100_000
    with pytest.raises(ModelFailure, match="arguments longer than 2000"):
        list(ModelCall(_ScriptedChunks(chunks), [HumanMessage("hi")], Limits()))


def test_text_deltas_usage_and_calls_are_assembled() -> None:
    chunks = [AIMessageChunk(content="Seedream "), AIMessageChunk(content="4.0 is unlimited."),
              AIMessageChunk(content="", tool_call_chunks=[{"name": TOOL, "args": '{"model":', "id": "c1", "index": 0}]),
              AIMessageChunk(content="", tool_call_chunks=[{"name": None, "args": ' "Kling"}', "id": None, "index": 0}]),
              AIMessageChunk(content="", usage_metadata={"input_tokens": 120, "output_tokens": 9, "total_tokens": 129})]
    call = ModelCall(_ScriptedChunks(chunks), [HumanMessage("hi")], Limits(), tools=frozenset({TOOL}))
    assert list(call) == ["Seedream ", "4.0 is unlimited."]
    assert call.message.content == "Seedream 4.0 is unlimited."
    assert call.message.tool_calls == [{"name": TOOL, "args": {"model": "Kling"}, "id": "c1", "type": "tool_call"}]
    assert call.message.usage_metadata["input_tokens"] == 120 and call.message.usage_metadata["output_tokens"] == 9


def test_any_exception_from_the_model_is_one_failure_type() -> None:
    class Exploding:
        def stream(self, _messages: Any) -> Any:
            yield AIMessageChunk(content="Seedream")
            raise KeyError("choices")

    call = ModelCall(Exploding(), [HumanMessage("hi")], Limits())
    with pytest.raises(ModelFailure, match="KeyError"):
        list(call)
    with pytest.raises(RuntimeError):
        _ = call.message


def test_max_tokens_is_sent_to_the_server(built, tmp_path) -> None:
    with OpenAIStub(text("Chatting with the AI agent still uses credits [1].")) as stub:
        _bot(built, tmp_path, stub.base_url, llm_max_tokens=321).ask("why are my credits going down?")
        assert stub.last.get("max_completion_tokens", stub.last.get("max_tokens")) == 321
