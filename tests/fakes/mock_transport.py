"""Canned HTTP answers for the real SDKs, through an httpx2 mock transport, with every request kept."""

from __future__ import annotations

import httpx2


class Scripted:
    """Answers with `replies` in turn (the last one from then on) and keeps the requests it was sent."""

    def __init__(self, *replies: httpx2.Response) -> None:
        self.replies = replies
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        reply = self.replies[min(len(self.requests), len(self.replies)) - 1]
        # A fresh response each time: one the client has read and closed cannot be sent again.
        return httpx2.Response(reply.status_code, headers=reply.headers, content=reply.content)

    def client(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(transport=httpx2.MockTransport(self))
