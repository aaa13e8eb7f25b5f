"""Teacher tests never see the developer's provider settings; the end-to-end ones talk to the loopback fake."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.provider_server import ProviderServer


@pytest.fixture(autouse=True)
def fake_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """The API key, in FAKE_KEY (for `api_key_env`), that no log, error or file may show."""
    for name in ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    key = "sk-test-NEVER-LOG-ME-42"
    monkeypatch.setenv("FAKE_KEY", key)
    return key


@pytest.fixture
def server() -> Iterator[ProviderServer]:
    with ProviderServer() as running:
        yield running
