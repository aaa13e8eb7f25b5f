"""Structured outputs: validated into a pydantic model, asked again with the error, or left for the ledger."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import BaseModel, Field

from synthfoundry.teachers import make_managed_teacher
from synthfoundry.teachers.base import ChatRequest, Completion, TeacherFailure, complete_all
from synthfoundry.teachers.config import TeacherConfig
from synthfoundry.teachers.local import LocalTeacher
from tests.fakes.provider_server import ProviderServer


class Answer(BaseModel):
    answer: int = Field(ge=0)
    steps: list[str]


REQUEST = ChatRequest(messages=({"role": "user", "content": "What is 6 x 7? Reply in JSON."},), max_tokens=64)


def scripted(*texts: str):
    """A reply function that answers with `texts` in turn (the last one from then on)."""
    queue = list(texts)
    return lambda body: queue.pop(0) if len(queue) > 1 else queue[0]


@pytest.fixture(autouse=True)
def _keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")


def teacher(tmp_path: Path, **settings: object):
    return make_managed_teacher(TeacherConfig(max_retries=0, cache_path=tmp_path / "c.sqlite", **settings))


def test_openai_gets_a_json_schema_and_invalid_answers_are_asked_again(
    server: ProviderServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)  # OpenAI itself (no base_url): json_schema mode
    server.reply = scripted("not json", '{"answer": -1, "steps": []}', '```json\n{"answer": 42, "steps": ["6x7"]}\n```')

    (completion,) = complete_all(teacher(tmp_path, provider="openai"), [REQUEST], output=Answer).results

    assert isinstance(completion, Completion) and completion.parsed == Answer(answer=42, steps=["6x7"])
    first, second, third = (r["body"] for r in server.requests)
    assert first["response_format"]["type"] == "json_schema"
    assert first["response_format"]["json_schema"]["schema"] == Answer.model_json_schema()
    assert second["messages"][-2] == {"role": "assistant", "content": "not json"}
    assert "Invalid JSON" in second["messages"][-1]["content"]
    assert "answer: Input should be greater than or equal to 0" in third["messages"][-1]["content"]
    # the row is billed for all three attempts
    assert completion.completion_tokens == sum(len(t.split()) for t in ("not json", '{"answer": -1, "steps": []}',
                                                                       '```json\n{"answer": 42, "steps": ["6x7"]}\n```'))


def test_compatible_servers_get_json_object_with_the_schema(server: ProviderServer, tmp_path: Path) -> None:
    server.reply = scripted('{"answer": 42, "steps": []}')
    complete_all(teacher(tmp_path, provider="openai", base_url=server.base_url), [REQUEST], output=Answer)

    assert server.requests[0]["body"]["response_format"] == {"type": "json_object", "schema": Answer.model_json_schema()}


def test_anthropic_gets_an_output_format(server: ProviderServer, tmp_path: Path) -> None:
    server.reply = scripted('{"answer": 42, "steps": ["a"]}')
    settings = {"provider": "anthropic", "model": "claude-haiku-4-5", "base_url": server.origin}

    (completion,) = complete_all(teacher(tmp_path, **settings), [REQUEST], output=Answer).results

    assert completion.parsed.answer == 42
    output_format = server.requests[0]["body"]["output_config"]["format"]
    assert output_format["type"] == "json_schema" and output_format["schema"]["properties"]["answer"]


def test_answers_still_invalid_after_n_attempts_go_to_the_ledger(server: ProviderServer, tmp_path: Path) -> None:
    server.reply = scripted('{"answer": "many"}')

    (failure,) = complete_all(
        teacher(tmp_path, provider="openai", base_url=server.base_url), [REQUEST], output=Answer, attempts=2
    ).results

    assert isinstance(failure, TeacherFailure)
    assert failure.reason.startswith("invalid structured output after 2 attempts: answer: Input should be a valid")
    assert server.count == 2


def test_local_model_decodes_to_the_schema() -> None:
    request = ChatRequest(
        messages=({"role": "user", "content": "Give a colour and a number as JSON."},), max_tokens=48, seed=3
    )

    class Pick(BaseModel):
        colour: str
        number: int

    (completion,) = complete_all(LocalTeacher(n_ctx=512), [request], output=Pick).results

    assert isinstance(completion, Completion), completion
    assert isinstance(completion.parsed, Pick)
    assert json.loads(completion.text).keys() == {"colour", "number"}
