"""What the openai and anthropic teachers share: the same SDK client options, pooled the same way.

A module of its own so that `synthfoundry.teachers.base` stays free of httpx2 (see `synthfoundry.teachers`).
"""

from __future__ import annotations

from typing import Any, Callable, Generic, TypeVar

import httpx2

from synthfoundry.teachers.base import ClientShards

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
        self._api_key = api_key

        def client(size: int) -> C:
            pool = http_client or self.sdk_http_client(
                limits=httpx2.Limits(max_connections=size, max_keepalive_connections=size)
            )
            return self.sdk(
                api_key=api_key, base_url=base_url, timeout=timeout_s, max_retries=max_retries, http_client=pool
            )

        # Small pools used in turn (see ClientShards), each sized so that all of them hold max_connections.
        self._clients = ClientShards(client, max_connections, shared=http_client is not None)

    def params(self) -> dict[str, Any]:
        return {"provider": self.provider, "model": self.model, "base_url": self.base_url}
