"""make_teacher / resolve_api_key: which teacher a config gets, with which key."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import httpx2
import pytest

from synthfoundry.teachers import make_teacher, resolve_api_key
from synthfoundry.teachers.anthropic_teacher import AnthropicTeacher
from synthfoundry.teachers.base import ChatRequest, TeacherError
from synthfoundry.teachers.config import TeacherConfig
from synthfoundry.teachers.local import LocalTeacher
from synthfoundry.teachers.openai_teacher import OpenAITeacher


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "MY_KEY"):
        monkeypatch.delenv(name, raising=False)


def test_auto_prefers_openai(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-o")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-a")

    teacher = make_teacher(TeacherConfig())

    assert isinstance(teacher, OpenAITeacher) and teacher.model == "gpt-4o-mini"
    assert resolve_api_key(TeacherConfig()) == "sk-o"


def test_auto_falls_back_to_anthropic(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-a")

    teacher = make_teacher(TeacherConfig())

    assert isinstance(teacher, AnthropicTeacher) and teacher.model == "claude-haiku-4-5"
    assert resolve_api_key(TeacherConfig()) == "sk-a"


def test_auto_without_keys_is_the_packaged_local_model() -> None:
    teacher = make_teacher(TeacherConfig())

    assert isinstance(teacher, LocalTeacher)
    assert teacher.model == "SmolLM2-135M-Instruct.Q4_1"
    assert resolve_api_key(TeacherConfig()) is None


def test_auto_with_api_key_env_means_openai(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_KEY", "sk-mine")
    config = TeacherConfig(api_key_env="MY_KEY", model="gpt-4.1-nano")

    teacher = make_teacher(config)

    assert isinstance(teacher, OpenAITeacher) and teacher.model == "gpt-4.1-nano"
    assert resolve_api_key(config) == "sk-mine"


def test_api_key_env_for_an_explicit_provider() -> None:
    config = TeacherConfig(provider="anthropic", api_key_env="MY_KEY")

    assert resolve_api_key(config, environ={"MY_KEY": "sk-mine", "ANTHROPIC_API_KEY": "sk-a"}) == "sk-mine"
    assert resolve_api_key(config, environ={"ANTHROPIC_API_KEY": "sk-a"}) is None


def test_given_key_wins_and_selects_openai_under_auto() -> None:
    teacher = make_teacher(TeacherConfig(), api_key="sk-from-secret-block")

    assert isinstance(teacher, OpenAITeacher)


@pytest.mark.parametrize(("provider", "variable"), [("openai", "OPENAI_API_KEY"), ("anthropic", "ANTHROPIC_API_KEY")])
def test_explicit_provider_without_key_says_what_to_set(provider: str, variable: str) -> None:
    with pytest.raises(TeacherError, match=rf"set {variable} \(or teacher\.api_key_env\)"):
        make_teacher(TeacherConfig(provider=provider))


def test_missing_custom_key_names_that_variable() -> None:
    with pytest.raises(TeacherError, match="set MY_KEY"):
        make_teacher(TeacherConfig(provider="openai", api_key_env="MY_KEY"))


def test_remote_base_url_still_needs_a_key() -> None:
    with pytest.raises(TeacherError, match="OPENAI_API_KEY"):
        make_teacher(TeacherConfig(provider="openai", base_url="https://llm.example.com/v1"))


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]"])
def test_loopback_server_runs_keyless(host: str) -> None:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        message = {"role": "assistant", "content": "hi"}
        return httpx2.Response(
            200,
            json={
                "id": "1",
                "object": "chat.completion",
                "created": 0,
                "model": "smol",
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            },
        )

    config = TeacherConfig(model="smol", base_url=f"http://{host}:8080/v1")
    teacher = make_teacher(config, http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler)))
    asyncio.run(teacher.complete(ChatRequest(messages=({"role": "user", "content": "hi"},))))

    assert isinstance(teacher, OpenAITeacher)
    assert teacher.params() == {"provider": "openai", "model": "smol", "base_url": f"http://{host}:8080/v1"}
    (request,) = seen
    assert str(request.url) == f"http://{host}:8080/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer not-needed"
    assert json.loads(request.content)["model"] == "smol"


def test_heavy_libraries_load_only_when_used() -> None:
    code = (
        "import sys\n"
        "import synthfoundry.teachers.base\n"
        "heavy = {'openai', 'anthropic', 'llama_cpp', 'pydantic'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
        "from synthfoundry.teachers.config import TeacherConfig\n"
        "from synthfoundry.teachers import make_teacher\n"
        "make_teacher(TeacherConfig(provider='local'))\n"
        "assert 'llama_cpp' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
