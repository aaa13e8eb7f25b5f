import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


@pytest.fixture(scope="session")
def prefect_harness():
    """One throwaway Prefect API (its own database) for every flow test."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def fake_openai():
    """A loopback OpenAI-compatible teacher that writes Self-Instruct tasks and short answers."""
    from tests.fakes.provider_server import ProviderServer
    from tests.fakes.replies import self_instruct_reply

    with ProviderServer(reply=self_instruct_reply) as server:
        yield server
