"""Slots, rate limiter and budget: shared by threads that each run their own event loop."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from synthfoundry.teachers.base import Completion
from synthfoundry.teachers.limits import Budget, ProviderLimits, RateLimiter, SharedCap, Slots


def test_slots_cap_concurrency_across_threads_and_loops() -> None:
    slots = Slots(2)
    active = peak = 0
    lock = threading.Lock()

    async def work() -> None:
        nonlocal active, peak
        await slots.acquire()
        try:
            with lock:
                active += 1
                peak = max(peak, active)
            await asyncio.sleep(0.02)
            with lock:
                active -= 1
        finally:
            slots.release()

    async def batch() -> None:
        await asyncio.wait_for(asyncio.gather(*(work() for _ in range(5))), 10)

    def thread() -> None:
        asyncio.run(batch())

    threads = [threading.Thread(target=thread) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak == 2


def test_a_cancelled_waiter_gives_its_slot_back() -> None:
    slots = Slots(1)

    async def scenario() -> None:
        await slots.acquire()
        waiter = asyncio.ensure_future(slots.acquire())
        await asyncio.sleep(0)
        waiter.cancel()
        slots.release()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        await asyncio.wait_for(slots.acquire(), 1)  # the slot is free again

    asyncio.run(scenario())


def test_rate_limiter_paces_requests_and_tokens() -> None:
    requests = RateLimiter(requests_per_minute=600, tokens_per_minute=None)  # 10/s, one second's burst
    waits = [requests.reserve(0) for _ in range(30)]
    assert waits[:10] == [0.0] * 10
    assert waits[-1] == pytest.approx(2.0, abs=0.05)

    tokens = RateLimiter(requests_per_minute=None, tokens_per_minute=6000)  # 100 tokens/s
    assert tokens.reserve(100) == 0.0
    assert tokens.reserve(300) == pytest.approx(3.0, abs=0.05)


def completion(cost: float | None) -> Completion:
    return Completion(text="x", model="m", prompt_tokens=10, completion_tokens=5, cost_usd=cost)


def test_budget_reserves_the_worst_case_and_settles_the_real_cost() -> None:
    budget = Budget(cap_usd=1.0)
    assert budget.reserve(0.6)
    assert not budget.reserve(0.6)  # would overshoot while the first is in flight
    assert budget.exhausted and budget.closed()  # and from then on nothing is sent
    budget.settle(0.6, completion(0.1))
    budget.record_cached(completion(0.2))
    summary = budget.summary()
    assert summary["spent_usd"] == 0.1 and summary["cached_usd"] == 0.2
    assert summary["requests"] == {"sent": 1, "cached": 1, "failed": 0, "not_sent_budget": 2, "unpriced": 0}
    assert summary["tokens"] == {"prompt": 10, "completion": 5}


def test_no_cap_counts_but_never_refuses() -> None:
    budget = Budget()
    assert all(budget.reserve(1e9) for _ in range(3))
    budget.settle(1e9, None)
    budget.settle(1e9, completion(None))
    assert budget.summary()["requests"]["failed"] == 1 and budget.summary()["requests"]["unpriced"] == 1


def _spend_until_refused(path: str, run: str, start, results) -> None:
    budget = Budget(1.0, SharedCap(path, run, 1.0))
    start.wait()  # both processes spend at the same time
    reserved = budget.reserve(0.05)
    start.wait()  # each holds its first reservation before either spends on: a loaded machine cannot starve one
    while reserved:
        time.sleep(0.001)  # a request in flight
        budget.settle(0.05, completion(0.04))
        reserved = budget.reserve(0.05)
    results.put(budget.spend())


def test_one_cap_holds_across_processes(tmp_path) -> None:
    """Two processes of one run spend against one $1 cap: together they stay under it, and each reports its share."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    path = str(tmp_path / "budgets.sqlite")
    start = context.Barrier(2)
    workers = [context.Process(target=_spend_until_refused, args=(path, "run-1", start, results)) for _ in range(2)]
    for worker in workers:
        worker.start()
    spends = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    total = spends[0] + spends[1]
    assert total.spent_usd <= 1.0
    assert total.sent >= 24  # every reservation fits: 0.04 spent each, the 0.05 worst case reserved
    assert all(spend.sent > 0 and spend.exhausted for spend in spends)
    other_run = Budget(1.0, SharedCap(path, "run-2", 1.0))
    assert other_run.reserve(0.5)  # another run's cap is its own


def test_provider_limits_are_one_object_per_key_within_one_owner() -> None:
    limits = ProviderLimits()
    assert limits.of(("openai", None, "m"), 4, None, None) is limits.of(("openai", None, "m"), 4, None, None)
    slots, limiter = limits.of(("openai", None, "m"), 4, 60, None)
    assert limiter is not None
    assert limits.of(("openai", None, "m"), 4, None, None)[1] is None
    other = ProviderLimits()  # another owner's teachers have their own quota: nothing is shared by the process
    assert other.of(("openai", None, "m"), 4, None, None)[0] is not limits.of(("openai", None, "m"), 4, None, None)[0]


def test_waiting_does_not_block_the_event_loop() -> None:
    limiter = RateLimiter(requests_per_minute=60, tokens_per_minute=None)  # 1/s

    async def scenario() -> float:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        task = asyncio.ensure_future(ticker())
        started = time.monotonic()
        await limiter.wait(0)
        await limiter.wait(0)  # the second waits about a second
        task.cancel()
        assert ticks > 20
        return time.monotonic() - started

    assert asyncio.run(scenario()) >= 0.9
