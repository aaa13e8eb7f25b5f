"""Batch mode: answer a lot of requests through a provider's batch API (OpenAI Batch, Anthropic Message Batches)
at about half the price, with answers within the provider's 24 h window instead of seconds.

Each request's cache key is its `custom_id`, so a result maps straight back to its request and into the request
cache, whoever submitted it. Which keys are in which provider batch is kept beside the answers in the cache's SQLite
file: a run that died while a batch was in flight (or a Prefect task retry) re-attaches to it instead of submitting
again and paying twice. Items that come back failed or expired are resubmitted, alone, up to `attempts` times.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from synthfoundry.teachers.base import ChatRequest, Completion
from synthfoundry.teachers.cache import RequestCache

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchSettings:
    poll_s: float = 30.0
    attempts: int = 2
    max_requests: int = 10_000  # per provider batch; larger lots are split
    min_requests: int = 1  # smaller lots are answered online


@dataclass(frozen=True)
class BatchResults:
    """An ended batch: each custom_id's answer or why it has none, and why an id absent from `items` has none."""

    missing: str
    items: dict[str, Completion | str]


@runtime_checkable
class BatchAPI(Protocol):
    """A provider's batch API, as the OpenAI and Anthropic teachers speak it."""

    def body(self, request: ChatRequest) -> dict[str, Any]: ...

    async def submit_batch(self, bodies: Mapping[str, dict[str, Any]]) -> str:
        """Submit {custom_id: request body}; returns the provider's batch id."""
        ...

    async def batch_results(self, batch_id: str) -> BatchResults | str:
        """The results once the batch has ended, else its progress (for the log)."""
        ...


def _attempts(count: int) -> str:
    return f"{count} attempt{'s' if count > 1 else ''}"


class BatchRunner:
    """Submits, follows and collects provider batches, recording in the cache file which keys are in flight."""

    def __init__(self, api: BatchAPI, cache: RequestCache, settings: BatchSettings) -> None:
        self.api = api
        self.cache = cache
        self.settings = settings
        cache.connection().execute(
            "CREATE TABLE IF NOT EXISTS batch_items"
            " (key TEXT PRIMARY KEY, batch_id TEXT NOT NULL, attempt INTEGER NOT NULL)"
        )

    def _write(self, sql: str, rows: list[tuple]) -> None:
        """All rows or none: a batch is recorded whole."""
        db = self.cache.connection()
        with db:
            db.execute("BEGIN IMMEDIATE")
            db.executemany(sql, rows)

    def in_flight(self, keys: Iterable[str]) -> dict[str, tuple[str, int]]:
        """The keys already submitted in a batch not yet collected: key -> (batch id, attempt)."""
        rows = self.cache.connection().execute(
            "SELECT key, batch_id, attempt FROM batch_items WHERE key IN (SELECT value FROM json_each(?))",
            (json.dumps(list(keys)),),
        )
        return {key: (batch_id, attempt) for key, batch_id, attempt in rows}

    async def run(self, requests: Mapping[str, ChatRequest]) -> dict[str, Completion | str]:
        """Answer {key: request} (none of them cached): each key gets its completion or the ledger reason."""
        attached = self.in_flight(requests)
        groups: dict[str, tuple[dict[str, ChatRequest], int]] = {}
        for key, (batch_id, attempt) in attached.items():
            groups.setdefault(batch_id, ({}, attempt))[0][key] = requests[key]
        if groups:
            log.info("re-attaching to %d batch(es) already in flight: %s", len(groups), ", ".join(groups))
        new = [key for key in requests if key not in attached]
        size = self.settings.max_requests
        chunks = [{key: requests[key] for key in new[i : i + size]} for i in range(0, len(new), size)]
        followed = [self._follow(chunk, attempt, batch_id) for batch_id, (chunk, attempt) in groups.items()]
        followed += [self._follow(chunk, 1) for chunk in chunks]
        outcome: dict[str, Completion | str] = {}
        for part in await asyncio.gather(*followed):
            outcome.update(part)
        return outcome

    async def _follow(
        self, requests: dict[str, ChatRequest], attempt: int, batch_id: str | None = None
    ) -> dict[str, Completion | str]:
        """Submit (unless re-attaching), wait for the end, keep the answers, resubmit what failed."""
        if batch_id is None:
            batch_id = await self.api.submit_batch({key: self.api.body(r) for key, r in requests.items()})
            self._write(
                "INSERT OR REPLACE INTO batch_items (key, batch_id, attempt) VALUES (?, ?, ?)",
                [(key, batch_id, attempt) for key in requests],
            )
            log.info("submitted batch %s: %d requests (attempt %d)", batch_id, len(requests), attempt)
        progress = ""
        while isinstance(ended := await self.api.batch_results(batch_id), str):
            if ended != progress:
                log.info("batch %s: %s", batch_id, ended)
                progress = ended
            await asyncio.sleep(self.settings.poll_s)
        for key, item in ended.items.items():  # every answer is worth keeping, even one another caller asked for
            if isinstance(item, Completion) and item.text.strip():
                self.cache.put(key, item)
        outcome = {key: ended.items.get(key, ended.missing) for key in requests}
        failed = {key: requests[key] for key, item in outcome.items() if not isinstance(item, Completion)}
        log.info("batch %s ended: %d answered, %d not", batch_id, len(requests) - len(failed), len(failed))
        retry = failed if attempt < self.settings.attempts else {}
        # A resubmitted key keeps its row until its new batch replaces it: a crash in between re-attaches here.
        self._write(
            "DELETE FROM batch_items WHERE key = ? AND batch_id = ?",
            [(key, batch_id) for key in requests if key not in retry],
        )
        if retry:
            outcome.update(await self._follow(retry, attempt + 1))
        else:
            outcome.update({key: f"batch item {outcome[key]} after {_attempts(attempt)}" for key in failed})
        return outcome
