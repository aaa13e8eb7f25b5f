"""AnthropicTeacher through the real anthropic SDK, against a mock transport that speaks the Messages API."""

from __future__ import annotations

import asyncio
import json
import logging

import httpx2
import pytest

from synthfoundry.teachers.anthropic_teacher import AnthropicTeacher
from synthfoundry.teachers.base import ChatRequest, TeacherError, TeacherFailure, complete_all
from tests.fakes.mock_transport import Scripted

KEY = "sk-ant-test-SECRET123"
REQUEST = ChatRequest(
    messages=(
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Say hello."},
    ),
    temperature=0.2,
    top_p=0.9,
    max_tokens=32,
    seed=7,
    stop=("\n\nHuman:",),
)


def message(*content: dict, stop_reason: str = "end_turn") -> dict:
    return {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-haiku-4-5-20251001",
        "content": list(content) or [{"type": "text", "text": "Hello!"}],
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": 14, "output_tokens": 4},
    }


def error_body(kind: str, text: str) -> dict:
    return {"type": "error", "error": {"type": kind, "message": text}}


def teacher_for(api: Scripted, max_retries: int = 2) -> AnthropicTeacher:
    return AnthropicTeacher(model="claude-haiku-4-5", api_key=KEY, max_retries=max_retries, http_client=api.client())


def test_request_and_completion_on_the_wire() -> None:
    api = Scripted(httpx2.Response(200, json=message(stop_reason="max_tokens")))

    completion = asyncio.run(teacher_for(api).complete(REQUEST))

    (request,) = api.requests
    assert request.method == "POST" and request.url.path == "/v1/messages"
    assert request.headers["authorization"] == f"Bearer {KEY}"  # anthropic 2.x sends the key as a bearer token
    body = json.loads(request.content)
    assert body["model"] == "claude-haiku-4-5"
    assert body["system"] == "Be brief."
    assert body["messages"] == [{"role": "user", "content": "Say hello."}]
    assert body["max_tokens"] == 32
    assert body["stop_sequences"] == ["\n\nHuman:"]
    # API version 2026-10-21 answers 400 to any sampling parameter; seed never existed.
    assert not {"temperature", "top_p", "top_k", "seed"} & set(body)
    assert completion.text == "Hello!"
    assert completion.model == "claude-haiku-4-5-20251001"
    assert (completion.prompt_tokens, completion.completion_tokens) == (14, 4)
    assert completion.finish_reason == "length"
    assert completion.reasoning is None


def test_no_system_or_stop_sent_when_absent() -> None:
    api = Scripted(httpx2.Response(200, json=message()))

    request = ChatRequest(messages=({"role": "user", "content": "hi"},), top_p=0.9)
    completion = asyncio.run(teacher_for(api).complete(request))

    body = json.loads(api.requests[0].content)
    assert "system" not in body and "stop_sequences" not in body and "top_p" not in body
    assert completion.finish_reason == "stop"


def test_thinking_blocks_become_reasoning() -> None:
    api = Scripted(
        httpx2.Response(
            200,
            json=message(
                {"type": "thinking", "thinking": "6 times 7", "signature": "c2lnbmF0dXJl"},
                {"type": "text", "text": "The answer"},
                {"type": "text", "text": " is 42."},
            ),
        )
    )

    completion = asyncio.run(teacher_for(api).complete(REQUEST))

    assert (completion.text, completion.reasoning) == ("The answer is 42.", "6 times 7")


def test_429_is_retried_by_the_sdk() -> None:
    api = Scripted(
        httpx2.Response(429, headers={"retry-after-ms": "1"}, json=error_body("rate_limit_error", "slow")),
        httpx2.Response(200, json=message()),
    )

    outcome = complete_all(teacher_for(api, max_retries=1), [REQUEST])

    assert len(api.requests) == 2
    assert outcome.failures == 0 and outcome.results[0].text == "Hello!"


def test_401_raises_teacher_error_without_the_key(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    api = Scripted(httpx2.Response(401, json=error_body("authentication_error", f"invalid x-api-key {KEY}")))

    with pytest.raises(TeacherError) as caught:
        complete_all(teacher_for(api), [REQUEST])

    message_ = str(caught.value)
    assert "anthropic" in message_ and "claude-haiku-4-5" in message_ and "401" in message_
    assert KEY not in message_
    assert KEY not in caplog.text
    assert len(api.requests) == 1  # not retried


def test_500_after_retries_becomes_a_failure_row() -> None:
    api = Scripted(httpx2.Response(500, headers={"retry-after-ms": "1"}, json=error_body("api_error", "internal")))

    outcome = complete_all(teacher_for(api, max_retries=1), [REQUEST])

    assert len(api.requests) == 2
    (failure,) = outcome.results
    assert isinstance(failure, TeacherFailure) and "InternalServerError" in failure.reason


TOOLS = json.dumps([{"type": "function", "function": {"name": "add", "description": "Add.", "parameters": {
    "type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}}}])


def test_tools_and_a_trajectory_in_the_messages_api_form() -> None:
    """OpenAI-form tools and turns go out as `tools` with `input_schema`, `tool_use` and one user turn of
    `tool_result` blocks; `tool_use` blocks come back as tool calls with JSON arguments."""
    api = Scripted(httpx2.Response(200, json=message({"type": "text", "text": "Adding."}, {
        "type": "tool_use", "id": "toolu_9", "name": "add", "input": {"a": 2}}, stop_reason="tool_use")))
    call = {"id": "call_1", "type": "function", "function": {"name": "add", "arguments": '{"a": 1}'}}
    request = ChatRequest(messages=(
        {"role": "system", "content": "Use tools."}, {"role": "user", "content": "1 and 2?"},
        {"role": "assistant", "content": None, "tool_calls": [call, {**call, "id": "call_2"}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "1"},
        {"role": "tool", "tool_call_id": "call_2", "content": "1"},
    ), max_tokens=64, tools=TOOLS)

    completion = asyncio.run(teacher_for(api).complete(request))

    body = json.loads(api.requests[0].content)
    assert body["tools"] == [{"name": "add", "description": "Add.", "input_schema": json.loads(TOOLS)[0]["function"][
        "parameters"]}]
    assert body["messages"][1:] == [
        {"role": "assistant", "content": [{"type": "tool_use", "id": "call_1", "name": "add", "input": {"a": 1}},
                                          {"type": "tool_use", "id": "call_2", "name": "add", "input": {"a": 1}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_1", "content": "1"},
                                     {"type": "tool_result", "tool_use_id": "call_2", "content": "1"}]},
    ]
    assert completion.text == "Adding." and completion.finish_reason == "tool_calls"
    assert completion.tool_calls == ({"id": "toolu_9", "name": "add", "arguments": '{"a": 2}'},)
