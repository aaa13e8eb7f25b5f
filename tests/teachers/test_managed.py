"""The managed teacher end to end: the real openai / anthropic SDKs against the loopback fake provider."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest

from synthfoundry.teachers import make_managed_teacher
from synthfoundry.teachers.base import (
    BUDGET_EXHAUSTED,
    ChatRequest,
    CircuitOpen,
    Completion,
    TeacherError,
    TeacherFailure,
    complete_all,
)
from synthfoundry.teachers.config import TeacherConfig
from synthfoundry.teachers.limits import Budget, ProviderLimits
from tests.fakes.provider_server import (
    ProviderServer,
    Reply,
    disconnect,
    malformed,
    rate_limited,
    status,
    timeout,
    truncated,
)


def config(server: ProviderServer, tmp_path: Path, **overrides: object) -> TeacherConfig:
    settings: dict = {
        "provider": "openai",
        "model": "gpt-4o-mini",
        "base_url": server.base_url,
        "api_key_env": "FAKE_KEY",
        "max_retries": 2,
        "timeout_s": 5,
        "cache_path": tmp_path / "cache.sqlite",
        **overrides,
    }
    return TeacherConfig(**settings)


def requests(count: int, **options: object) -> list[ChatRequest]:
    return [ChatRequest(messages=({"role": "user", "content": f"Question {i}?"},), **options) for i in range(count)]


def test_warm_cache_sends_nothing_twice_across_teachers(server: ProviderServer, tmp_path: Path) -> None:
    first = complete_all(make_managed_teacher(config(server, tmp_path)), requests(8)).results
    assert server.count == 8 and not any(c.cached for c in first)

    # A fresh teacher (another run, recipe or flow) asking the same things: all answered from disk.
    again = complete_all(make_managed_teacher(config(server, tmp_path)), requests(8)).results
    assert server.count == 8
    assert all(c.cached for c in again)
    assert [c.text for c in again] == [c.text for c in first]
    assert again[0].cost_usd == first[0].cost_usd > 0

    # Another sampling parameter is another request.
    complete_all(make_managed_teacher(config(server, tmp_path)), requests(8, temperature=0.1))
    assert server.count == 16


def test_resume_resends_only_what_was_not_answered(server: ProviderServer, tmp_path: Path) -> None:
    server.rules.append(lambda r: status(503) if "Question 3?" in r.body.decode() else None)
    outcome = complete_all(make_managed_teacher(config(server, tmp_path, max_retries=0)), requests(6))
    assert outcome.failures == 1 and server.count == 6

    server.rules.clear()
    outcome = complete_all(make_managed_teacher(config(server, tmp_path)), requests(6))
    assert outcome.failures == 0
    assert server.count == 7  # only the one that failed went out again


def test_interrupted_batch_resumes_with_what_was_in_flight(tmp_path: Path) -> None:
    """Answers are written as they arrive: a run killed mid-way loses only the requests still in flight."""
    import asyncio

    from synthfoundry.teachers.base import complete_many

    with ProviderServer() as server:
        server.rules.append(lambda r: Reply(delay=5) if "Question 1" in r.body.decode() else None)
        teacher = make_managed_teacher(config(server, tmp_path, max_in_flight=4))

        async def crash_after_a_moment() -> None:
            await asyncio.wait_for(complete_many(teacher, requests(10), 4), timeout=1.5)

        with pytest.raises(TimeoutError):
            asyncio.run(crash_after_a_moment())
        sent = server.count
        server.rules.clear()
        outcome = complete_all(make_managed_teacher(config(server, tmp_path)), requests(10))
    assert outcome.failures == 0
    assert server.count == sent + 1  # "Question 1?" was the only request still in flight


def test_budget_cap_stops_sending_and_finishes_cleanly(server: ProviderServer, tmp_path: Path) -> None:
    # $1 per million tokens in and out: a request reserves (prompt estimate + 100) / 1e6 dollars.
    settings = config(server, tmp_path, budget_usd=0.0002, prices={"gpt-4o-mini": {"input": 1.0, "output": 1.0}})
    budget = Budget(settings.budget_usd)
    teacher = make_managed_teacher(settings, budget=budget)

    results = complete_all(teacher, requests(20, max_tokens=100), max_in_flight=1).results

    answered = [r for r in results if isinstance(r, Completion)]
    refused = [r for r in results if isinstance(r, TeacherFailure)]
    assert 0 < len(answered) < 20 and len(answered) + len(refused) == 20
    assert {r.reason for r in refused} == {BUDGET_EXHAUSTED}
    assert server.count == len(answered)
    summary = budget.summary()
    assert summary["budget_exhausted"] and summary["requests"]["not_sent_budget"] == len(refused)
    assert summary["spent_usd"] <= 0.0002
    assert summary["spent_usd"] == pytest.approx(sum(c.cost_usd for c in answered), abs=1e-6)


def test_budget_holds_across_threads(server: ProviderServer, tmp_path: Path) -> None:
    """The flow answers batches in parallel threads, each with its own event loop: one cap for all of them."""
    settings = config(server, tmp_path, budget_usd=0.001, prices={"gpt-4o-mini": {"input": 1.0, "output": 1.0}})
    budget = Budget(settings.budget_usd)
    outcomes = []
    threads = [
        threading.Thread(
            target=lambda i=i: outcomes.append(
                complete_all(make_managed_teacher(settings, budget=budget), requests(20, seed=i, max_tokens=100), 4)
            )
        )
        for i in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert budget.spend().spent_usd <= 0.001
    assert server.count == budget.summary()["requests"]["sent"] < 80


def test_budget_needs_a_price(server: ProviderServer, tmp_path: Path) -> None:
    with pytest.raises(TeacherError, match="teacher.prices"):
        make_managed_teacher(config(server, tmp_path, model="my-own-model", budget_usd=1.0))


def test_retry_after_is_honoured(server: ProviderServer, tmp_path: Path) -> None:
    server.script(rate_limited(retry_after=1))
    (completion,) = complete_all(make_managed_teacher(config(server, tmp_path)), requests(1)).results

    assert isinstance(completion, Completion)
    first, second = server.requests
    assert second["at"] - first["at"] >= 0.95


def test_retry_after_ms_is_honoured_by_anthropic(server: ProviderServer, tmp_path: Path) -> None:
    server.script(rate_limited(retry_after_ms=600), status(529, "overloaded"))
    settings = config(server, tmp_path, provider="anthropic", model="claude-haiku-4-5", base_url=server.origin)
    (completion,) = complete_all(make_managed_teacher(settings), requests(1)).results

    assert isinstance(completion, Completion) and completion.provider == "anthropic"
    assert server.count == 3
    assert server.requests[1]["at"] - server.requests[0]["at"] >= 0.55


@pytest.mark.parametrize(
    "fault",
    [status(500), status(503), disconnect(), timeout(3)],
    ids=["500", "503", "connection-dropped", "timeout"],
)
def test_transient_faults_are_retried(server: ProviderServer, tmp_path: Path, fault: Reply) -> None:
    server.script(fault)
    (completion,) = complete_all(make_managed_teacher(config(server, tmp_path, timeout_s=1)), requests(1)).results

    assert isinstance(completion, Completion)
    assert server.count == 2


GARBLED = [malformed(), truncated(Reply.json({"id": "x", "choices": [], "usage": {}})), Reply(200, b"{}")]


@pytest.mark.parametrize("fault", GARBLED, ids=["malformed", "truncated", "wrong-shape"])
def test_garbled_200s_are_retried_like_5xx(server: ProviderServer, tmp_path: Path, fault: Reply) -> None:
    server.script(fault)
    results = complete_all(make_managed_teacher(config(server, tmp_path)), requests(2), 1).results

    assert all(isinstance(r, Completion) for r in results)
    assert server.count == 3


def test_an_answer_garbled_every_time_becomes_a_ledger_row_saying_so(server: ProviderServer, tmp_path: Path) -> None:
    server.rules.append(lambda r: malformed() if b"Question 0?" in r.body else None)
    first, second = complete_all(make_managed_teacher(config(server, tmp_path)), requests(2), 1).results

    assert isinstance(first, TeacherFailure) and isinstance(second, Completion)
    assert first.reason.startswith("UnreadableAnswer: the response body was not a readable answer, 3 times")


EMPTY = Reply.json({
    "id": "x", "object": "chat.completion", "created": 0, "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": ""}, "finish_reason": "stop"}],
})


def test_a_one_off_empty_answer_is_asked_again_within_the_call(server: ProviderServer, tmp_path: Path) -> None:
    server.script(EMPTY)
    (answer,) = complete_all(make_managed_teacher(config(server, tmp_path)), requests(1)).results

    assert isinstance(answer, Completion) and answer.text
    assert server.count == 2


def test_an_answer_empty_every_time_is_returned_empty_and_never_cached(server: ProviderServer, tmp_path: Path) -> None:
    server.script(EMPTY, EMPTY, EMPTY)  # max_retries 2: three attempts
    (empty,) = complete_all(make_managed_teacher(config(server, tmp_path)), requests(1)).results
    (again,) = complete_all(make_managed_teacher(config(server, tmp_path)), requests(1)).results

    assert empty.text == "" and again.text and not again.cached
    assert server.count == 4


def test_a_dead_endpoint_opens_the_circuit_and_stops_early(server: ProviderServer, tmp_path: Path) -> None:
    server.rules.append(lambda r: status(503, "upstream down"))
    teacher = make_managed_teacher(config(server, tmp_path, max_retries=0, circuit_breaker=4))
    started = time.monotonic()
    with pytest.raises(CircuitOpen, match=r"failed the last 4 requests in a row.*InternalServerError.*upstream down"
                                          r".*check that the server is up and teacher.base_url is right"):
        complete_all(teacher, requests(200), max_in_flight=2)

    assert server.count <= 4 + 2  # the breaker's count, plus what was already in flight
    assert time.monotonic() - started < 10


def test_a_key_echoed_in_a_non_fatal_error_never_reaches_the_reason(
    server: ProviderServer, tmp_path: Path, fake_key: str
) -> None:
    server.rules.append(lambda r: status(500, f"invalid upstream credentials {r.headers['authorization']}"))
    (failure,) = complete_all(make_managed_teacher(config(server, tmp_path, max_retries=0)), requests(1)).results

    assert isinstance(failure, TeacherFailure) and "invalid upstream credentials" in failure.reason
    assert fake_key not in failure.reason and "***" in failure.reason


@pytest.mark.parametrize("code", [400, 401, 403])
def test_client_errors_are_not_retried_and_name_the_teacher(
    server: ProviderServer, tmp_path: Path, caplog: pytest.LogCaptureFixture, code: int, fake_key: str
) -> None:
    caplog.set_level(logging.DEBUG)
    server.script(status(code, f"Incorrect API key provided: {fake_key}"))

    with pytest.raises(TeacherError) as caught:
        complete_all(make_managed_teacher(config(server, tmp_path)), requests(1))

    message = str(caught.value)
    assert "openai" in message and "gpt-4o-mini" in message and str(code) in message
    assert fake_key not in message and fake_key not in caplog.text
    assert server.count == 1


def test_keys_never_reach_logs_or_results(
    server: ProviderServer, tmp_path: Path, caplog: pytest.LogCaptureFixture, fake_key: str
) -> None:
    caplog.set_level(logging.DEBUG)
    server.script(rate_limited(retry_after_ms=10), status(500), malformed())
    teacher = make_managed_teacher(config(server, tmp_path))
    outcome = complete_all(teacher, requests(4), 1)

    assert all(r["auth"] == f"Bearer {fake_key}" for r in server.requests)
    assert fake_key not in caplog.text
    assert fake_key not in repr(outcome) and fake_key not in repr(teacher.params())
    assert fake_key.encode() not in (tmp_path / "cache.sqlite").read_bytes()


def test_fallback_answers_when_the_main_teacher_keeps_failing(server: ProviderServer, tmp_path: Path) -> None:
    server.rules.append(lambda r: status(503) if r.path == "/v1/chat/completions" else None)
    settings = config(
        server,
        tmp_path,
        max_retries=0,
        fallback={"provider": "anthropic", "model": "claude-haiku-4-5", "base_url": server.origin,
                  "api_key_env": "FAKE_KEY", "after_failures": 2},
    )
    results = complete_all(make_managed_teacher(settings), requests(6), max_in_flight=1).results

    assert all(isinstance(r, Completion) and r.provider == "anthropic" for r in results)
    assert results[0].model == "claude-haiku-4-5"
    # After two failures in a row the main teacher is skipped altogether.
    assert len(server.paths("/v1/chat/completions")) == 2
    assert len(server.paths("/v1/messages")) == 6


def test_in_flight_cap_is_per_provider_across_the_threads_of_teachers_sharing_limits(tmp_path: Path) -> None:
    limits = ProviderLimits()  # what the tasks give every teacher of one worker process
    with ProviderServer(latency=0.2) as server:
        settings = config(server, tmp_path, max_in_flight=3, cache=False)
        threads = [
            threading.Thread(target=lambda i=i: complete_all(
                make_managed_teacher(settings, limits=limits), requests(6, seed=i), 6))
            for i in range(3)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert server.count == 18
    assert server.max_in_flight == 3


def test_requests_per_minute_are_paced(server: ProviderServer, tmp_path: Path) -> None:
    settings = config(server, tmp_path, requests_per_minute=1200, cache=False)  # 20/s, bursts of one second
    started = time.monotonic()
    complete_all(make_managed_teacher(settings), requests(40), 40)
    assert time.monotonic() - started >= 0.9
