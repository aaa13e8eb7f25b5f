"""The `tool_calls` verifier: do a response's function calls match the row's ground-truth calls?

`row["answer"]` is a JSON list of calls in BFCL's possible-answer shape, `{function: {argument: [acceptable values]}}`:
`""` among the values means the argument may be left out; an object-valued argument holds acceptable values per key
in the same shape; an empty list means no call is right (irrelevance). `row["tools"]` (the JSON schemas, optional)
makes the comparison type-aware: an "integer" must be integral, a "string" a string.

The response may be OpenAI-style `tool_calls` JSON (a message or its list), a JSON list of `{name, arguments}`,
`<tool_call>{...}</tool_call>` blocks (Hermes / Qwen), or Python call syntax (`f(a=1)`, `[f(a=1), g(b="x")]`).
Parallel calls match in any order; strings compare after normalising case, spaces and punctuation; numbers by value.
A response with no call extracts as no calls, which is right only for an empty ground truth.
"""

from __future__ import annotations

import ast
import itertools
import json
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from synthfoundry.verdicts import Verifier, VerifierError, normalise

NAME = "tool_calls"
Found = list[tuple[str, dict[str, Any]]]
_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>", re.DOTALL)
_FENCE = re.compile(r"^\s*```(?:json|python)?\s*(.*?)\s*```\s*$", re.DOTALL)


def _from_json(value: Any) -> Found | None:
    if isinstance(value, dict) and "tool_calls" in value:
        value = value["tool_calls"] or []
    items = value if isinstance(value, list) else [value]
    found = []
    for item in items:
        if not isinstance(item, dict):
            return None
        function = item.get("function", item)
        arguments = function.get("arguments", function.get("parameters", {}))
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except json.JSONDecodeError:
                return None
        if not isinstance(function.get("name"), str) or not isinstance(arguments, dict):
            return None
        found.append((function["name"], arguments))
    return found


def _from_python(text: str) -> Found | None:
    try:
        tree = ast.parse(text.strip(), mode="exec")
    except SyntaxError:
        return None
    nodes: list[ast.AST] = []
    for statement in tree.body:
        if not isinstance(statement, ast.Expr):
            return None
        value = statement.value
        nodes += value.elts if isinstance(value, (ast.List, ast.Tuple)) else [value]
    found = []
    for node in nodes:
        if not isinstance(node, ast.Call) or node.args or any(k.arg is None for k in node.keywords):
            return None
        name = ast.unparse(node.func)
        try:
            found.append((name, {k.arg: ast.literal_eval(k.value) for k in node.keywords}))
        except ValueError:
            return None
    return found


def extract_calls(response: str) -> Found:
    """The calls a response makes, in order; [] when it makes none (plain text is an answer without calls)."""
    text = _FENCE.sub(r"\1", response or "").strip()
    tagged = _TAGGED.findall(text)
    candidates = [f"[{','.join(tagged)}]"] if tagged else [text]
    for candidate in candidates:
        try:
            found = _from_json(json.loads(candidate))
        except json.JSONDecodeError:
            found = _from_python(candidate)
        if found is not None:
            return found
    return []


def _matches(value: Any, accepted: Any, schema: Mapping[str, Any]) -> bool:
    kind = schema.get("type")
    if isinstance(accepted, dict) and isinstance(value, dict):
        return _arguments_match(value, accepted, schema)
    if isinstance(value, bool) or isinstance(accepted, bool):
        return value is accepted
    if isinstance(value, (int, float)) and isinstance(accepted, (int, float)):
        if kind == "integer" and not float(value).is_integer():
            return False
        return abs(value - accepted) <= 1e-9 * max(1.0, abs(accepted))
    if isinstance(value, str) and isinstance(accepted, str):
        return normalise(value) == normalise(accepted)
    if isinstance(value, list) and isinstance(accepted, list):
        items = schema.get("items", {})
        return len(value) == len(accepted) and all(_matches(v, a, items) for v, a in zip(value, accepted, strict=True))
    return value == accepted


def _arguments_match(arguments: Mapping[str, Any], gold: Mapping[str, list], schema: Mapping[str, Any]) -> bool:
    properties = schema.get("properties", {})
    if set(arguments) - set(gold):
        return False
    for name, accepted in gold.items():
        if not isinstance(accepted, list):  # an object-valued argument: acceptable values per key
            if name not in arguments or not _arguments_match(arguments[name] or {}, accepted, properties.get(name, {})):
                return False
            continue
        if name not in arguments:
            if "" not in accepted:
                return False
        elif not any(_matches(arguments[name], a, properties.get(name, {})) for a in accepted if a != ""):
            return False
    return True


class ToolCalls(Verifier):
    def extract(self, response: str) -> Found:
        return extract_calls(response)

    def gold(self, answer: str) -> list[tuple[str, dict[str, Any]]]:
        return _gold(answer)

    def score(self, found: Found, row: Mapping[str, Any]) -> float:
        gold = self.gold(str(row["answer"]))
        tools = row.get("tools")
        schemas = _schemas(tools if isinstance(tools, str) or tools is None else json.dumps(tools))
        if len(found) != len(gold):
            return 0.0
        for order in itertools.permutations(range(len(found))):  # parallel calls match in any order
            if all(found[i][0] == name and _arguments_match(found[i][1], arguments, schemas.get(name, {}))
                   for i, (name, arguments) in zip(order, gold, strict=True)):
                return 1.0
        return 0.0

    def agree(self, first: Found, second: Found) -> bool:
        def canonical(calls: Found) -> list[str]:
            return sorted(json.dumps([n, a], sort_keys=True) for n, a in calls)

        return canonical(first) == canonical(second)

    def show(self, found: Found) -> str:
        return json.dumps([{"name": n, "arguments": a} for n, a in found], ensure_ascii=False)


# A dataset's rows repeat few distinct tool lists, and a rollout batch scores many responses per row: parse each once.
@lru_cache(maxsize=4096)
def _gold(answer: str) -> list[tuple[str, dict[str, Any]]]:
    try:
        calls = json.loads(answer)
        gold = [next(iter(c.items())) for c in calls]
    except (json.JSONDecodeError, TypeError, AttributeError, StopIteration):
        raise VerifierError(f"tool_calls: the ground truth is not a JSON list of {{function: {{arg: [values]}}}}"
                            f" calls: {answer[:200]!r}") from None
    if not all(isinstance(args, dict) for _, args in gold):
        raise VerifierError(f"tool_calls: each call's arguments must be an object: {answer[:200]!r}")
    return gold


@lru_cache(maxsize=4096)
def _schemas(tools: str | None) -> dict[str, dict]:
    """Parameters schema per function name from a row's `tools` (JSON text; OpenAI or bare form)."""
    if not tools:
        return {}
    items = json.loads(tools)
    found = {}
    for item in items:
        function = item.get("function", item)
        found[function["name"]] = function.get("parameters", {})
    return found
