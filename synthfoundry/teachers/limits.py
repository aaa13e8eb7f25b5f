"""Limits on talking to a provider: requests in flight and requests and tokens per minute (shared by every thread
and event loop of the teachers given the same `ProviderLimits`), and a run's budget (shared by every process of the run).

The flow answers batches in parallel threads, each running its own event loop, so these use thread locks and
hand-offs between loops instead of asyncio primitives (which belong to one loop).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections import deque
from pathlib import Path
from typing import Protocol

from synthfoundry.spend import InFlight, Spend
from synthfoundry.teachers.adaptive import AdaptiveLimit
from synthfoundry.teachers.base import Completion


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class Slots:
    """A semaphore that waiters on any event loop, in any thread, can share.

    With an `AdaptiveLimit` its size follows the server (see synthfoundry/teachers/adaptive.py): each finished
    request is reported to `done`, and the size may shrink below the slots in use (they drain) or grow.
    """

    def __init__(self, size: int, adaptive: AdaptiveLimit | None = None) -> None:
        self.adaptive = adaptive
        self._size = adaptive.limit if adaptive else size
        self._used = 0
        self._lock = threading.Lock()
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def size(self) -> int:
        return self._size

    def limit(self) -> InFlight:
        """The limit a request is being sent under, as a stage's spend records it."""
        return InFlight(self.adaptive is not None, self._size, self._size)

    async def acquire(self) -> int:
        """Take a slot; returns the adaptive limit's epoch (to give back to `done`)."""
        with self._lock:
            if self._used < self._size:
                self._used += 1
                return self._epoch()
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
        return self._epoch()

    def _epoch(self) -> int:
        return self.adaptive.epoch if self.adaptive else 0

    def release(self) -> None:
        with self._lock:
            self._used -= 1
            self._grant_waiters()

    def done(self, epoch: int, latency_s: float, failed: bool) -> None:
        """Release a slot after a request sent in `epoch` that took `latency_s` (and failed or not): an adaptive
        size learns."""
        if self.adaptive is None:
            self.release()
            return
        with self._lock:
            self._used -= 1
            self._size = self.adaptive.observe(latency_s, failed, bool(self._waiters), epoch)
            self._grant_waiters()

    def _grant_waiters(self) -> None:
        """Hand free slots to waiters in order (called with the lock held)."""
        while self._waiters and self._used < self._size:
            waiter = self._waiters.popleft()
            loop = waiter.get_loop()
            try:
                if loop is _running_loop():
                    loop.call_soon(self._grant, waiter)  # no wake-up through the loop's pipe: it is awake
                else:
                    loop.call_soon_threadsafe(self._grant, waiter)
            except RuntimeError:  # that waiter's loop has closed
                continue
            self._used += 1

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


class Cap(Protocol):
    """Where a run's cap is enforced: reservations of worst cases, settled to real costs."""

    def reserve(self, usd: float, committed: bool = False) -> bool: ...

    def settle(self, reserved_usd: float, spent_usd: float) -> None: ...

    def exhausted(self) -> bool: ...


class LocalCap:
    """A cap for one process (tests, library use outside a flow run)."""

    def __init__(self, cap_usd: float | None) -> None:
        self.cap_usd = cap_usd
        self._spent = self._reserved = 0.0
        self._exhausted = False
        self._lock = threading.Lock()

    def reserve(self, usd: float, committed: bool = False) -> bool:
        with self._lock:
            if not committed and self.cap_usd is not None and (
                self._exhausted or self._spent + self._reserved + usd > self.cap_usd
            ):
                self._exhausted = True
                return False
            self._reserved += usd
            return True

    def settle(self, reserved_usd: float, spent_usd: float) -> None:
        with self._lock:
            self._reserved -= reserved_usd
            self._spent += spent_usd

    def exhausted(self) -> bool:
        return self._exhausted


