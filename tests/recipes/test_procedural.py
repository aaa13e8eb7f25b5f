import json
import random

import pytest

from synthfoundry.config import ConfigError, parse_config
from synthfoundry.recipes import procedural
from synthfoundry.verify import verify
from tests.helpers import assert_accounted, run_recipe


def never_ask(requests):
    raise AssertionError("the procedural recipe must not call the teacher")


def make(datasets, seed=1, **options):
    config = procedural.Config(datasets=datasets, options=options)
    return procedural.synthesize(config, never_ask, random.Random(seed), lambda _message: None)


def test_rows_carry_prompt_exact_answer_verifier_and_generator_metadata():
    result = make({"basic_arithmetic": 5, "gsm_symbolic": 3})
    assert result.counts == {"in": 8, "kept": 8, "dropped": 0}
    rows = result.kept.to_dicts()
    assert [r["verifier"] for r in rows] == ["reasoning_gym:basic_arithmetic"] * 5 + ["reasoning_gym:gsm_symbolic"] * 3
    for row in rows:
        assert row["answer"] and row["instruction"] and row["response"] is None
        assert json.loads(row["metadata"])["source_dataset"] == row["verifier"].split(":")[1]
        assert verify(row["answer"], row).score == 1.0  # what a trainer does with a published row
        assert row["recipe"] == "procedural" and row["template_hash"]


def test_deterministic_by_run_seed_and_independent_of_other_datasets():
    first = make({"basic_arithmetic": 4}, seed=7)
    again = make({"basic_arithmetic": 4, "gsm_symbolic": 2}, seed=7)
    other = make({"basic_arithmetic": 4}, seed=8)
    prompts = first.kept["instruction"].to_list()
    assert again.kept["instruction"].to_list()[:4] == prompts
    assert first.kept["id"].to_list() == again.kept["id"].to_list()[:4]
    assert other.kept["instruction"].to_list() != prompts


def test_tasks_without_exact_answer_and_repeated_prompts_go_to_the_ledger():
    result = make({"graph_color": 2})
    assert result.counts["kept"] == 0
    assert result.dropped["reason"].to_list() == ["the generator gives no exact answer for this task"] * 2
    tiny = {"min_terms": 2, "max_terms": 2, "min_digits": 1, "max_digits": 1, "operators": ["+"]}
    repeated = make({"basic_arithmetic": 150}, **{"basic_arithmetic": tiny})
    assert "duplicate prompt" in repeated.dropped["reason"].to_list()
    assert repeated.kept["instruction"].is_unique().all()
    assert repeated.counts["in"] == 150


def test_answers_the_verifier_cannot_check_after_serialisation_are_dropped():
    result = make({"arc_agi": 1})  # its score_answer compares tuples, which JSON turns into lists
    assert result.counts["kept"] == 0
    assert result.dropped["reason"][0].startswith("the verifier scores the generator's own answer")


def test_unknown_dataset_is_a_config_error_with_close_matches():
    config = {"dataset": "d", "recipe": {"name": "procedural", "datasets": {"basic_arithmatic": 3, "zzz": 1}}}
    with pytest.raises(ConfigError) as error:
        parse_config(config, "run.yaml")
    message = str(error.value)
    assert "recipe.datasets" in message
    assert "unknown reasoning-gym dataset 'basic_arithmatic' (did you mean basic_arithmetic" in message
    assert "unknown reasoning-gym dataset 'zzz'" in message


def test_bad_generator_options_are_a_config_error():
    recipe = {"name": "procedural", "datasets": {"basic_arithmetic": 3}, "options": {"basic_arithmetic": {"x": 1}}}
    with pytest.raises(ConfigError, match=r"recipe.options: .*basic_arithmetic: reasoning-gym rejects them"):
        parse_config({"dataset": "d", "recipe": recipe}, "run.yaml")
    recipe["options"] = {"gsm_symbolic": {}}
    with pytest.raises(ConfigError, match="'gsm_symbolic' is not one of the configured datasets"):
        parse_config({"dataset": "d", "recipe": recipe}, "run.yaml")


@pytest.mark.usefixtures("prefect_harness")
def test_run_publishes_verifiable_rlvr_rows_without_a_teacher(tmp_path):
    published = run_recipe(tmp_path, {"name": "procedural", "datasets": {"basic_arithmetic": 6, "chain_sum": 4}})
    assert_accounted(published)
    assert published.data.height >= 1
    assert published.manifest["contract"]["suite"] == "rlvr" and published.manifest["contract"]["success"]
    assert published.manifest["cost"]["requests"] == {
        "sent": 0, "cached": 0, "failed": 0, "not_sent_budget": 0, "unpriced": 0
    }
    for row in published.data.to_dicts():
        assert verify(row["answer"], row).score == 1.0
