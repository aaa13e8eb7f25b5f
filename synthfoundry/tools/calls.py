"""Checking a model's tool calls, in APIGen's order: format (the call parses), then schema (the function exists and
its arguments validate against the tool's JSON Schema). Execution is the toolset's; semantics a judge's.

Each check returns None or the ledger reason, prefixed by its stage (`format: ...`, `schema: ...`), so the card's
"why rows were dropped" groups them. `possible_answer` turns verified calls into the ground truth of an RLVR row.
"""

from __future__ import annotations

import json
from typing import Any

from synthfoundry.tools.base import Call, Tool

TOOL_FORMAT = (
    "You can call these functions (JSON schemas):\n{tools}\n"
    "To call functions, reply with one <tool_call>{{\"name\": ..., \"arguments\": {{...}}}}</tool_call> block per "
    "call, all the calls the request needs at once; when no function fits, answer without calling any."
)


def offer_tools(turns: list[dict], tools: str) -> list[dict]:
    """The prompt's turns with `tools` (the JSON schemas, as JSON text) listed and how to call them (`TOOL_FORMAT`),
    in the system turn: appended to the conversation's own, or a new one first."""
    listing = TOOL_FORMAT.format(tools=json.dumps(json.loads(tools), ensure_ascii=False))
    if turns and turns[0]["role"] == "system":
        return [{**turns[0], "content": f"{turns[0]['content']}\n\n{listing}"}, *turns[1:]]
    return [{"role": "system", "content": listing}, *turns]


def first_step(trajectory: str) -> str:
    """A trajectory's first answer as a model is asked to give it under `TOOL_FORMAT`: its calls as `<tool_call>`
    blocks (arguments as objects), or its text when it called nothing (irrelevance)."""
    messages = json.loads(trajectory)
    answer = next(m for m in messages if m["role"] == "assistant")
    calls = answer.get("tool_calls") or []
    if not calls:
        return answer.get("content") or ""
    blocks = []
    for call in calls:
        arguments = call["function"]["arguments"]
        blocks.append(json.dumps({"name": call["function"]["name"],
                                  "arguments": json.loads(arguments) if isinstance(arguments, str) else arguments},
                                 ensure_ascii=False))
    return "\n".join(f"<tool_call>{block}</tool_call>" for block in blocks)


def parse_call(raw: dict[str, str]) -> Call | str:
    """A teacher's call (`{"id", "name", "arguments"}`, arguments as written) as a Call, or the format problem."""
    name = raw.get("name") or ""
    try:
        arguments = json.loads(raw.get("arguments") or "{}")
    except json.JSONDecodeError as error:
        return f"format: {name or 'a call'}: the arguments are not JSON ({error.msg} at character {error.pos})"
    if not isinstance(arguments, dict):
        return f"format: {name or 'a call'}: the arguments are a JSON {type(arguments).__name__}, not an object"
    return Call(name, arguments)


def schema_problem(call: Call, tools: dict[str, Tool]) -> str | None:
    """Why the call does not fit the offered tools (unknown function; wrong type, missing or extra argument, value
    outside the enum or range), or None."""
    import jsonschema

    tool = tools.get(call.name)
    if tool is None:
        return f"schema: no tool named {call.name!r} among those offered ({', '.join(tools)})"
    errors = sorted(jsonschema.Draft202012Validator(tool.parameters).iter_errors(call.arguments),
                    key=lambda e: list(e.absolute_path))
    if not errors:
        return None
    where = "/".join(map(str, errors[0].absolute_path)) or "arguments"
    return f"schema: {call.name}: {where}: {errors[0].message}"


def possible_answer(calls: list[Call], tools: dict[str, Tool]) -> list[dict[str, dict[str, list[Any]]]]:
    """BFCL's possible-answer shape of verified calls: `{name: {argument: [acceptable values]}}`. An optional
    argument the call left out may be left out again or given its default (`""` marks "may be omitted")."""
    answer = []
    for call in calls:
        accepted = {name: [value] for name, value in call.arguments.items()}
        parameters = tools[call.name].parameters
        for name, schema in parameters.get("properties", {}).items():
            if name not in accepted and name not in parameters.get("required", []):
                accepted[name] = ["", schema["default"]] if "default" in schema else [""]
        answer.append({call.name: accepted})
    return answer
