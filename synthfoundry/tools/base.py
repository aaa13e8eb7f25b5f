"""What every toolset is: tools described by JSON schemas, and a way to run batches of calls of them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from synthfoundry.errors import UserError


class ToolsetError(UserError, ValueError):
    """A toolset that cannot be used (an untyped function, a schema that does not validate, a server that does not
    start); the message names the file or command, the tool and the fix. Raised in preflight, before any request."""


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]  # JSON Schema of the arguments object

    def schema(self) -> dict[str, Any]:
        """The OpenAI-style function schema, the form every provider's tool list is built from."""
        return {"type": "function", "function": {"name": self.name, "description": self.description,
                                                 "parameters": self.parameters}}


@dataclass(frozen=True)
class Call:
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    """What a call returned (JSON text), or why it failed."""

    output: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def content(self) -> str:
        """The tool message the model reads: the result, or the error (a model may recover from it)."""
        return self.output if self.error is None else json.dumps({"error": self.error})


class Toolset(Protocol):
    tools: tuple[Tool, ...]

    def run(self, batches: list[list[Call]]) -> list[list[Outcome]]:
        """Each batch's calls in order (one trajectory step); the batches concurrently."""
        ...

    def close(self) -> None: ...


def check_schema(parameters: object, where: str) -> None:
    """A tool's parameters must be a JSON Schema object that validates against the metaschema."""
    import jsonschema

    if not isinstance(parameters, dict) or parameters.get("type") != "object":
        raise ToolsetError(f"{where}: `parameters` must be a JSON Schema with type \"object\"")
    try:
        jsonschema.Draft202012Validator.check_schema(parameters)
    except jsonschema.SchemaError as error:
        path = "/".join(map(str, error.absolute_path)) or "parameters"
        raise ToolsetError(f"{where}: invalid JSON Schema at {path}: {error.message}") from None
