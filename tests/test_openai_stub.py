"""The local OpenAI stub speaks the wire format the real openai and LangChain clients expect."""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from langchain_core.messages import AIMessageChunk, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

from tests.openai_stub import OpenAIStub, delay, error, fake_embedding, prompt_tokens, text, tool_call, tool_calls


@tool
def lookup_plan(plan: str, region: str = "KR") -> str:
    """Look up a usage plan by name."""
    return f"{plan}@{region}"


@pytest.fixture()
def stub() -> Iterator[OpenAIStub]:
    """Yield a running stub with an empty script."""
    with OpenAIStub() as running:
        yield running


def raw_client(stub: OpenAIStub, **kwargs: Any) -> openai.OpenAI:
    """Return an openai client pointed at the stub."""
    return openai.OpenAI(base_url=stub.base_url, api_key="test", **{"max_retries": 0, **kwargs})


def chat_model(stub: OpenAIStub, **kwargs: Any) -> ChatOpenAI:
    """Return a ChatOpenAI pointed at the stub."""
    return ChatOpenAI(base_url=stub.base_url, api_key="test", model="gpt-4o-mini", **{"max_retries": 0, **kwargs})


def test_raw_text_with_usage(stub: OpenAIStub) -> None:
    stub.add(text("Hello there"))
    reply = raw_client(stub).chat.completions.create(model="gpt-4o-mini",
                                                     messages=[{"role": "user", "content": "Hi, how are you?"}])
    assert reply.choices[0].message.content == "Hello there"
    assert reply.choices[0].message.role == "assistant"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None and reply.usage.prompt_tokens == prompt_tokens(stub.last) == 4
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
    assert stub.calls == 1 and stub.last["messages"][0]["content"] == "Hi, how are you?"


def test_raw_tool_call(stub: OpenAIStub) -> None:
    stub.add(tool_call("lookup_plan", {"plan": "Unlimited"}, call_id="call_1"))
    reply = raw_client(stub).chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
    call = reply.choices[0].message.tool_calls[0]
    assert reply.choices[0].finish_reason == "tool_calls"
    assert (call.id, call.function.name, json.loads(call.function.arguments)) == ("call_1", "lookup_plan",
                                                                                   {"plan": "Unlimited"})


def test_raw_streaming_text_in_several_deltas_with_usage(stub: OpenAIStub) -> None:
    stub.add(text("Streaming works in small pieces."))
    chunks = list(raw_client(stub).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "go"}], stream=True,
        stream_options={"include_usage": True}))
    deltas = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(deltas) > 3 and "".join(deltas) == "Streaming works in small pieces."
    assert all(c.object == "chat.completion.chunk" and c.id == chunks[0].id for c in chunks)
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.prompt_tokens == prompt_tokens(stub.last)


def test_langchain_invoke_tool_call_then_text(stub: OpenAIStub) -> None:
    stub.add(tool_call("lookup_plan", {"plan": "Unlimited", "region": "US"}), text("It covers calls."))
    model = chat_model(stub).bind_tools([lookup_plan])
    question = HumanMessage("What does Unlimited cover?")
    first = model.invoke([question])
    assert len(first.tool_calls) == 1
    call = first.tool_calls[0]
    assert call["name"] == "lookup_plan" and call["args"] == {"plan": "Unlimited", "region": "US"}
    assert call["id"].startswith("call_")
    result = ToolMessage(lookup_plan.invoke(call["args"]), tool_call_id=call["id"])
    second = model.invoke([question, first, result])
    assert second.content == "It covers calls." and second.tool_calls == []
    assert stub.calls == 2
    schema = stub.requests[0]["tools"][0]["function"]
    assert schema["name"] == "lookup_plan" and set(schema["parameters"]["properties"]) == {"plan", "region"}
    sent = stub.requests[1]["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool"]
    assert sent[1]["tool_calls"][0]["id"] == call["id"] and sent[2]["tool_call_id"] == call["id"]
    assert sent[2]["content"] == "Unlimited@US"


