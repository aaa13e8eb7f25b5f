"""A teacher wrapped in the policy every paid request needs: cache, in-flight and rate limits, budget, cost
accounting and an optional fallback teacher.

`ManagedTeacher` is itself a `Teacher`, so every caller of `complete_all` (recipes, distillation) gets all of it
without knowing, batch mode included (`complete_all` hands a whole lot to `complete_batch`). HTTP retries (429
honouring Retry-After / retry-after-ms, 5xx, timeouts, connection errors, with exponential backoff and jitter;
never 400/401/403) are the provider SDK's own (`max_retries`); 200s with unreadable bodies are retried by the
teachers themselves (`SDKTeacher.answer`). A circuit breaker stops the run once `breaker_after` requests in a row
failed, so a dead endpoint costs seconds, not every row's retries.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from synthfoundry.redaction import redact
from synthfoundry.teachers.base import (
    BUDGET_EXHAUSTED,
    ChatRequest,
    CircuitOpen,
    Completion,
    Teacher,
    TeacherError,
    TeacherFailure,
    Unanswered,
    complete_many,
    estimate_tokens,
)
from synthfoundry.teachers.batch import BatchRunner
from synthfoundry.teachers.cache import RequestCache, request_key
from synthfoundry.teachers.limits import Budget, RateLimiter, Slots
from synthfoundry.teachers.pricing import Price, forecast_usd

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Forecast:
    requests: int
    cached: int
    usd: float | None  # None when the model has no price


class ManagedTeacher:
    def __init__(
        self,
        teacher: Teacher,
        price: Price | None,
        slots: Slots,
        limiter: RateLimiter | None = None,
        cache: RequestCache | None = None,
        budget: Budget | None = None,
        throttle: Callable[[], Awaitable[None]] | None = None,
        fallback: ManagedTeacher | None = None,
        fallback_after: int = 3,
        batch: BatchRunner | None = None,
        breaker_after: int | None = 8,
    ) -> None:
        """`throttle` is awaited before each request that will be sent: the task layer's cross-worker rate limit.

        `fallback` answers a request the teacher failed after its retries, and every request once the teacher
        has failed `fallback_after` in a row. `batch` (batch mode; needs `cache`) answers lots of requests
        through the provider's batch API. Without a fallback, `breaker_after` failed requests in a row open the
        circuit: every request from then on raises `CircuitOpen` (None: never).
        """
        self.teacher = teacher
        self.provider, self.model, self.base_url = teacher.provider, teacher.model, teacher.base_url
        self.price = price
        self.slots = slots
        self.limiter = limiter
        self.cache = cache
        self.budget = budget or Budget()
        self.throttle = throttle
        self.fallback = fallback
        self.fallback_after = fallback_after
        self.batch = batch
        self.breaker_after = breaker_after
        self.secrets: tuple[str, ...] = (*getattr(teacher, "secrets", ()), *(fallback.secrets if fallback else ()))
        self._failures_in_a_row = 0
        self._open: str | None = None  # why the circuit is open

    def params(self) -> dict:
        return self.teacher.params()

    def _key(self, request: ChatRequest) -> str:
        return request_key(self.provider, self.base_url, self.model, request)

    def _priced(self, completion: Completion, price: Price | None) -> Completion:
        cost = price.cost(completion.prompt_tokens, completion.completion_tokens) if price else None
        return replace(completion, cost_usd=cost)

    async def complete(self, request: ChatRequest) -> Completion:
        if self.fallback is not None and self._failures_in_a_row >= self.fallback_after:
            return await self.fallback.complete(request)
        if self._open:
            raise CircuitOpen(self._open)
        try:
            completion = await self._complete(request)
        except (TeacherError, Unanswered):
            raise
        except Exception as error:
            self._failures_in_a_row += 1
            if self.fallback is None:
                if self.breaker_after and self._failures_in_a_row >= self.breaker_after:
                    where = f" at {self.base_url}" if self.base_url else ""
                    self._open = redact(
                        f"{self.provider} model {self.model!r}{where} failed the last {self._failures_in_a_row} "
                        f"requests in a row, each after its retries (last: {type(error).__name__}: {error}); "
                        "the run stops here instead of failing every row: check that the server is up and "
                        "teacher.base_url is right, then re-run (answered requests are cached, not paid again)",
                        self.secrets,
                    )
                    raise CircuitOpen(self._open) from None
                raise
            log.warning(
                "%s %s failed (%s); asking the fallback %s %s",
                self.provider, self.model, type(error).__name__, self.fallback.provider, self.fallback.model,
            )
            return await self.fallback.complete(request)
        self._failures_in_a_row = 0
        return completion

    async def _cached_or_claimed(self, key: str) -> Completion | None:
        """The cached answer, or None once this process holds the claim to ask `key` (waiting while another
        process or thread is asking it, so the request is paid once)."""
        assert self.cache is not None
        delay = 0.02
        while True:
            if hit := self.cache.get(key):
                return hit
            if self.cache.claim(key):
                if hit := self.cache.get(key):  # answered between the look-up and the claim
                    self.cache.release(key)
                    return hit
                return None
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)

    async def _complete(self, request: ChatRequest) -> Completion:
        if not self.cache:
            return await self._send(request)
        key = self._key(request)
        if hit := await self._cached_or_claimed(key):
            completion = self._priced(hit, self.price)
            self.budget.record_cached(completion)
            return completion
        try:
            completion = await self._send(request)
            if not completion.empty:  # an empty answer is a failure to recover from, not an answer to keep
                self.cache.put(key, completion)
            return completion
        finally:
            self.cache.release(key)

    async def _send(self, request: ChatRequest) -> Completion:
        if self.budget.closed():  # before waiting on any limit for a request that will not be sent
            raise Unanswered(BUDGET_EXHAUSTED)
        if self.throttle:
            await self.throttle()
        if self.limiter:
            await self.limiter.wait(estimate_tokens(request) + request.max_tokens)
        epoch = await self.slots.acquire()
        started, failed = None, True
        try:
            worst_case = self.price.cost(estimate_tokens(request), request.max_tokens) if self.price else 0.0
            if not self.budget.reserve(worst_case, in_flight=self.slots.limit()):
                raise Unanswered(BUDGET_EXHAUSTED)
            started = time.monotonic()
            try:
                completion = self._priced(await self.teacher.complete(request), self.price)
            except BaseException:
                self.budget.settle(worst_case, None)
                raise
            self.budget.settle(worst_case, completion)
            failed = False
        finally:
            if started is None:  # never sent: nothing to learn from
                self.slots.release()
            else:
                self.slots.done(epoch, time.monotonic() - started, failed)
        return completion

    def batches(self, requests: Sequence[ChatRequest]) -> bool:
        """Whether this lot goes through the batch API: batch mode, and at least `min_requests` of them."""
        return self.batch is not None and len(requests) >= self.batch.settings.min_requests

    async def complete_batch(self, requests: Sequence[ChatRequest]) -> list[Completion | TeacherFailure]:
        """Answer a lot through the provider's batch API, at the batch price.

        Cache hits are answered first; every other request reserves its worst case before anything is submitted
        (those already in flight from an earlier run are counted whatever the cap, being billed anyway); the
        ones the batch could not answer go to the fallback teacher when there is one.
        """
        assert self.batch is not None and self.cache is not None
        price = self.price.batch() if self.price else None
        keys = [self._key(r) for r in requests]
        results: dict[str, Completion | TeacherFailure] = {}
        pending: dict[str, ChatRequest] = {}
        for key, request in zip(keys, requests):
            if key in results or key in pending:
                continue
            if hit := self.cache.get(key):
                results[key] = self._priced(hit, price)
                self.budget.record_cached(results[key])
            else:
                pending[key] = request
        attached = self.batch.in_flight(pending)
        reserved: dict[str, float] = {}
        for key in sorted(pending, key=lambda k: k not in attached):  # what is already out is counted first
            request = pending[key]
            worst_case = price.cost(estimate_tokens(request), request.max_tokens) if price else 0.0
            if self.budget.reserve(worst_case, committed=key in attached):
                reserved[key] = worst_case
            else:
                results[key] = TeacherFailure(BUDGET_EXHAUSTED)
        try:
            answers = await self.batch.run({key: pending[key] for key in reserved})
        except BaseException:
            for worst_case in reserved.values():
                self.budget.settle(worst_case, None)
            raise
        lost: list[str] = []
        for key, answer in answers.items():
            if isinstance(answer, Completion):
                results[key] = completion = self._priced(answer, price)
                self.budget.settle(reserved[key], completion)
            else:
                results[key] = TeacherFailure(redact(answer, self.secrets))
                self.budget.settle(reserved[key], None)
                lost.append(key)
        if self.fallback is not None and lost:
            log.warning("%d requests the batch could not answer go to the fallback", len(lost))
            rescued = await complete_many(self.fallback, [pending[key] for key in lost], max_in_flight=len(lost))
            results.update(zip(lost, rescued.results))
        return [results[key] for key in keys]

    def forecast(self, requests: Sequence[ChatRequest], expected_output_tokens: int | None = None) -> Forecast:
        """What sending `requests` will cost (at the batch price in batch mode), leaving out cache hits."""
        to_send = [r for r in requests if not (self.cache and self.cache.get(self._key(r)))]
        price = self.price.batch() if self.price and self.batches(to_send) else self.price
        usd = forecast_usd(to_send, price, expected_output_tokens) if price else None
        return Forecast(len(requests), len(requests) - len(to_send), usd)
