import json

import polars as pl

from synthfoundry.evaluation.scoring import conversations
from synthfoundry.verify import verify

TOOLS = json.dumps([{"type": "function", "function": {
    "name": "convert_units", "description": "Convert a quantity.",
    "parameters": {"type": "object", "properties": {"value": {"type": "number"}, "from_unit": {"type": "string"},
                                                     "to_unit": {"type": "string"}},
                   "required": ["value", "from_unit", "to_unit"]}}}])


def tool_row(calls: list[dict], final: str) -> dict:
    """A published tool-use row: its request, trajectory (OpenAI form), tools, final answer and ground truth."""
    step = {"role": "assistant", "content": None if calls else final, "tool_calls": [
        {"id": f"call_{i}", "type": "function", "function": {"name": c["name"], "arguments": json.dumps(c["arguments"])}}
        for i, c in enumerate(calls)]}
    trajectory = [{"role": "user", "content": "How far is 26.2 miles in km?"}, step]
    truth = [{c["name"]: {k: [v] for k, v in c["arguments"].items()}} for c in calls]
    return {"id": "r1", "instruction": "How far is 26.2 miles in km?", "input": "", "response": final,
            "messages": None, "trajectory": json.dumps(trajectory), "tools": TOOLS, "answer": json.dumps(truth),
            "verifier": "tool_calls"}


def test_a_tool_use_row_trains_as_the_tool_call_set_asks_and_its_answer_verifies():
    """Training sees the request with its tools offered and the first step's calls as `<tool_call>` blocks: the
    held-out tool-call set's shape, which the row's own verifier scores 1.0 (a plain-text row stays as it was)."""
    call = {"name": "convert_units", "arguments": {"value": 26.2, "from_unit": "mi", "to_unit": "km"}}
    rows = pl.DataFrame([tool_row([call], "It is 42.2 km."), {**tool_row([], "x"), "id": "r2", "trajectory": None,
                                                               "tools": None, "answer": None, "verifier": None}])
    (prompt, answer), (plain_prompt, plain_answer) = conversations(rows)
    assert prompt[0]["role"] == "system" and "convert_units" in prompt[0]["content"] and prompt[1]["role"] == "user"
    assert answer["content"].startswith("<tool_call>") and "42.2" not in answer["content"]
    assert verify(answer["content"], rows.row(0, named=True)).score == 1.0
    assert [t["role"] for t in plain_prompt] == ["user"] and plain_answer["content"] == "x"