def test_langchain_stream_accumulates_several_tool_calls(stub: OpenAIStub) -> None:
    stub.add(tool_calls([tool_call("lookup_plan", {"plan": "Unlimited"}, "call_a"),
                         ("lookup_plan", {"plan": "Basic", "region": "JP"}, "call_b")]))
    chunks = list(chat_model(stub).bind_tools([lookup_plan]).stream("Compare plans"))
    assert len(chunks) > 3
    total: AIMessageChunk = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    assert [(c["id"], c["name"], c["args"]) for c in total.tool_calls] == [
        ("call_a", "lookup_plan", {"plan": "Unlimited"}),
        ("call_b", "lookup_plan", {"plan": "Basic", "region": "JP"})]
    assert stub.last["stream"] is True


def test_langchain_stream_text_and_usage(stub: OpenAIStub) -> None:
    stub.add("A streamed answer from the stub.")
    chunks = list(chat_model(stub, stream_usage=True).stream("hello"))
    assert sum(1 for c in chunks if c.content) > 3
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    assert total.content == "A streamed answer from the stub."
    assert total.usage_metadata["input_tokens"] == prompt_tokens(stub.last)
    assert stub.last["stream_options"] == {"include_usage": True}


def test_rate_limit_raises_with_retry_after(stub: OpenAIStub) -> None:
    stub.add(error(429, "slow down", retry_after=7))
    with pytest.raises(openai.RateLimitError) as caught:
        raw_client(stub).chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
    assert caught.value.status_code == 429 and caught.value.response.headers["retry-after"] == "7"
    assert caught.value.body["message"] == "slow down" and caught.value.code == "rate_limit_exceeded"
    assert stub.calls == 1


def test_rate_limit_then_success_is_retried(stub: OpenAIStub) -> None:
    stub.add(error(429, retry_after=0.05), text("after retry"))
    assert chat_model(stub, max_retries=1).invoke("x").content == "after retry"
    assert stub.calls == 2


def test_server_error_and_langchain_error_type(stub: OpenAIStub) -> None:
    stub.add(error(503), error(500, {"error": {"message": "custom", "type": "server_error", "code": None}}))
    with pytest.raises(openai.InternalServerError) as first:
        chat_model(stub).invoke("x")
    assert first.value.status_code == 503
    with pytest.raises(openai.InternalServerError, match="custom"):
        chat_model(stub).invoke("x")


def test_delay_triggers_client_timeout(stub: OpenAIStub) -> None:
    stub.add(delay(5, then=text("too late")), text("on time"))
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        chat_model(stub, timeout=0.3).invoke("x")
    assert time.monotonic() - started < 3
    assert chat_model(stub, timeout=2).invoke("x").content == "on time"


def test_responder_answers_by_last_message() -> None:
    def responder(request: dict[str, Any]) -> Any:
        last = request["messages"][-1]
        if last["role"] == "tool":
            return text(f"Result: {last['content']}")
        return tool_call("lookup_plan", {"plan": last["content"]})

    with OpenAIStub(responder=responder) as stub:
        model = chat_model(stub).bind_tools([lookup_plan])
        first = model.invoke([HumanMessage("Basic")])
        call = first.tool_calls[0]
        reply = model.invoke([HumanMessage("Basic"), first, ToolMessage("ok", tool_call_id=call["id"])])
    assert call["args"] == {"plan": "Basic"} and reply.content == "Result: ok"


def test_empty_script_uses_default_and_models_list() -> None:
    with OpenAIStub(default="fallback") as stub:
        client = raw_client(stub)
        reply = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
        assert reply.choices[0].message.content == "fallback" and reply.model == "m"
        assert [m.id for m in client.models.list()] == ["gpt-4o-mini"]


def test_embeddings_are_deterministic(stub: OpenAIStub) -> None:
    client = raw_client(stub)
    packed = client.embeddings.create(model="text-embedding-3-small", input=["alpha", "beta"])
    floats = client.embeddings.create(model="text-embedding-3-small", input="alpha", encoding_format="float")
    assert len(packed.data) == 2 and len(packed.data[0].embedding) == 8
    assert packed.data[0].embedding == pytest.approx(floats.data[0].embedding, abs=1e-6)
    assert packed.data[0].embedding != pytest.approx(packed.data[1].embedding)
    assert floats.data[0].embedding == pytest.approx(fake_embedding("alpha"))
    sized = client.embeddings.create(model="e", input="alpha", dimensions=16, encoding_format="float")
    assert len(sized.data[0].embedding) == 16
    assert len(stub.embedding_requests) == 3 and stub.calls == 0
