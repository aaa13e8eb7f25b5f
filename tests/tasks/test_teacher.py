"""Keys reach the provider and nothing else: not logs, not artifacts, not the published files."""

import logging
from pathlib import Path

import pytest
import yaml

from flows.generate import generate_dataset
from synthfoundry.teachers.base import ChatRequest, complete_all
from synthfoundry.teachers.config import TeacherConfig
from tasks.teacher import teacher_from_config

pytestmark = pytest.mark.usefixtures("prefect_harness")

SECRET = "sk-test-DO-NOT-LEAK-8f3a1c"


def test_key_from_a_prefect_secret_block_is_sent_to_the_provider(fake_openai):
    from prefect.blocks.system import Secret

    Secret(value=SECRET).save("teacher-key", overwrite=True)
    config = TeacherConfig(provider="openai", model="m", base_url=fake_openai.base_url, api_key_secret="teacher-key")
    teacher = teacher_from_config(config)
    outcome = complete_all(teacher, [ChatRequest(messages=({"role": "user", "content": "Say hi."},))])
    assert outcome.failures == 0
    assert fake_openai.requests[-1]["auth"] == f"Bearer {SECRET}"
    assert SECRET not in repr(teacher.params())


def test_key_never_reaches_logs_artifacts_or_published_files(tmp_path, fake_openai, monkeypatch, caplog):
    monkeypatch.setenv("SYNTH_TEST_KEY", SECRET)
    config = {
        "dataset": "secrets",
        "seed": 4,
        "recipe": {"name": "self_instruct", "target_instructions": 3, "prompts_per_round": 2, "max_rounds": 4},
        "teacher": {"provider": "openai", "model": "m", "base_url": fake_openai.base_url, "api_key_env": "SYNTH_TEST_KEY"},
        "publish": {"root": str(tmp_path / "out")},
    }
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    with caplog.at_level(logging.DEBUG):
        generate_dataset(config_path=str(path))

    assert all(r["auth"] == f"Bearer {SECRET}" for r in fake_openai.requests)
    assert SECRET not in caplog.text
    published = [p for p in Path(tmp_path / "out").rglob("*") if p.is_file()]
    assert any(p.name == "manifest.json" for p in published)
    for file in published:
        assert SECRET.encode() not in file.read_bytes(), file

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:  # this run's artifacts (the session's API holds every test's)
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(like_="secrets-")))
    assert any(a.key == "secrets-dataset-card" for a in artifacts)
    assert all(SECRET not in str(a.data) for a in artifacts)
