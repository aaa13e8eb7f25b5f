"""Throughput of the `tool_calls` verifier, against the `exact` verifier on the same rows (a string comparison: the
floor any verifier pays for reading the row), and of a toolset step in the sandbox against a bare sandboxed program.

    .venv/bin/python -m bench.tool_calls            # 20 k responses per form, best of 3; 40 toolset steps

Response forms: OpenAI `tool_calls` JSON, a JSON list, `<tool_call>` blocks, Python call syntax, each with two
parallel calls matched against a two-call ground truth (both orders tried), type-aware with the row's tools.
"""

from __future__ import annotations

import argparse
import json
import time

from synthfoundry.sandbox import Sandbox
from synthfoundry.tools import Call, ToolsetConfig, open_toolset
from synthfoundry.verify import verify

TOOLS = json.dumps([{"type": "function", "function": {"name": "convert_units", "parameters": {
    "type": "object", "properties": {"value": {"type": "number"}, "from_unit": {"type": "string"},
                                     "to_unit": {"type": "string"}}}}}])
ANSWER = json.dumps([{"convert_units": {"value": [10], "from_unit": ["km"], "to_unit": ["mi"]}},
                     {"convert_units": {"value": [5], "from_unit": ["kg"], "to_unit": ["lb"]}}])
CALLS = [("convert_units", {"value": 5, "from_unit": "kg", "to_unit": "lb"}),
         ("convert_units", {"value": 10.0, "from_unit": "KM", "to_unit": "mi"})]
FORMS = {
    "openai tool_calls": json.dumps({"tool_calls": [{"id": f"c{i}", "type": "function", "function": {
        "name": n, "arguments": json.dumps(a)}} for i, (n, a) in enumerate(CALLS)]}),
    "json list": json.dumps([{"name": n, "arguments": a} for n, a in CALLS]),
    "<tool_call> blocks": "".join(f"<tool_call>{json.dumps({'name': n, 'arguments': a})}</tool_call>" for n, a in CALLS),
    "python calls": "[" + ", ".join(f"{n}({', '.join(f'{k}={v!r}' for k, v in a.items())})" for n, a in CALLS) + "]",
}


def rate(response: str, row: dict, count: int, rounds: int) -> float:
    best = 0.0
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(count):
            verify(response, row)
        best = max(best, count / (time.perf_counter() - started))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=40)
    args = parser.parse_args()
    row = {"answer": ANSWER, "verifier": "tool_calls", "tools": TOOLS}
    floor = rate("42", {"answer": "42", "verifier": "exact"}, args.count, args.rounds)
    print(f"exact verifier (floor): {floor:,.0f} responses/s")
    for name, response in FORMS.items():
        assert verify(response, row).score == 1.0, name
        found = rate(response, row, args.count, args.rounds)
        print(f"tool_calls, {name}: {found:,.0f} responses/s ({found / floor:.2f} of exact)")
    sandbox = Sandbox()
    started = time.perf_counter()
    for _ in range(args.steps):
        sandbox.run("pass\n")
    bare = args.steps / (time.perf_counter() - started)
    with open_toolset(ToolsetConfig(), sandbox) as toolset:
        step = [Call(n, a) for n, a in CALLS]
        started = time.perf_counter()
        toolset.run([step] * args.steps)  # concurrently, as the recipe runs a batch's steps
        steps = args.steps / (time.perf_counter() - started)
    print(f"sandboxed `pass`: {bare:.1f} programs/s one at a time; toolset steps of 2 calls: {steps:.1f} steps/s "
          f"({sandbox.config.concurrency} at a time)")


if __name__ == "__main__":
    main()
