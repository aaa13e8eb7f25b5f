"""Toolsets as seeds: the tools a tool-use row may call, described by JSON schemas and executed for real.

Three kinds, one loader each, one error (`ToolsetError`, raised before any request):
  module: tools.py                        typed, documented Python functions; schemas derived with pydantic
  schemas: tools.json + module: impl.py   OpenAI-style function schemas, implemented by the module's functions
  mcp: [python, server.py]                an MCP server on stdio (the official `mcp` SDK lists and calls its tools),
  mcp: http://127.0.0.1:8000/mcp          or a running one over streamable HTTP
With none of them: the shipped everyday toolset (`everyday.py`). Python modules are imported and run only in the
sandbox; an MCP server runs as the user's own program.

    with open_toolset(ToolsetConfig(), sandbox) as toolset:
        toolset.tools                                            # Tool(name, description, parameters)
        toolset.run([[Call("add_days", {"date": "2026-01-30", "days": 3})]])   # [[Outcome(output='"2026-02-02"')]]
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from pydantic import Field, model_validator

from synthfoundry.inputs import Place
from synthfoundry.sandbox import Sandbox
from synthfoundry.strict import Strict
from synthfoundry.tools.base import Call, Outcome, Tool, Toolset, ToolsetError


def shipped_module() -> Path:
    return Path(str(resources.files(__package__) / "everyday.py"))


class ToolsetConfig(Strict):
    module: Place | None = Field(None, description="Python file of typed, documented functions (default: shipped); a path "
                                 "or a URL")
    schemas: Place | None = Field(None, description="JSON list of OpenAI-style function schemas `module` implements")
    mcp: list[str] | str | None = Field(None, min_length=1, description="an MCP server: its stdio command, e.g. "
                                        "[python, s.py], or the URL of a running one (streamable HTTP)")
    call_timeout_s: float = Field(30.0, gt=0, description="MCP: seconds per call")

    @model_validator(mode="after")
    def _one_kind(self) -> ToolsetConfig:
        if isinstance(self.mcp, str) and not self.mcp.startswith(("http://", "https://")):
            raise ValueError(f"toolset.mcp: {self.mcp!r} is neither a command list nor an http(s) URL")
        if self.mcp and (self.module or self.schemas):
            raise ValueError("toolset: give either `mcp` (a server command) or `module` (with optional `schemas`)")
        if self.schemas and not self.module:
            raise ValueError("toolset: `schemas` needs `module`, the Python file implementing them")
        return self


@contextmanager
def open_toolset(config: ToolsetConfig, sandbox: Sandbox) -> Iterator[Toolset]:
    """The toolset, checked (every schema valid, the server started); closed on exit."""
    from synthfoundry.tools.mcp_server import McpToolset
    from synthfoundry.tools.python_module import PythonToolset

    if config.mcp:
        toolset: Toolset = McpToolset(config.mcp, call_timeout_s=config.call_timeout_s)
    else:
        toolset = PythonToolset(config.module or shipped_module(), sandbox, config.schemas)
    try:
        yield toolset
    finally:
        toolset.close()


__all__ = ["Call", "Outcome", "Tool", "Toolset", "ToolsetConfig", "ToolsetError", "open_toolset", "shipped_module"]
