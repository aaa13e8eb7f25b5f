"""A toolset served by an MCP server, through the official `mcp` SDK: its tools are listed and called. The server is
a stdio command (started here) or the URL of a running server (streamable HTTP).

The server is the user's own program (it may need the network or files), so it runs as configured, not in the
sandbox. One session stays open for the whole run on a background event loop; calls from the recipe's threads are
handed to it, and a step's calls run concurrently.
"""

from __future__ import annotations

import asyncio
import json
import threading
from contextlib import AsyncExitStack
from typing import Any

from synthfoundry.tools.base import Call, Outcome, Tool, ToolsetError, check_schema

START_TIMEOUT_S = 30.0


class McpToolset:
    def __init__(self, server: list[str] | str, env: dict[str, str] | None = None, call_timeout_s: float = 30.0) -> None:
        """`server`: a stdio command, or an http(s) URL."""
        self.command = [server] if isinstance(server, str) else server
        self.call_timeout_s = call_timeout_s
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="mcp-toolset", daemon=True)
        self._thread.start()
        self._stack = AsyncExitStack()
        self._session: Any = None
        try:
            listed = self._submit(self._open(server, env), START_TIMEOUT_S)
        except Exception as error:
            self.close()
            if isinstance(server, str):
                raise ToolsetError(f"mcp server at {server} did not answer: {_reason(error)} (check it runs and "
                                   "serves streamable HTTP at that path, e.g. http://127.0.0.1:8000/mcp)") from None
            raise ToolsetError(f"mcp server `{' '.join(server)}` did not start: {_reason(error)} (check the command "
                               "runs alone and speaks MCP on stdio)") from None
        command = self.command
        tools = []
        for tool in listed:
            check_schema(tool.input_schema, f"mcp server `{' '.join(command)}`: tool {tool.name}")
            tools.append(Tool(tool.name, tool.description or "", tool.input_schema))
        if not tools:
            raise ToolsetError(f"mcp server `{' '.join(command)}` lists no tools")
        self.tools = tuple(tools)

    def _submit(self, coroutine: Any, timeout: float) -> Any:
        return asyncio.run_coroutine_threadsafe(asyncio.wait_for(coroutine, timeout), self._loop).result()

    async def _open(self, server: list[str] | str, env: dict[str, str] | None) -> list:
        import os
        import sys

        from mcp import ClientSession, StdioServerParameters
        from mcp.client.stdio import stdio_client
        from mcp.client.streamable_http import streamable_http_client

        if isinstance(server, str):
            read, write, *_ = await self._stack.enter_async_context(streamable_http_client(server))
        else:
            executable, *args = server
            parameters = StdioServerParameters(command=sys.executable if executable == "python" else executable,
                                               args=args, env={**os.environ, **(env or {})})
            quiet = self._stack.enter_context(open(os.devnull, "w"))  # the server's log lines on stderr are not ours
            read, write = await self._stack.enter_async_context(stdio_client(parameters, errlog=quiet))
        self._session = await self._stack.enter_async_context(ClientSession(read, write))
        await self._session.initialize()
        return list((await self._session.list_tools()).tools)

    async def _call(self, call: Call) -> Outcome:
        try:
            result = await asyncio.wait_for(self._session.call_tool(call.name, call.arguments), self.call_timeout_s)
        except Exception as error:  # noqa: BLE001 - a call's failure is that row's, the server may still be fine
            return Outcome(error=_reason(error))
        text = "\n".join(block.text for block in result.content if getattr(block, "type", "") == "text")
        if result.is_error:
            return Outcome(error=text or "the tool reported an error")
        value = result.structured_content
        if isinstance(value, dict) and set(value) == {"result"}:
            value = value["result"]
        return Outcome(json.dumps(value, ensure_ascii=False) if value is not None else json.dumps(text))

    def run(self, batches: list[list[Call]]) -> list[list[Outcome]]:
        async def step(calls: list[Call]) -> list[Outcome]:
            return list(await asyncio.gather(*(self._call(c) for c in calls)))

        async def everything() -> list[list[Outcome]]:
            return list(await asyncio.gather(*(step(calls) for calls in batches)))

        return self._submit(everything(), self.call_timeout_s * max(1, len(batches)))

    def close(self) -> None:
        if self._loop.is_closed():
            return
        if self._thread.is_alive():
            try:
                asyncio.run_coroutine_threadsafe(self._stack.aclose(), self._loop).result(10)
            except Exception:  # noqa: BLE001, S110 - closing a session that never opened
                pass
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._loop.close()


def _reason(error: BaseException) -> str:
    """The innermost message of an error (anyio wraps failures in exception groups)."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    if isinstance(error, TimeoutError):
        return "no answer within the time limit"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
