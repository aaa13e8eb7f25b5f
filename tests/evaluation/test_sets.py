import polars as pl

from synthfoundry.evaluation.arms import Arm
from synthfoundry.evaluation.sets import build_set, default_sets, humaneval
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
