"""Toolsets made of Python functions: a module of typed, documented functions, or a JSON file of OpenAI-style function
schemas with the module implementing them. The module is imported only in the sandbox (`runner.SOURCE`); its
functions' signatures come back as plain descriptions and become JSON schemas here, with pydantic.
"""

from __future__ import annotations

import json
import re
import secrets
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import Field, create_model

from synthfoundry.inputs import read_text
from synthfoundry.sandbox import Sandbox
from synthfoundry.tools.base import Call, Outcome, Tool, ToolsetError, check_schema
from synthfoundry.tools.runner import SOURCE

_BASIC: dict[str, Any] = {"integer": int, "number": float, "string": str, "boolean": bool, "null": type(None),
                          "any": Any}


def _python_type(tree: dict) -> Any:
    """The Python type a runner description stands for (built from a closed set of names: nothing is evaluated)."""
    kind = tree["t"]
    if kind in _BASIC:
        found = _BASIC[kind]
    elif kind == "literal":
        found = Literal[tuple(tree["values"])]
    elif kind == "union":
        found = Union[tuple(_python_type(option) for option in tree["options"])]  # noqa: UP007 - built at run time
    elif kind == "array":
        found = list[_python_type(tree["items"])]
    else:
        found = dict[str, _python_type(tree["values"])]
    return Annotated[found, Field(description=tree["description"])] if tree.get("description") else found


_SECTION = re.compile(r"^(Args|Arguments|Parameters|Returns|Raises|Examples?|Yields):\s*$", re.MULTILINE)
_ARGUMENT = re.compile(r"^\s+(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


def parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """Google-style docstring → (description, {argument: description}); the description stops at the first section."""
    first = _SECTION.search(doc)
    description = (doc[: first.start()] if first else doc).strip()
    arguments: dict[str, str] = {}
    block = re.search(r"^(?:Args|Arguments|Parameters):\s*$(.*?)(?=^\S|\Z)", doc, re.MULTILINE | re.DOTALL)
    current, indent = None, 0
    for line in (block.group(1) if block else "").splitlines():
        match = _ARGUMENT.match(line)
        depth = len(line) - len(line.lstrip())
        if match and (current is None or depth <= indent):  # deeper lines continue the argument before
            current, indent = match.group(1), depth
            arguments[current] = match.group(2).strip()
        elif current and line.strip():
            arguments[current] += " " + line.strip()
    return description, arguments


def tool_from_description(found: dict) -> Tool:
    """One runner description → a Tool whose parameters pydantic derived from the signature and the docstring."""
    description, notes = parse_docstring(found["doc"])
    fields = {}
    for param in found["params"]:
        default = param["default"] if "default" in param else ...
        fields[param["name"]] = (_python_type(param["type"]),
                                 Field(default, description=notes.get(param["name"])))
    model = create_model(found["name"], **fields)
    schema = _without_titles(model.model_json_schema())
    return Tool(found["name"], description, {"type": "object", "properties": schema.get("properties", {}),
                                             "required": schema.get("required", [])})


def _without_titles(schema: Any) -> Any:
    """pydantic's `title`s repeat the names; models read the names and descriptions."""
    if isinstance(schema, dict):
        return {k: _without_titles(v) for k, v in schema.items() if not (k == "title" and isinstance(v, str))}
    if isinstance(schema, list):
        return [_without_titles(v) for v in schema]
    return schema


class PythonToolset:
    """Functions of one module file, run in the sandbox: one program per trajectory step, steps in parallel."""

    def __init__(self, module: str | Path, sandbox: Sandbox, schemas: str | Path | None = None) -> None:
        self.module, self.sandbox = module, sandbox
        self.source = read_text(module, "the toolset module", ToolsetError)
        self.tools = self._from_schema_file(schemas) if schemas else self._describe()

    def _exchange(self, request: dict) -> dict:
        nonce = secrets.token_hex(16)
        stdin = nonce + "\n" + json.dumps(request)
        result = self.sandbox.run(SOURCE, stdin=stdin, files={"toolset.py": self.source})
        for line in reversed(result.stdout.splitlines()):
            if line.startswith(nonce):
                answer = json.loads(line[len(nonce):])
                if "import_error" in answer:
                    raise ToolsetError(f"{self.module}: importing it in the sandbox failed: {answer['import_error']} "
                                       "(a toolset module may use only the standard library)")
                return answer
        why = result.reason or result.status
        raise ToolsetError(f"{self.module}: the toolset runner did not answer ({why}): {result.stderr.strip()[-300:]}")

    def _describe(self) -> tuple[Tool, ...]:
        answer = self._exchange({"mode": "describe"})
        if answer["problems"]:
            raise ToolsetError(f"{self.module}: " + "; ".join(answer["problems"]))
        return tuple(tool_from_description(found) for found in answer["tools"])

    def _from_schema_file(self, path: str | Path) -> tuple[Tool, ...]:
        """The file's schemas, each checked against the metaschema and matched to a function of the module (whose
        own annotations, if any, are not used: the schemas say what the model may send)."""
        try:
            entries = json.loads(read_text(path, "the tool schemas", ToolsetError))
        except json.JSONDecodeError as error:
            raise ToolsetError(f"{path}: not JSON ({error})") from None
        if not isinstance(entries, list) or not entries:
            raise ToolsetError(f"{path}: expected a non-empty JSON list of function schemas")
        functions = self._exchange({"mode": "names"})["names"]
        tools = []
        for index, entry in enumerate(entries):
            function = entry.get("function", entry) if isinstance(entry, dict) else None
            name = function.get("name") if isinstance(function, dict) else None
            where = f"{path}: schema {index + 1} ({name or 'no name'})"
            if not isinstance(name, str) or not name:
                raise ToolsetError(f"{where}: each entry needs a `name` (or `function.name`)")
            if name not in functions:
                raise ToolsetError(f"{where}: {self.module} has no function {name!r} (it has {', '.join(functions)})")
            check_schema(function.get("parameters"), where)
            tools.append(Tool(name, function.get("description", ""), function["parameters"]))
        return tuple(tools)

    def run(self, batches: list[list[Call]]) -> list[list[Outcome]]:
        def step(calls: list[Call]) -> list[Outcome]:
            if not calls:
                return []
            try:
                results = self._exchange({"mode": "call", "calls": [vars(c) for c in calls]})["results"]
            except ToolsetError as error:  # the step's program died (timeout, memory): every call of it failed
                return [Outcome(error=str(error).partition(": ")[2]) for _ in calls]
            return [Outcome(error=r["error"]) if "error" in r else Outcome(json.dumps(r["result"], ensure_ascii=False))
                    for r in results]

        with ThreadPoolExecutor(self.sandbox.config.concurrency) as pool:
            return list(pool.map(step, batches))

    def close(self) -> None:
        """Nothing stays open: every step is its own sandboxed program."""
