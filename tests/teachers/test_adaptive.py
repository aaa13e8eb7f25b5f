"""The adaptive in-flight limit: the controller alone on simulated servers, then the managed teacher against the
loopback fake server given a capacity (it queues past it, as vLLM and llama.cpp do, and never answers 429)."""

from __future__ import annotations

from pathlib import Path

from synthfoundry.teachers import make_managed_teacher
from synthfoundry.teachers.adaptive import AdaptiveLimit
from synthfoundry.teachers.base import ChatRequest, complete_all
from synthfoundry.teachers.config import TeacherConfig
from synthfoundry.teachers.limits import Budget
from tests.fakes.provider_server import ProviderServer


def run(controller: AdaptiveLimit, latency_at, answers: int, failing=lambda limit: False) -> list[int]:
    """Feed the controller `answers` requests whose latency is `latency_at(limit)`; the limits it chose."""
    limits = []
    for _ in range(answers):
        limit = controller.limit
        limits.append(controller.observe(latency_at(limit), failing(limit), wanted_more=True))
    return limits


def queueing(capacity: int, latency: float = 1.0):
    """A server answering `capacity` at a time: past it, requests wait for the ones ahead of them."""
    return lambda limit: latency * max(1.0, limit / capacity)


def test_grows_while_latency_holds_and_backs_off_when_it_grows() -> None:
    controller = AdaptiveLimit(minimum=1, maximum=1000)
    limits = run(controller, queueing(40), 3000)
    assert max(limits[:200]) >= 40  # it grew to the capacity (latency flat below it)
    settled = limits[1500:]
    assert 40 <= min(settled) and max(settled) <= 40 * 1.5 + 10  # kept the server full, the queue short
    assert controller.baseline == 1.0


def test_does_not_grow_when_latency_holds_but_nobody_waits() -> None:
    controller = AdaptiveLimit(minimum=1, maximum=100, start=4)
    for _ in range(200):
        controller.observe(0.5, failed=False, wanted_more=False)
    assert controller.limit == 4


def test_errors_shrink_the_limit() -> None:
    controller = AdaptiveLimit(minimum=2, maximum=64, start=64)
    run(controller, lambda limit: 1.0, 64)  # a first window at 64 sets the baseline
    limits = run(controller, lambda limit: 1.0, 400, failing=lambda limit: limit > 10)
    assert 10 <= limits[-1] <= 20 and min(limits) >= 2


def test_a_server_that_gets_slower_is_not_mistaken_for_a_queue() -> None:
    """Latency that backing off does not bring down (longer prompts, another tenant) becomes the new baseline."""
    controller = AdaptiveLimit(minimum=1, maximum=1000)
    run(controller, queueing(40), 1000)
    limits = run(controller, queueing(40, latency=3.0), 3000)  # every request now takes 3x as long
    assert min(limits[1500:]) >= 40
    assert controller.baseline >= 2.5


def config(server: ProviderServer, tmp_path: Path, **overrides: object) -> TeacherConfig:
    return TeacherConfig(**{
        "provider": "openai", "model": "fake", "base_url": server.base_url, "max_retries": 0,
        "cache_path": tmp_path / "cache.sqlite", **overrides,
    })


def test_finds_the_capacity_of_a_server_that_queues(tmp_path: Path) -> None:
    with ProviderServer(latency=0.1, capacity=8, record=False) as server:
        settings = config(server, tmp_path, max_in_flight=64)
        budget = Budget()
        teacher = make_managed_teacher(settings, budget=budget)
        requests = [ChatRequest(messages=({"role": "user", "content": f"Q{i}?"},), max_tokens=16) for i in range(480)]
        results = complete_all(teacher, requests, settings.max_in_flight).results
    assert all(r.text for r in results)
    in_flight = budget.spend().in_flight
    assert in_flight.adaptive and in_flight.lowest <= 8 <= in_flight.highest < 64
    assert 8 <= teacher.slots.size <= 20  # settled at the capacity: the server full, its queue short


def test_on_by_default_for_a_base_url_only(tmp_path: Path) -> None:
    with ProviderServer() as server:
        assert make_managed_teacher(config(server, tmp_path)).slots.adaptive is not None
        assert make_managed_teacher(config(server, tmp_path, adaptive_concurrency=False)).slots.adaptive is None
    hosted = TeacherConfig(provider="openai", model="gpt-4o-mini", api_key_env="FAKE_KEY", cache=False)
    assert make_managed_teacher(hosted).slots.adaptive is None
