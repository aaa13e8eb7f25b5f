"""Adaptive concurrency: how many requests to keep in flight to a server that queues instead of answering 429.

Self-hosted OpenAI-compatible servers (vLLM, llama.cpp, Ollama) take every request and queue what their batch cannot
hold, so a fixed in-flight limit either leaves them idle or fills their queue (latency grows, timeouts follow). The
controller is AIMD on that limit, judged once per window (as many answers as the limit, about one round trip, all
of requests sent under the current limit: an answer reflects the limit it was sent under, not today's):
- it grows while latency stays near the lowest seen (the server's unloaded latency): doubling at first (slow
  start), then by about the square root of the limit per window (additive: a few steps from half to twice a
  capacity, whatever its size);
- it shrinks by `backoff` when a window's mean latency grows past `1 + tolerance` times that baseline (requests are
  queueing) or a request failed;
- when shrinking did not bring latency down, the server itself got slower (longer prompts, another tenant): that
  latency becomes the new baseline instead of the limit sinking to the minimum.
It grows only when callers wanted more than the limit (a window with requests waiting), so a run asking for little
does not inflate it. Thread-safe: one controller serves every thread and event loop sharing a provider's slots.
"""

from __future__ import annotations

import math
import threading

# Windows hold at least this many answers, so one odd request does not decide.
MIN_WINDOW = 4
# Latency growth smaller than this (seconds) is scheduling noise, not a queue (loopback servers answer in ms).
NOISE_S = 0.05


class AdaptiveLimit:
    def __init__(
        self, minimum: int, maximum: int, start: int = 4, tolerance: float = 0.5, backoff: float = 0.75
    ) -> None:
        self.minimum, self.maximum = minimum, maximum
        self.tolerance, self.backoff = tolerance, backoff
        self._limit = float(min(maximum, max(minimum, start)))
        self.baseline: float | None = None  # the lowest window mean latency seen: the server unloaded
        self._slow_start = True
        self.epoch = 0  # bumped at every change of the limit; answers to requests sent before it are not judged
        self._settling = False  # the first window after a change meets the queue of the old limit: not judged
        self._backed_off_from: float | None = None  # the mean latency that made the last decrease
        self._lock = threading.Lock()
        self._reset_window()

    @property
    def limit(self) -> int:
        return int(self._limit)

    def _reset_window(self) -> None:
        self._answers, self._latency, self._failed, self._wanted_more = 0, 0.0, False, False

    def observe(self, latency_s: float, failed: bool, wanted_more: bool, epoch: int | None = None) -> int:
        """Record one finished request sent in `epoch` (None: the current one; `wanted_more`: callers were
        waiting for a slot); returns the limit."""
        with self._lock:
            if epoch is not None and epoch != self.epoch:
                return self.limit
            self._answers += 1
            self._latency += latency_s
            self._failed |= failed
            self._wanted_more |= wanted_more
            if self._answers >= max(self.limit, MIN_WINDOW):
                before = self._limit
                self._judge(self._latency / self._answers)
                self._reset_window()
                if self._limit != before:
                    self.epoch += 1
                    self._settling = True
            return self.limit

    def _judge(self, mean: float) -> None:
        if self._settling:
            self._settling = False
            return
        if self.baseline is None or mean < self.baseline:
            self.baseline = mean
        queueing = mean > self.baseline * (1 + self.tolerance) and mean - self.baseline > NOISE_S
        if queueing and not self._failed and self._backed_off_from is not None and mean > 0.9 * self._backed_off_from:
            self.baseline = mean  # backing off did not help: the server is slower, not queueing our requests
            queueing = False
        if self._failed or queueing:
            self._limit = max(float(self.minimum), self._limit * self.backoff)
            self._slow_start, self._backed_off_from = False, mean
            return
        self._backed_off_from = None
        if self._wanted_more:
            step = self._limit if self._slow_start else max(1.0, math.sqrt(self._limit))
            self._limit = min(float(self.maximum), self._limit + step)
