"""What the openai and anthropic teachers share: the same SDK client options, pooled the same way.

A module of its own so that `synthfoundry.teachers.base` stays free of httpx2 (see `synthfoundry.teachers`).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import httpx2

from synthfoundry.errors import TransientError
from synthfoundry.teachers.base import ClientShards, Completion

R = TypeVar("R")

# What reading a 200 whose body is malformed, truncated or the wrong shape raises (JSONDecodeError and pydantic's
# ValidationError are ValueErrors); the SDKs retry on status codes only, so these are retried here.
_UNREADABLE = (ValueError, TypeError, KeyError, IndexError, AttributeError)


class UnreadableAnswer(TransientError):
    """Every attempt at a request came back 200 with a body that is not an answer."""

C = TypeVar("C")


class SDKTeacher(Generic[C]):
    """A teacher that sends through an openai-style SDK client `C`; subclasses speak its wire format.

    Both SDKs take the same client options and the same kind of default http client, named by `sdk` and
    `sdk_http_client`.
    """

    provider: str
    sdk: Callable[..., C]
    sdk_http_client: Callable[..., httpx2.AsyncClient]

    def __init__(
        self,
        model: str,
        api_key: str,
        base_url: str | None = None,
        timeout_s: float = 120,
        max_retries: int = 4,
        http_client: httpx2.AsyncClient | None = None,
        max_connections: int = 100,
    ) -> None:
        """`max_connections` sizes the connection pools to the requests in flight: the SDK's default keeps only
        100 connections alive, so beyond 100 in flight every request would pay for a new connection."""
        self.model = model
        self.base_url = base_url
        self.secrets = (api_key,)
        self.max_retries = max_retries

        def client(size: int) -> C:
            pool = http_client or self.sdk_http_client(
                limits=httpx2.Limits(max_connections=size, max_keepalive_connections=size)
            )
            return self.sdk(
                api_key=api_key, base_url=base_url, timeout=timeout_s, max_retries=max_retries, http_client=pool
            )

        # Small pools used in turn (see ClientShards), each sized so that all of them hold max_connections.
        self._clients = ClientShards(client, max_connections, shared=http_client is not None)

    async def answer(self, send: Callable[[], Awaitable[R]], read: Callable[[R], Completion]) -> Completion:
        """`read(await send())`, with a malformed or truncated 200 body, or an empty answer, retried like a 5xx: up
        to `max_retries` more times, with exponential backoff and jitter.

        An empty answer (no text, no reasoning) is most often a one-off of the server's; one that stays empty on
        every attempt is returned as it is, and the recipe's ledger says "empty response".
        """
        for attempt in range(self.max_retries + 1):
            if attempt:
                await asyncio.sleep(min(8.0, 0.25 * 2 ** (attempt - 1)) * random.uniform(0.5, 1.5))
            try:
                completion = read(await send())
            except _UNREADABLE as error:
                problem, completion = f"{type(error).__name__}: {error}", None
                continue
            if not completion.empty:
                return completion
        if completion is not None:
            return completion
        raise UnreadableAnswer(
            f"the response body was not a readable answer, {self.max_retries + 1} times ({problem})"
        )

    def params(self) -> dict[str, Any]:
        return {"provider": self.provider, "model": self.model, "base_url": self.base_url}