class SharedCap:
    """One run's cap across every process of the run: a row per run in an SQLite file beside the request cache.

    Each reservation is one immediate transaction, so processes reserving at once are serialised by SQLite and
    together never exceed the cap.
    """

    def __init__(self, path: str | Path, run_key: str, cap_usd: float | None) -> None:
        self.path, self.run_key, self.cap_usd = Path(path), run_key, cap_usd
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._db().execute(
            "CREATE TABLE IF NOT EXISTS budgets (run TEXT PRIMARY KEY, spent REAL NOT NULL DEFAULT 0, "
            "reserved REAL NOT NULL DEFAULT 0, exhausted INTEGER NOT NULL DEFAULT 0)"
        )
        self._db().execute("INSERT OR IGNORE INTO budgets (run) VALUES (?)", (run_key,))

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        return db

    def reserve(self, usd: float, committed: bool = False) -> bool:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            spent, reserved, exhausted = db.execute(
                "SELECT spent, reserved, exhausted FROM budgets WHERE run = ?", (self.run_key,)
            ).fetchone()
            if not committed and self.cap_usd is not None and (exhausted or spent + reserved + usd > self.cap_usd):
                db.execute("UPDATE budgets SET exhausted = 1 WHERE run = ?", (self.run_key,))
                return False
            db.execute("UPDATE budgets SET reserved = reserved + ? WHERE run = ?", (usd, self.run_key))
            return True
        finally:
            db.execute("COMMIT")

    def settle(self, reserved_usd: float, spent_usd: float) -> None:
        self._db().execute(
            "UPDATE budgets SET reserved = reserved - ?, spent = spent + ? WHERE run = ?",
            (reserved_usd, spent_usd, self.run_key),
        )

    def exhausted(self) -> bool:
        row = self._db().execute("SELECT exhausted FROM budgets WHERE run = ?", (self.run_key,)).fetchone()
        return bool(row[0])


class Budget:
    """One stage's requests against the run's cap: counts what this stage sent (its `Spend`) while `cap` decides.

    A request reserves its worst case (estimated prompt + max_tokens) before it is sent and settles to its real
    cost when answered, so concurrent requests, in any process sharing the cap, cannot together overshoot it.
    Once a reservation is refused nothing more is sent: the run finishes with what is done.
    """

    def __init__(self, cap_usd: float | None = None, cap: Cap | None = None) -> None:
        self.cap_usd = cap_usd
        self.cap = cap or LocalCap(cap_usd)
        self._spend = Spend()
        self._lock = threading.Lock()

    def _count(self, **deltas) -> None:
        with self._lock:
            self._spend = self._spend + Spend(**deltas)

    def closed(self) -> bool:
        """True once the cap has been reached (counting the request it keeps from being sent)."""
        if self.cap.exhausted():
            self._count(refused=1, exhausted=True)
            return True
        return False

    def reserve(self, usd: float, committed: bool = False, in_flight: InFlight | None = None) -> bool:
        """`committed`: the request is already out (a batch re-attached after a crash) and is counted even past
        the cap, since it will be billed whatever happens here. `in_flight`: the in-flight limit it is sent under."""
        if not self.cap.reserve(usd, committed):
            self._count(refused=1, exhausted=True)
            return False
        self._count(sent=1, in_flight=in_flight)
        return True

    def settle(self, reserved_usd: float, completion: Completion | None) -> None:
        """Replace a reservation by what the request really cost (nothing when it failed)."""
        cost = completion.cost_usd if completion is not None else None
        self.cap.settle(reserved_usd, cost or 0.0)
        if completion is None:
            self._count(failed=1)
            return
        self._count(
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            unpriced=int(cost is None),
            spent_usd=cost or 0.0,
        )

    def record_cached(self, completion: Completion) -> None:
        self._count(cached=1, cached_usd=completion.cost_usd or 0.0)

    @property
    def exhausted(self) -> bool:
        return self.spend().exhausted

    def spend(self) -> Spend:
        with self._lock:
            return self._spend

    def summary(self) -> dict:
        return self.spend().summary(self.cap_usd)


class ProviderLimits:
    """The in-flight slots and rate limiter of each provider endpoint + model: the teachers built with one of these
    share one quota. Its owner decides how far it reaches (the tasks: one per worker process; a test: its own)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_key: dict[tuple, tuple[Slots, RateLimiter | None]] = {}

    def of(
        self,
        identity: tuple,
        max_in_flight: int,
        requests_per_minute: float | None,
        tokens_per_minute: float | None,
        adaptive_from: int | None = None,
    ) -> tuple[Slots, RateLimiter | None]:
        """`adaptive_from`: the in-flight limit adapts between this and `max_in_flight` (None: fixed)."""
        key = (identity, max_in_flight, requests_per_minute, tokens_per_minute, adaptive_from)
        with self._lock:
            if key not in self._by_key:
                limiter = None
                if requests_per_minute or tokens_per_minute:
                    limiter = RateLimiter(requests_per_minute, tokens_per_minute)
                adaptive = None if adaptive_from is None else AdaptiveLimit(adaptive_from, max_in_flight)
                self._by_key[key] = (Slots(max_in_flight, adaptive), limiter)
            return self._by_key[key]
