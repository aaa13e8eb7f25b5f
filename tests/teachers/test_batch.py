"""Batch mode end to end: the real openai / anthropic SDKs' batch APIs against the loopback fake provider."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest

from synthfoundry.config import ConfigError, parse_config
from synthfoundry.distill import distill
from synthfoundry.teachers import make_managed_teacher
from synthfoundry.teachers.base import (
    BUDGET_EXHAUSTED,
    ChatRequest,
    Completion,
    TeacherError,
    TeacherFailure,
    complete_all,
    complete_many,
)
from synthfoundry.teachers.config import TeacherConfig
from synthfoundry.teachers.limits import Budget
from synthfoundry.teachers.pricing import DEFAULT_PRICES
from tests.fakes.batch_api import FakeBatches
from tests.fakes.provider_server import ProviderServer
from tests.test_distill import candidates

ANTHROPIC_LIFECYCLE = ("in_progress", "in_progress", "ended")


def config(server: ProviderServer, tmp_path: Path, provider: str = "openai", **overrides: object) -> TeacherConfig:
    endpoint = (
        {"model": "gpt-4o-mini", "base_url": server.base_url}
        if provider == "openai"
        else {"model": "claude-haiku-4-5", "base_url": server.origin}
    )
    settings: dict = {
        "provider": provider,
        **endpoint,
        "api_key_env": "FAKE_KEY",
        "max_retries": 1,
        "timeout_s": 5,
        "cache_path": tmp_path / "cache.sqlite",
        "mode": "batch",
        "batch_poll_s": 0.01,
        **overrides,
    }
    return TeacherConfig(**settings)


def requests(count: int, **options: object) -> list[ChatRequest]:
    return [ChatRequest(messages=({"role": "user", "content": f"Question {i}?"},), **options) for i in range(count)]


def asks(body: dict, *questions: int) -> bool:
    return any(f"Question {i}?" in json.dumps(body) for i in questions)


def test_openai_batch_answers_each_row_with_its_own_answer(server: ProviderServer, tmp_path: Path) -> None:
    fake = FakeBatches(server)
    asked = requests(6)
    asked.append(asked[2])  # a repeated request is asked once and answers both rows
    results = complete_all(make_managed_teacher(config(server, tmp_path)), asked).results

    # The same requests online (another cache): the fake answers each body deterministically.
    online = complete_all(make_managed_teacher(config(server, tmp_path / "online", mode="online")), asked).results
    assert [r.text for r in results] == [r.text for r in online]
    assert all(isinstance(r, Completion) and r.provider == "openai" and not r.cached for r in results)
    assert len(fake.batches) == 1 and len(fake.batches[0].items) == 6
    assert len(server.paths("/v1/chat/completions")) == 6  # only the online run's, the repeat waiting for its twin
    line = json.loads(fake.files[fake.batches[0].input_file_id].splitlines()[0])
    assert line["method"] == "POST" and line["url"] == "/v1/chat/completions"
    assert line["body"]["messages"] == [{"role": "user", "content": "Question 0?"}]


def test_openai_partial_errors_resubmit_only_the_failed_items(server: ProviderServer, tmp_path: Path) -> None:
    fake = FakeBatches(server, fate=lambda body, n: "error" if n == 1 and asks(body, 2, 5) else "ok")
    results = complete_all(make_managed_teacher(config(server, tmp_path)), requests(8)).results

    assert all(isinstance(r, Completion) for r in results)
    first, second = fake.batches
    assert len(first.items) == 8 and len(second.items) == 2
    assert all(asks(body, 2, 5) for body in second.items.values())


def test_openai_expired_items_are_retried_then_ledgered(server: ProviderServer, tmp_path: Path) -> None:
    fake = FakeBatches(
        server,
        lifecycles=[("validating", "in_progress", "expired")],
        fate=lambda body, n: "expired" if asks(body, 1) or (asks(body, 3) and n == 1) else "ok",
    )
    results = complete_all(make_managed_teacher(config(server, tmp_path, batch_attempts=3)), requests(5)).results

    assert results[1] == TeacherFailure("batch item expired after 3 attempts")
    assert all(isinstance(r, Completion) for i, r in enumerate(results) if i != 1)
    assert [len(b.items) for b in fake.batches] == [5, 2, 1]  # the expired ones alone, until attempts run out


def test_openai_failed_batch_is_resubmitted_whole(server: ProviderServer, tmp_path: Path) -> None:
    fake = FakeBatches(server, lifecycles=[("validating", "failed"), ("validating", "in_progress", "completed")])
    results = complete_all(make_managed_teacher(config(server, tmp_path)), requests(4)).results

    assert all(isinstance(r, Completion) for r in results)
    assert fake.submitted()[0] == fake.submitted()[1]


def test_openai_failed_batch_twice_names_the_reason(server: ProviderServer, tmp_path: Path) -> None:
    FakeBatches(server, lifecycles=[("validating", "failed")])
    results = complete_all(make_managed_teacher(config(server, tmp_path)), requests(2)).results

    assert results == [TeacherFailure("batch item failed: injected validation failure after 2 attempts")] * 2


def test_anthropic_message_batch_maps_succeeded_errored_and_expired(server: ProviderServer, tmp_path: Path) -> None:
    def fate(body: dict, submission: int) -> str:
        if asks(body, 1) and submission == 1:
            return "error"
        return "expired" if asks(body, 2) else "ok"

    fake = FakeBatches(server, lifecycles=[ANTHROPIC_LIFECYCLE], fate=fate)
    results = complete_all(make_managed_teacher(config(server, tmp_path, "anthropic")), requests(5)).results

    assert results[2] == TeacherFailure("batch item expired after 2 attempts")
    answered = [r for i, r in enumerate(results) if i != 2]
    assert all(isinstance(r, Completion) and r.provider == "anthropic" and r.finish_reason == "stop" for r in answered)
    assert [len(b.items) for b in fake.batches] == [5, 2]
    assert all(asks(body, 1, 2) for body in fake.batches[1].items.values())
    assert fake.batches[0].items[next(iter(fake.batches[0].items))]["model"] == "claude-haiku-4-5"


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_crash_mid_batch_reattaches_without_paying_twice(
    server: ProviderServer, tmp_path: Path, provider: str
) -> None:
    lifecycle = ANTHROPIC_LIFECYCLE if provider == "anthropic" else ("validating", "in_progress", "completed")
    fake = FakeBatches(server, lifecycles=[lifecycle])
    fake.hold = True  # the batch stays in flight

    async def crash_while_waiting() -> None:
        teacher = make_managed_teacher(config(server, tmp_path, provider))
        await asyncio.wait_for(complete_many(teacher, requests(6)), timeout=1)

    with pytest.raises(TimeoutError):
        asyncio.run(crash_while_waiting())
    assert len(fake.batches) == 1
    # A new process (or a Prefect task retry) asking the same: nothing submitted, the batch is followed to its end.
    fake.hold = False
    results = complete_all(make_managed_teacher(config(server, tmp_path, provider)), requests(6)).results
    assert all(isinstance(r, Completion) for r in results)
    assert len(fake.batches) == 1
    creates = "/v1/batches" if provider == "openai" else "/v1/messages/batches"
    assert len(server.paths(creates)) == 1


def test_a_crash_before_resubmitting_resumes_the_attempts(server: ProviderServer, tmp_path: Path) -> None:
    """Killed after a batch ended but before its failed items went out again: the re-run resubmits only those."""
    fake = FakeBatches(server, fate=lambda body, n: "error" if n == 1 and asks(body, 0) else "ok")
    teacher = make_managed_teacher(config(server, tmp_path))
    api = teacher.batch.api  # type: ignore[union-attr]
    submit = api.submit_batch

    async def die_on_resubmission(bodies: dict) -> str:
        if fake.batches:
            raise RuntimeError("killed")
        return await submit(bodies)

    api.submit_batch = die_on_resubmission  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="killed"):
        complete_all(teacher, requests(3))

    results = complete_all(make_managed_teacher(config(server, tmp_path)), requests(3)).results
    assert all(isinstance(r, Completion) for r in results)
    assert [len(b.items) for b in fake.batches] == [3, 1]


def test_warm_cache_submits_nothing(server: ProviderServer, tmp_path: Path) -> None:
    FakeBatches(server)
    first = complete_all(make_managed_teacher(config(server, tmp_path)), requests(5)).results
    sent = server.count

    again = complete_all(make_managed_teacher(config(server, tmp_path)), requests(5)).results
    assert server.count == sent  # not a single HTTP request
    assert all(r.cached for r in again) and [r.text for r in again] == [r.text for r in first]
    # Online mode reads the same cache: batch answers are ordinary cache entries.
    complete_all(make_managed_teacher(config(server, tmp_path, mode="online")), requests(5))
    assert server.count == sent


def test_cost_and_forecast_at_the_batch_discount(server: ProviderServer, tmp_path: Path) -> None:
    FakeBatches(server)
    settings = config(server, tmp_path, prices={"gpt-4o-mini": {"input": 2.0, "output": 4.0}})
    budget = Budget()
    teacher = make_managed_teacher(settings, budget=budget)
    online = make_managed_teacher(config(server, tmp_path, mode="online", prices=settings.prices))
    asked = requests(4, max_tokens=100)
    assert teacher.forecast(asked).usd == pytest.approx(online.forecast(asked).usd / 2)

    results = complete_all(teacher, asked).results
    for r in results:
        assert r.cost_usd == pytest.approx((r.prompt_tokens * 1.0 + r.completion_tokens * 2.0) / 1e6)
    summary = budget.summary()
    assert summary["spent_usd"] == pytest.approx(sum(r.cost_usd for r in results), abs=1e-6)
    assert summary["requests"]["sent"] == 4 and summary["requests"]["failed"] == 0


def test_budget_is_reserved_before_submitting(server: ProviderServer, tmp_path: Path) -> None:
    fake = FakeBatches(server)
    # $2 / $2 per million, halved: each request reserves (estimate + 100 tokens) at $1 per million.
    prices = {"gpt-4o-mini": {"input": 2.0, "output": 2.0}}
    budget = Budget(0.0005)
    teacher = make_managed_teacher(config(server, tmp_path, prices=prices, budget_usd=0.0005), budget=budget)
    results = complete_all(teacher, requests(10, max_tokens=100)).results

    answered = [r for r in results if isinstance(r, Completion)]
    assert 0 < len(answered) < 10
    assert {r.reason for r in results if isinstance(r, TeacherFailure)} == {BUDGET_EXHAUSTED}
    assert len(fake.batches) == 1 and len(fake.batches[0].items) == len(answered)
    assert budget.summary()["spent_usd"] <= 0.0005


def test_keys_stay_out_of_logs_uploads_and_persisted_state(
    server: ProviderServer, tmp_path: Path, caplog: pytest.LogCaptureFixture, fake_key: str
) -> None:
    caplog.set_level(logging.DEBUG)
    fake = FakeBatches(server, fate=lambda body, n: "error" if asks(body, 1) else "ok")
    fake.hold = True

    async def stop_in_flight() -> None:
        await asyncio.wait_for(complete_many(make_managed_teacher(config(server, tmp_path)), requests(3)), 0.5)

    with pytest.raises(TimeoutError):
        asyncio.run(stop_in_flight())
    state = b"".join(p.read_bytes() for p in tmp_path.glob("cache.sqlite*"))
    assert fake.batches[0].id.encode() in state  # the batch in flight is persisted ...
    assert fake_key.encode() not in state  # ... and nothing secret with it
    fake.hold = False
    complete_all(make_managed_teacher(config(server, tmp_path)), requests(3))

    assert all(r["auth"] == f"Bearer {fake_key}" for r in server.requests)
    assert fake_key not in caplog.text and "submitted batch" in caplog.text
    assert not any(fake_key.encode() in content for content in fake.files.values())
    assert fake_key.encode() not in b"".join(p.read_bytes() for p in tmp_path.glob("cache.sqlite*"))


def test_small_lots_are_answered_online(server: ProviderServer, tmp_path: Path) -> None:
    fake = FakeBatches(server)
    teacher = make_managed_teacher(config(server, tmp_path, batch_min_requests=5))
    small = complete_all(teacher, requests(3)).results

    assert not fake.batches and len(server.paths("/v1/chat/completions")) == 3
    full_price = DEFAULT_PRICES["gpt-4o-mini"].cost(small[0].prompt_tokens, small[0].completion_tokens)
    assert small[0].cost_usd == pytest.approx(full_price)
    complete_all(teacher, requests(6, seed=1))
    assert len(fake.batches) == 1


def test_what_the_batch_cannot_answer_goes_to_the_fallback(server: ProviderServer, tmp_path: Path) -> None:
    fake = FakeBatches(server, fate=lambda body, n: "error" if "gpt" in body["model"] and asks(body, 0) else "ok")
    fallback = {"provider": "anthropic", "model": "claude-haiku-4-5", "base_url": server.origin,
                "api_key_env": "FAKE_KEY"}
    results = complete_all(make_managed_teacher(config(server, tmp_path, fallback=fallback)), requests(3)).results

    assert [r.provider for r in results] == ["anthropic", "openai", "openai"]
    assert [b.provider for b in fake.batches] == ["openai", "openai", "anthropic"]


def test_distillation_in_batch_mode_answers_or_ledgers_every_row(server: ProviderServer, tmp_path: Path) -> None:
    FakeBatches(server, fate=lambda body, n: "expired" if "thing number 3." in json.dumps(body) else "ok")
    result = distill(candidates(6), make_managed_teacher(config(server, tmp_path)), 0.7, 1.0, 50, max_in_flight=2)

    assert result.kept.height == 5 and (result.kept["cost_usd"] > 0).all()
    assert result.dropped["reason"].to_list() == ["teacher failed: batch item expired after 2 attempts"]
    assert len(server.paths("/v1/chat/completions")) == 0


def test_the_local_model_answers_online_in_batch_mode(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    teacher = make_managed_teacher(TeacherConfig(provider="local", mode="batch", cache_path=tmp_path / "c.sqlite"))
    assert teacher.batch is None and "does not apply to the local teacher" in caplog.text


def test_batch_mode_needs_the_cache() -> None:
    with pytest.raises(ConfigError, match="teacher.mode 'batch' needs teacher.cache"):
        parse_config(
            {"dataset": "d", "recipe": {"name": "self_instruct"}, "teacher": {"mode": "batch", "cache": False}}
        )


def test_a_server_without_a_batch_api_is_a_clear_error(server: ProviderServer, tmp_path: Path) -> None:
    with pytest.raises(TeacherError, match=r"openai model 'gpt-4o-mini' at .* refused the request \(HTTP 404\)"):
        complete_all(make_managed_teacher(config(server, tmp_path)), requests(2))
    assert server.paths("/v1/files") and not server.paths("/v1/chat/completions")
