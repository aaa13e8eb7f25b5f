"""Distillation tasks on real Prefect: the forecast, and a global concurrency limit shared by every worker."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from synthfoundry.teachers.base import TeacherError
from synthfoundry.teachers.config import TeacherConfig
from tasks.distillation import distill_batch, forecast_distillation
from tests.fakes.provider_server import ProviderServer
from tests.test_distill import candidates

pytestmark = pytest.mark.usefixtures("prefect_harness")


def teacher(server: ProviderServer, tmp_path: Path, **settings: object) -> TeacherConfig:
    return TeacherConfig(
        provider="openai", model="gpt-4o-mini", base_url=server.base_url, cache_path=tmp_path / "c.sqlite", **settings
    )


def test_forecast_leaves_out_what_the_cache_answers(tmp_path: Path) -> None:
    with ProviderServer() as server:
        config = teacher(server, tmp_path, max_tokens=100, expected_output_tokens=40)
        before = forecast_distillation(candidates(4), config)
        distill_batch(candidates(2), config)
        after = forecast_distillation(candidates(4), config)

    assert before["requests"] == after["requests"] == 4
    assert (before["cached"], after["cached"]) == (0, 2)
    assert 0 < after["usd"] == pytest.approx(before["usd"] / 2)


def test_global_rate_limit_paces_requests(tmp_path: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate

    with get_client(sync_client=True) as client:
        client.create_global_concurrency_limit(
            GlobalConcurrencyLimitCreate(name="teacher-rpm", limit=4, slot_decay_per_second=4.0)
        )
    with ProviderServer() as server:
        started = time.monotonic()
        result = distill_batch(candidates(12), teacher(server, tmp_path, global_rate_limit="teacher-rpm"))
        elapsed = time.monotonic() - started

    assert result.kept.height == server.count == 12
    assert elapsed >= 1.5  # 4 at once, then 4 a second


def test_unknown_global_rate_limit_is_a_clear_error(tmp_path: Path) -> None:
    with ProviderServer() as server:
        with pytest.raises(TeacherError, match="prefect gcl create no-such-limit"):
            distill_batch.with_options(retries=0)(candidates(1), teacher(server, tmp_path, global_rate_limit="no-such-limit"))
        assert server.count == 0
