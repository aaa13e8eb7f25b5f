"""A loopback server speaking the OpenAI and Anthropic wire formats, with fault injection, for tests and benchmarks.

It is a small asyncio HTTP/1.1 server (keep-alive, Content-Length bodies) so one process holds thousands of open
connections. What it serves is a route table, `ProviderServer.routes`: {(method, path): handler}, where a handler
takes a `Request` and returns (or awaits) a `Reply`. Add endpoints (e.g. a Batch API) by adding routes:

    server.routes[("POST", "/v1/batches")] = my_handler

Faults: `server.script(reply, ...)` answers the next requests with those replies, in order, instead of their
route; `server.rules` holds functions of a request that return a reply to force, or None. Helpers build the usual
faults: `rate_limited`, `status`, `malformed`, `truncated`, `timeout`, `disconnect`.

Capacity: `capacity=N` makes it a self-hosted server (vLLM, llama.cpp): it answers N requests at a time, each in
`latency` seconds, and queues the rest in arrival order (latency grows with the queue); it never answers 429.

Run it alone (the benchmark does, in its own process): `python -m tests.fakes.provider_server --latency 1`
prints the port, then serves until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import re
import resource
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    record: dict | None = None  # its entry in `ProviderServer.requests`, once recorded

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering: a timeout when longer than the client's
    disconnect: bool = False  # close the connection without answering

    @classmethod
    def json(cls, payload: Any, status: int = 200, **headers: str) -> Reply:
        return cls(status, json.dumps(payload).encode(), {"content-type": "application/json", **headers})


Handler = Callable[[Request], "Reply | Awaitable[Reply]"]
Rule = Callable[[Request], "Reply | None"]


def rate_limited(retry_after: float | None = None, retry_after_ms: int | None = None) -> Reply:
    headers = {}
    if retry_after is not None:
        headers["retry-after"] = str(retry_after)
    if retry_after_ms is not None:
        headers["retry-after-ms"] = str(retry_after_ms)
    return Reply.json({"error": {"type": "rate_limit_error", "message": "Rate limit reached"}}, 429, **headers)


def status(code: int, message: str = "injected error") -> Reply:
    """An error reply both SDKs parse (OpenAI's {"error": {...}} and Anthropic's {"type": "error", ...})."""
    return Reply.json({"type": "error", "error": {"type": "api_error", "message": message, "code": str(code)}}, code)


def malformed() -> Reply:
    return Reply(200, b'{"id": "x", "choices": [{"message": {', {"content-type": "application/json"})


def truncated(reply: Reply) -> Reply:
    """`reply` with its JSON body cut in half (and a Content-Length that says so)."""
    return Reply(reply.status, reply.body[: len(reply.body) // 2], reply.headers)


def timeout(seconds: float = 30.0) -> Reply:
    return Reply(408, b"", delay=seconds)


def disconnect() -> Reply:
    return Reply(disconnect=True)


def default_reply(body: dict) -> str:
    """A deterministic answer per request: the same request always gets the same text."""
    words = re.findall(r"[a-z]+", json.dumps(body.get("messages", "")).lower()) or ["answer"]
    rng = random.Random(json.dumps(body, sort_keys=True))
    return "Here is a careful answer: " + " ".join(rng.choices(words, k=12)) + "."


def _words(text: str) -> int:
    return len(text.split())


def _answer(reply: str | dict) -> tuple[str | None, list[dict]]:
    """(text, tool calls) of what a reply function returned."""
    if isinstance(reply, dict):
        return reply.get("content"), reply.get("tool_calls", [])
    return reply, []


class ProviderServer:
    def __init__(
        self,
        reply: Callable[[dict], str] = default_reply,
        latency: float = 0.0,
        record: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
        capacity: int | None = None,
    ) -> None:
        """`reply(body)` writes the text of every chat answer; for a structured-output request it must be JSON.

        It may instead return `{"content": str | None, "tool_calls": [{"name": ..., "arguments": dict | str}]}`:
        the answer calls those tools (OpenAI `tool_calls`, Anthropic `tool_use` blocks); string arguments are sent
        as written, so a test can script malformed JSON (OpenAI only: Anthropic's `input` is always an object).
        `capacity`: requests answered at once (the others queue); None: all of them.
        """
        self.reply = reply
        self.latency = latency
        self.capacity = capacity
        self._serving: asyncio.Semaphore | contextlib.nullcontext = contextlib.nullcontext()
        self.record = record
        self.host, self.port = host, port
        # method, path, body (parsed JSON), auth, at and, once its whole answer is written, answered_at (monotonic s)
        self.requests: list[dict] = []
        self.count = 0
        self.in_flight = 0
        self.max_in_flight = 0  # the most requests the server was answering at once
        self.rules: list[Rule] = []
        self.routes: dict[tuple[str, str], Handler] = {
            ("POST", "/v1/chat/completions"): self.openai_chat,
            ("POST", "/v1/messages"): self.anthropic_messages,
        }
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None

    # ---- what is served ----
    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL; Anthropic's SDK takes `origin` (it adds /v1 itself)."""
        return f"{self.origin}/v1"

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._script.extend(replies)

    def paths(self, path: str) -> list[dict]:
        return [r for r in self.requests if r["path"] == path]

    def openai_chat(self, request: Request) -> Reply:
        body = request.json()
        text, calls = _answer(self.reply(body))
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if calls:
            message["tool_calls"] = [
                {"id": f"call_{i}", "type": "function", "function": {
                    "name": c["name"], "arguments": c["arguments"] if isinstance(c["arguments"], str)
                    else json.dumps(c["arguments"])}} for i, c in enumerate(calls)]
        text = text or ""
        prompt = sum(_words(str(m.get("content", ""))) for m in body["messages"])
        return Reply.json(
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}],
                "usage": {"prompt_tokens": prompt, "completion_tokens": _words(text), "total_tokens": prompt + _words(text)},
            }
        )

    def anthropic_messages(self, request: Request) -> Reply:
        body = request.json()
        text, calls = _answer(self.reply(body))
        content = [{"type": "text", "text": text}] if text or not calls else []
        content += [{"type": "tool_use", "id": f"toolu_{i}", "name": c["name"], "input": c["arguments"]}
                    for i, c in enumerate(calls)]
        text = text or ""
        prompt = sum(_words(str(m.get("content", ""))) for m in body["messages"]) + _words(body.get("system", ""))
        return Reply.json(
            {
                "id": "msg_fake",
                "type": "message",
                "role": "assistant",
                "model": body["model"],
                "content": content,
                "stop_reason": "tool_use" if calls else "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": prompt, "output_tokens": _words(text)},
            }
        )

    # ---- HTTP ----
    async def _dispatch(self, request: Request) -> Reply:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            reply = await self._answer(request)
            if reply.delay:
                await asyncio.sleep(reply.delay)
            return reply
        finally:
            with self._lock:
                self.in_flight -= 1

    async def _answer(self, request: Request) -> Reply:
        with self._lock:
            self.count += 1
            if self.record:
                body = request.json() if request.headers.get("content-type", "").startswith("application/json") else None
                request.record = {
                    "method": request.method,
                    "path": request.path,
                    "body": body,
                    "auth": request.headers.get("authorization") or request.headers.get("x-api-key"),
                    "at": time.monotonic(),
                }
                self.requests.append(request.record)
            forced = self._script.popleft() if self._script else None
        async with self._serving:  # past `capacity`, requests wait their turn
            if self.latency:
                await asyncio.sleep(self.latency)
        forced = forced or next((r for rule in self.rules if (r := rule(request)) is not None), None)
        if forced is not None:
            return forced
        handler = self.routes.get((request.method, request.path.split("?")[0]))
        if handler is None:
            return status(404, f"no route for {request.method} {request.path}")
        reply = handler(request)
        return await reply if asyncio.iscoroutine(reply) else reply  # type: ignore[return-value]

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:] if ":" in ln)}
                body = await reader.readexactly(int(headers.get("content-length", 0)))
                request = Request(method, target, headers, body)
                reply = await self._dispatch(request)
                if reply.disconnect:
                    return
                status_line = f"HTTP/1.1 {reply.status} X\r\n"
                extra = "".join(f"{k}: {v}\r\n" for k, v in reply.headers.items())
                writer.write(f"{status_line}content-length: {len(reply.body)}\r\n{extra}\r\n".encode() + reply.body)
                await writer.drain()
                if request.record is not None:
                    request.record["answered_at"] = time.monotonic()
                if headers.get("connection", "").lower() == "close":
                    return
        except (ConnectionError, asyncio.CancelledError):
            return
        finally:
            writer.close()

    async def serve(self) -> None:
        if self.capacity:
            self._serving = asyncio.Semaphore(self.capacity)
        self._server = await asyncio.start_server(self._connection, self.host, self.port, backlog=4096)
        self.port = self._server.sockets[0].getsockname()[1]

    # ---- in a background thread (tests) ----
    def __enter__(self) -> ProviderServer:
        started = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self.serve())
            started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        started.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._server is not None

        async def stop() -> None:
            self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        assert self._thread is not None
        self._thread.join(10)


def raise_fd_limit() -> None:
    """Thousands of open connections need more file descriptors than the usual soft limit of 1024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every request")
    parser.add_argument("--capacity", type=int, default=None, help="requests answered at once; the rest queue")
    args = parser.parse_args()
    raise_fd_limit()
    server = ProviderServer(latency=args.latency, record=False, port=args.port, capacity=args.capacity)

    async def run() -> None:
        await server.serve()
        print(server.port, flush=True)
        await asyncio.Event().wait()

    asyncio.run(run())


if __name__ == "__main__":
    main()
