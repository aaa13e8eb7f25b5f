"""Process-wide limits shared by every thread and event loop that talks to one provider: requests in flight,
requests and tokens per minute, and a run's budget.

The flow answers batches in parallel threads, each running its own event loop, so these use thread locks and
hand-offs between loops instead of asyncio primitives (which belong to one loop).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from synthfoundry.teachers.base import Completion


class Slots:
    """A semaphore that waiters on any event loop, in any thread, can share."""

    def __init__(self, size: int) -> None:
        self._free = size
        self._lock = threading.Lock()
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> None:
        with self._lock:
            if self._free:
                self._free -= 1
                return
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            with self._lock:
                queued = waiter in self._waiters
                if queued:
                    self._waiters.remove(waiter)
            if not queued and waiter.done() and not waiter.cancelled():
                self.release()  # granted just as we were cancelled: pass the slot on
            raise

    def release(self) -> None:
        with self._lock:
            while self._waiters:
                waiter = self._waiters.popleft()
                try:
                    waiter.get_loop().call_soon_threadsafe(self._grant, waiter)
                    return
                except RuntimeError:  # that waiter's loop has closed
                    continue
            self._free += 1

    def _grant(self, waiter: asyncio.Future[None]) -> None:
        if waiter.done():  # cancelled while the grant was on its way
            self.release()
        else:
            waiter.set_result(None)


class RateLimiter:
    """Requests and tokens per minute as two token buckets holding one second's allowance.

    Buckets may go into debt: a reservation never fails, it returns how long to wait, so callers queue in order
    and the rate holds on average over any second. A one-second burst (not a minute's) suits providers that
    enforce a per-minute quota over shorter windows.
    """

    def __init__(self, requests_per_minute: float | None, tokens_per_minute: float | None) -> None:
        self._rates = [r / 60 if r else None for r in (requests_per_minute, tokens_per_minute)]  # per second
        self._levels = [r or 0.0 for r in self._rates]
        self._at = time.monotonic()
        self._lock = threading.Lock()

    def reserve(self, tokens: int) -> float:
        """Take one request and `tokens` tokens; returns the seconds to wait before sending."""
        with self._lock:
            now = time.monotonic()
            wait = 0.0
            for i, (rate, amount) in enumerate(zip(self._rates, (1, tokens))):
                if rate is None:
                    continue
                level = min(rate, self._levels[i] + (now - self._at) * rate) - amount
                self._levels[i] = level
                wait = max(wait, -level / rate)
            self._at = now
            return wait

    async def wait(self, tokens: int) -> None:
        delay = self.reserve(tokens)
        if delay > 0:
            await asyncio.sleep(delay)


@dataclass
class Budget:
    """A run's spend, shared by all its requests: the hard cap and the totals for the manifest.

    A request reserves its worst case (estimated prompt + max_tokens) before it is sent and settles to its
    real cost when answered, so concurrent requests cannot together overshoot the cap. Once a reservation is
    refused nothing more is sent: the run finishes with what is done.
    """

    cap_usd: float | None = None
    spent_usd: float = 0.0
    cached_usd: float = 0.0  # what the cache hits would have cost
    sent: int = 0
    cached: int = 0
    failed: int = 0
    refused: int = 0
    unpriced: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    exhausted: bool = False
    _reserved: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def closed(self) -> bool:
        """True once the cap has been reached (counting the request it keeps from being sent)."""
        with self._lock:
            self.refused += self.exhausted
            return self.exhausted

    def reserve(self, usd: float, committed: bool = False) -> bool:
        """`committed`: the request is already out (a batch re-attached after a crash) and is counted even past
        the cap, since it will be billed whatever happens here."""
        with self._lock:
            if not committed and self.cap_usd is not None and (
                self.exhausted or self.spent_usd + self._reserved + usd > self.cap_usd
            ):
                self.exhausted = True
                self.refused += 1
                return False
            self._reserved += usd
            self.sent += 1
            return True

    def settle(self, reserved_usd: float, completion: Completion | None) -> None:
        """Replace a reservation by what the request really cost (nothing when it failed)."""
        with self._lock:
            self._reserved -= reserved_usd
            if completion is None:
                self.failed += 1
                return
            self.prompt_tokens += completion.prompt_tokens
            self.completion_tokens += completion.completion_tokens
            if completion.cost_usd is None:
                self.unpriced += 1
            else:
                self.spent_usd += completion.cost_usd

    def record_cached(self, completion: Completion) -> None:
        with self._lock:
            self.cached += 1
            self.cached_usd += completion.cost_usd or 0.0

    def summary(self) -> dict:
        """The run's totals, as the manifest records them."""
        with self._lock:
            return {
                "spent_usd": round(self.spent_usd, 6),
                "cached_usd": round(self.cached_usd, 6),
                "budget_usd": self.cap_usd,
                "budget_exhausted": self.exhausted,
                "requests": {
                    "sent": self.sent,
                    "cached": self.cached,
                    "failed": self.failed,
                    "not_sent_budget": self.refused,
                    "unpriced": self.unpriced,
                },
                "tokens": {"prompt": self.prompt_tokens, "completion": self.completion_tokens},
            }


_shared_lock = threading.Lock()
_budgets: dict[str, Budget] = {}
_limits: dict[tuple, tuple[Slots, RateLimiter | None]] = {}


def shared_budget(run_key: str, cap_usd: float | None) -> Budget:
    """The one Budget of a run in this process, however many tasks and threads ask for it."""
    with _shared_lock:
        return _budgets.setdefault(run_key, Budget(cap_usd))


def shared_limits(
    identity: tuple, max_in_flight: int, requests_per_minute: float | None, tokens_per_minute: float | None
) -> tuple[Slots, RateLimiter | None]:
    """The in-flight slots and rate limiter of one provider endpoint + model, shared by every teacher in the process."""
    key = (identity, max_in_flight, requests_per_minute, tokens_per_minute)
    with _shared_lock:
        if key not in _limits:
            limiter = None
            if requests_per_minute or tokens_per_minute:
                limiter = RateLimiter(requests_per_minute, tokens_per_minute)
            _limits[key] = (Slots(max_in_flight), limiter)
        return _limits[key]
