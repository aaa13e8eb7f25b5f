from pathlib import Path

import pytest

from synthfoundry.evaluation.config import (
    EvaluationConfigError,
    load_evaluation_config,
    parse_evaluation_config,
    split_arm,
)


def test_minimal_config_runs_on_defaults():
    config = parse_evaluation_config({"dataset": "procedural", "arms": ["v3", "stable", "other@v2"],
                                      "train": {"max_steps": 5}, "eval": {"items": 8}})
    assert config.base and config.train.max_steps == 5 and config.eval.items == 8
    assert split_arm("other@v2", "procedural") == ("other", "v2") and split_arm("v3", "procedural") == ("procedural", "v3")


def test_bad_config_names_each_field():
    with pytest.raises(EvaluationConfigError) as error:
        parse_evaluation_config({"dataset": "d", "arms": ["base", "a b"], "train": {"batch_size": 3, "stepz": 1}}, "e.yaml")
    message = str(error.value)
    assert "e.yaml" in message and "arms" in message and "train.stepz: unknown field" in message


@pytest.mark.parametrize("path", sorted((Path(__file__).parents[2] / "deployments/configs/evaluate").glob("*.yaml")),
                         ids=lambda p: p.stem)
def test_every_shipped_evaluation_config_is_valid(path):
    assert load_evaluation_config(path).arms
