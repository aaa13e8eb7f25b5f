"""A teacher wrapped in the policy every paid request needs: cache, in-flight and rate limits, budget, cost
accounting and an optional fallback teacher.

`ManagedTeacher` is itself a `Teacher`, so every caller of `complete_all` (recipes, distillation) gets all of it
without knowing. HTTP retries (429 honouring Retry-After / retry-after-ms, 5xx, timeouts, connection errors, with
exponential backoff and jitter; never 400/401/403) are the provider SDK's own (`max_retries`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from synthfoundry.teachers.base import (
    BUDGET_EXHAUSTED,
    ChatRequest,
    Completion,
    Teacher,
    TeacherError,
    Unanswered,
    estimate_tokens,
)
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
    ) -> None:
        """`throttle` is awaited before each request that will be sent: the task layer's cross-worker rate limit.

        `fallback` answers a request the teacher failed after its retries, and every request once the teacher
        has failed `fallback_after` in a row.
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
        self._failures_in_a_row = 0

    def params(self) -> dict:
        return self.teacher.params()

    def _key(self, request: ChatRequest) -> str:
        return request_key(self.provider, self.base_url, self.model, request)

    def _priced(self, completion: Completion) -> Completion:
        cost = self.price.cost(completion.prompt_tokens, completion.completion_tokens) if self.price else None
        return replace(completion, cost_usd=cost)

    async def complete(self, request: ChatRequest) -> Completion:
        if self.fallback is not None and self._failures_in_a_row >= self.fallback_after:
            return await self.fallback.complete(request)
        try:
            completion = await self._complete(request)
        except (TeacherError, Unanswered):
            raise
        except Exception as error:
            self._failures_in_a_row += 1
            if self.fallback is None:
                raise
            log.warning(
                "%s %s failed (%s); asking the fallback %s %s",
                self.provider, self.model, type(error).__name__, self.fallback.provider, self.fallback.model,
            )
            return await self.fallback.complete(request)
        self._failures_in_a_row = 0
        return completion

    async def _complete(self, request: ChatRequest) -> Completion:
        key = self._key(request) if self.cache else ""
        if self.cache and (hit := self.cache.get(key)):
            completion = self._priced(hit)
            self.budget.record_cached(completion)
            return completion
        if self.budget.closed():  # before waiting on any limit for a request that will not be sent
            raise Unanswered(BUDGET_EXHAUSTED)
        if self.throttle:
            await self.throttle()
        if self.limiter:
            await self.limiter.wait(estimate_tokens(request) + request.max_tokens)
        await self.slots.acquire()
        try:
            worst_case = self.price.cost(estimate_tokens(request), request.max_tokens) if self.price else 0.0
            if not self.budget.reserve(worst_case):
                raise Unanswered(BUDGET_EXHAUSTED)
            try:
                completion = self._priced(await self.teacher.complete(request))
            except BaseException:
                self.budget.settle(worst_case, None)
                raise
            self.budget.settle(worst_case, completion)
        finally:
            self.slots.release()
        if self.cache:
            self.cache.put(key, completion)
        return completion

    def forecast(self, requests: Sequence[ChatRequest], expected_output_tokens: int | None = None) -> Forecast:
        """What sending `requests` will cost, leaving out those the cache already answers."""
        to_send = [r for r in requests if not (self.cache and self.cache.get(self._key(r)))]
        usd = forecast_usd(to_send, self.price, expected_output_tokens) if self.price else None
        return Forecast(len(requests), len(requests) - len(to_send), usd)
