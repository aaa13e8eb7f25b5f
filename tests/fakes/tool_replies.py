"""A scripted tool-using teacher for the fake provider: it writes requests that name their scenario, then answers
them with good, malformed, schema-violating, failing or irrelevant calls, in the OpenAI or Anthropic wire format.

Request prompts get "Request (<scenario>, <category>) <n>: ..."; the scenario is drawn from the prompt's hash, so a
run is deterministic and a test reads from each row's request what should have become of it:
  good       the calls the category needs (one; two of one tool; two tools; none for irrelevance), then an answer
  malformed  arguments that are not JSON (OpenAI only: Anthropic's `input` is always an object)
  schema     an argument of the wrong type
  failing    arguments the test toolset raises on ("FAIL", 13)
  called     irrelevance rows only: a call although no tool fits
The `tool_use` judge rubric rates trajectories that call `lookup` 2, others 5.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
from typing import Any

from synthfoundry.recipes.tool_use import CATEGORIES

SCENARIOS = ("good", "good", "malformed", "schema", "failing")
EXPECTED_REASON = {"malformed": "format:", "schema": "schema:", "failing": "execution:", "called": "irrelevance:"}


def _hash(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def _value(schema: dict, failing: bool) -> Any:
    if "enum" in schema:
        return schema["enum"][0]
    if "anyOf" in schema:
        return _value(schema["anyOf"][0], failing)
    kind = schema.get("type")
    return {"integer": 13 if failing else 2, "number": 2.5, "boolean": True}.get(kind, "FAIL" if failing else "tea")


def _arguments(parameters: dict, scenario: str) -> dict:
    properties = parameters.get("properties", {})
    arguments = {name: _value(properties[name], scenario == "failing") for name in parameters.get("required", [])}
    if scenario == "schema":
        arguments[next(iter(properties))] = [1, 2, 3]  # a list where the schema wants a scalar
    return arguments


def _tools(body: dict) -> list[tuple[str, dict]]:
    return [(t["function"]["name"], t["function"]["parameters"]) if "function" in t else (t["name"], t["input_schema"])
            for t in body.get("tools", [])]


def _text(message: dict) -> str:
    content = message.get("content")
    return content if isinstance(content, str) else ""


class ScriptedToolTeacher:
    """The fake provider's `reply`: numbers its requests, so no two rows ask the same."""

    def __init__(self) -> None:
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()

    def __call__(self, body: dict) -> str | dict:
        if body.get("tools"):
            return answer(body)
        prompt = _text(body["messages"][-1])
        if "how well the calls and the answers serve" in prompt:  # the tool_use rubric's judge
            return "The calls fit the request.\n2" if "Call: lookup(" in prompt else "The calls fit the request.\n5"
        with self._lock:
            number = next(self._numbers)
        if "Write the user's next message" in prompt:
            return f"Follow-up {number}: and could you now do the same again for me?"
        category = next(name for name, spec in CATEGORIES.items() if spec["task"] in prompt)
        options = ("good", "called") if category == "irrelevance" else SCENARIOS
        scenario = options[_hash(prompt + str(number)) % len(options)]
        if scenario == "malformed" and "temperature" not in body:  # Anthropic's bodies carry no sampling parameters
            scenario = "good"
        return f"Request ({scenario}, {category}) {number}: could you please help me with this today?"


def answer(body: dict) -> dict | str:
    """The assistant's step: the scenario's calls, or the final answer once results are in."""
    messages = body["messages"]
    request = next(_text(m) for m in messages if m["role"] == "user" and _text(m).startswith("Request ("))
    scenario, category = request[len("Request ("):].split(")")[0].split(", ")
    last = messages[-1]
    answered = last["role"] == "tool" or (isinstance(last.get("content"), list)
                                          and any(b.get("type") == "tool_result" for b in last["content"]))
    if answered or (category == "irrelevance" and scenario == "good"):
        return "Here is what I found: " + " ".join(json.dumps(_text(m) or m.get("content"))[:40] for m in messages[-2:])
    tools = _tools(body)
    if category == "parallel":
        chosen = [tools[0], tools[0]]
    elif category == "parallel_multiple":
        chosen = tools[:2]
    else:
        chosen = tools[:1]
    calls = [{"name": name, "arguments": _arguments(parameters, scenario)} for name, parameters in chosen]
    if scenario == "malformed":
        calls[0]["arguments"] = json.dumps(calls[0]["arguments"])[:-3]
    return {"content": None, "tool_calls": calls}
