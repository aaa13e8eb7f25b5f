import json
from collections import Counter

import polars as pl
import pytest

from synthfoundry.evaluation.arms import Arm
from synthfoundry.evaluation.scoring import score_items
from synthfoundry.evaluation.sets import build_set, default_sets, humaneval, tool_calls
from synthfoundry.evaluation.student import cache_root, prepare_student
from synthfoundry.sandbox import Sandbox
from synthfoundry.tools import Call, ToolsetConfig, open_toolset
from synthfoundry.tools.verifier import extract_calls
from synthfoundry.verify import verify


def code_arm(instructions: list[str]) -> Arm:
    rows = pl.DataFrame({"id": [str(i) for i in range(len(instructions))], "instruction": instructions,
                         "input": [""] * len(instructions), "verifier": ["code_tests:python"] * len(instructions)})
    return Arm("v1", "code", 1, "sft", rows)


def test_humaneval_items_are_decontaminated_and_their_references_pass_in_the_sandbox():
    pool = humaneval([], 0, seed=0)
    assert pool.height == 164
    arm = code_arm([pool["instruction"][0], "write a haiku"])  # one held-out prompt leaked into training
    assert default_sets([arm]) == ["humaneval"]
    items, overlap = build_set("humaneval", [arm], 3, seed=0)
    assert overlap == {"v1": 1} and items.height == 3 and pool["item_id"][0] not in items["item_id"].to_list()
    for item in items.to_dicts():
        assert verify(item["reference"], item).score == 1.0
        assert verify("```python\ndef nothing():\n    return None\n```", item).score == 0.0


def tool_calls_of(item: dict) -> list[Call]:
    return [Call(name, arguments) for name, arguments in extract_calls(item["reference"])]


def perturbed(item: dict) -> str:
    """The reference with its first call's first argument changed (a number plus one, a string extended), or, where
    no tool fits, a call of the first offered tool."""
    calls = tool_calls_of(item)
    if not calls:
        calls = [Call(json.loads(item["tools"])[0]["function"]["name"], {})]
    else:
        name, value = next(iter(calls[0].arguments.items()))
        calls[0].arguments[name] = value + 1 if isinstance(value, (int, float)) else f"{value} 9"
    return "\n".join(f"<tool_call>{json.dumps({'name': c.name, 'arguments': c.arguments})}</tool_call>"
                     for c in calls)


def test_tool_call_items_offer_the_shipped_tools_and_their_references_verify():
    items = tool_calls([], 0, seed=0).to_dicts()
    categories = Counter(json.loads(item["metadata"])["category"] for item in items)
    assert categories == {"simple": 6, "multiple": 6, "parallel": 4, "parallel_multiple": 2, "irrelevance": 6}
    with open_toolset(ToolsetConfig(), Sandbox()) as toolset:
        schemas = {tool.name: tool.schema() for tool in toolset.tools}
        outcomes = toolset.run([tool_calls_of(item) for item in items])
    for item, results in zip(items, outcomes, strict=True):
        offered = [tool["function"]["name"] for tool in json.loads(item["tools"])]
        assert json.loads(item["tools"]) == [schemas[name] for name in offered], item["item_id"]  # as the recipe offers
        assert all(result.ok for result in results), (item["item_id"], results)  # the ground truth runs
        assert {call.name for call in tool_calls_of(item)} <= set(offered)
        assert verify(item["reference"], item).score == 1.0, item["item_id"]
        assert verify(perturbed(item), item).score == 0.0, item["item_id"]


def test_tool_use_arms_get_the_tool_call_set_decontaminated():
    pool = tool_calls([], 0, seed=0)
    leaked = pool["instruction"][0]
    rows = pl.DataFrame({"id": ["a", "b"], "instruction": [leaked.upper(), "What is 2 + 2?"], "input": ["", ""],
                         "verifier": ["tool_calls", "tool_calls"]})
    arm = Arm("v1", "tools", 1, "sft", rows)
    assert default_sets([arm]) == ["tool_calls"]
    items, overlap = build_set("tool_calls", [arm], 30, seed=0)
    assert overlap == {"v1": 1} and items.height == pool.height - 1 and leaked not in items["instruction"].to_list()


@pytest.mark.slow
def test_the_base_student_is_scored_on_tool_call_items_with_the_tools_in_its_prompt():
    """Through the evaluation's scoring path: the reference calls are far likelier when the prompt lists the tools
    (names and arguments to copy) than for the same request without them."""
    student = prepare_student(None, "cpu", cache_root())
    model, tokenizer = student.load()
    items = tool_calls([], 0, seed=0).head(4)
    scores = score_items(model, tokenizer, items, max_new_tokens=64, batch_size=4)
    unlisted = score_items(model, tokenizer, items.with_columns(pl.lit(None, pl.String).alias("tools")),
                           max_new_tokens=1, batch_size=4)
    assert set(scores["score"]) <= {0.0, 1.0} and all(isinstance(json.loads(e), list) for e in scores["extracted"])
    calling = [bool(tool_calls_of(item)) for item in items.to_dicts()]
    assert 0 < sum(calling) < len(calling)  # the head mixes categories: calls and an irrelevance item
    for makes_calls, listed, bare in zip(calling, scores["loss"], unlisted["loss"], strict=True):
        if makes_calls:
            assert listed < 0.8 * bare
