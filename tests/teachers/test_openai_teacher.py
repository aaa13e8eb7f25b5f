"""OpenAITeacher through the real openai SDK, against a mock transport that speaks chat.completions."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx2
import pytest

from synthfoundry.teachers.base import ChatRequest, TeacherError, TeacherFailure, complete_all
from synthfoundry.teachers.openai_teacher import OpenAITeacher
from tests.fakes.mock_transport import Scripted

KEY = "sk-test-SECRET123"
REQUEST = ChatRequest(
    messages=({"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello."}),
    temperature=0.2,
    top_p=0.9,
    max_tokens=32,
    seed=7,
    stop=("\n\n",),
)


def chat_completion(content: str | None = "Hello!", finish_reason: str = "stop", **message: object) -> dict:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, **message},
                "finish_reason": finish_reason,
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 21, "completion_tokens": 3, "total_tokens": 24},
    }


def error_body(status: int, message: str) -> dict:
    return {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": str(status)}}


def teacher_for(api: Scripted, max_retries: int = 2) -> OpenAITeacher:
    return OpenAITeacher(model="gpt-4o-mini", api_key=KEY, max_retries=max_retries, http_client=api.client())


def test_request_and_completion_on_the_wire() -> None:
    api = Scripted(httpx2.Response(200, json=chat_completion(finish_reason="length")))

    completion = asyncio.run(teacher_for(api).complete(REQUEST))

    (request,) = api.requests
    assert request.method == "POST" and request.url.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    body = json.loads(request.content)
    assert body["model"] == "gpt-4o-mini"
    assert body["messages"] == list(REQUEST.messages)
    assert (body["temperature"], body["top_p"], body["max_tokens"], body["seed"]) == (0.2, 0.9, 32, 7)
    assert body["stop"] == ["\n\n"]
    assert completion.text == "Hello!"
    assert completion.model == "gpt-4o-mini-2024-07-18"
    assert (completion.prompt_tokens, completion.completion_tokens) == (21, 3)
    assert completion.finish_reason == "length"
    assert completion.reasoning is None


def test_unset_seed_and_stop_are_not_sent() -> None:
    api = Scripted(httpx2.Response(200, json=chat_completion()))

    asyncio.run(teacher_for(api).complete(ChatRequest(messages=({"role": "user", "content": "hi"},))))

    body = json.loads(api.requests[0].content)
    assert "seed" not in body and "stop" not in body


def test_429_is_retried_by_the_sdk() -> None:
    api = Scripted(
        httpx2.Response(429, headers={"retry-after-ms": "1"}, json=error_body(429, "Rate limit reached")),
        httpx2.Response(200, json=chat_completion()),
    )

    outcome = complete_all(teacher_for(api, max_retries=1), [REQUEST])

    assert len(api.requests) == 2
    assert outcome.failures == 0 and outcome.results[0].text == "Hello!"


def test_401_raises_teacher_error_without_the_key(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    api = Scripted(httpx2.Response(401, json=error_body(401, f"Incorrect API key provided: {KEY}.")))

    with pytest.raises(TeacherError) as caught:
        complete_all(teacher_for(api), [REQUEST])

    message = str(caught.value)
    assert "openai" in message and "gpt-4o-mini" in message and "401" in message
    assert KEY not in message
    assert KEY not in caplog.text
    assert len(api.requests) == 1  # not retried


def test_404_unknown_model_is_fatal() -> None:
    api = Scripted(httpx2.Response(404, json=error_body(404, "The model `gpt-4o-mini` does not exist")))

    with pytest.raises(TeacherError, match="does not exist"):
        complete_all(teacher_for(api), [REQUEST])


def test_500_after_retries_becomes_a_failure_row() -> None:
    api = Scripted(httpx2.Response(500, headers={"retry-after-ms": "1"}, json=error_body(500, "server had an error")))

    outcome = complete_all(teacher_for(api, max_retries=1), [REQUEST])

    assert len(api.requests) == 2
    (failure,) = outcome.results
    assert isinstance(failure, TeacherFailure) and "InternalServerError" in failure.reason


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_reasoning_field_from_the_server(field: str) -> None:
    api = Scripted(httpx2.Response(200, json=chat_completion("42", **{field: "6 times 7"})))

    completion = asyncio.run(teacher_for(api).complete(REQUEST))

    assert (completion.text, completion.reasoning) == ("42", "6 times 7")


def test_reasoning_from_a_leading_think_block() -> None:
    api = Scripted(httpx2.Response(200, json=chat_completion("<think>\n6 times 7\n</think>\n\n42")))

    completion = asyncio.run(teacher_for(api).complete(REQUEST))

    assert (completion.text, completion.reasoning) == ("42", "6 times 7")


def test_params_name_the_endpoint_not_the_key() -> None:
    teacher = OpenAITeacher(model="m", api_key=KEY, base_url="http://127.0.0.1:8080/v1")

    assert teacher.params() == {"provider": "openai", "model": "m", "base_url": "http://127.0.0.1:8080/v1"}


class _KeepAliveChatServer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the SDK pools the connection, which is what can go stale

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        body = json.dumps(chat_completion()).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def loopback_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _KeepAliveChatServer)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()
    server.server_close()


def test_one_teacher_serves_many_batches_and_threads(loopback_url: str) -> None:
    """Each complete_all runs its own event loop; pooled connections from a closed loop must not be reused."""
    teacher = OpenAITeacher(model="m", api_key=KEY, base_url=loopback_url, max_retries=0)
    batch = [REQUEST] * 4
    outcomes = [complete_all(teacher, batch) for _ in range(2)]
    threads = [threading.Thread(target=lambda: outcomes.append(complete_all(teacher, batch))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(outcomes) == 4
    assert [outcome.failures for outcome in outcomes] == [0, 0, 0, 0]
