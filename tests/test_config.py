from pathlib import Path

import pytest

from synthfoundry.config import ConfigError, load_config, parse_config
from synthfoundry.recipes import RECIPES

PROCEDURAL = {"name": "procedural", "datasets": {"basic_arithmetic": 2}}
QUICKSTART = Path(__file__).resolve().parents[1] / "deployments" / "configs" / "quickstart.yaml"


def test_quickstart_config_is_valid():
    config = load_config(QUICKSTART)
    assert config.recipe.name == "self_instruct"
    assert config.teacher.provider == "auto"


@pytest.mark.parametrize("path", sorted(QUICKSTART.parent.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_sample_config_is_valid(path):
    assert load_config(path).recipe.name


def test_minimal_config_fills_defaults():
    config = parse_config({"dataset": "d1", "recipe": {"name": "self_instruct"}})
    assert [step.name for step in config.filters] == [step["name"] for step in RECIPES["self_instruct"].FILTERS]
    assert config.contract is None  # the recipe kind picks the suite


def test_each_recipe_has_a_default_filter_list_that_validates():
    for name in RECIPES:
        required = {"procedural": {"datasets": {"basic_arithmetic": 2}}, "load": {"path": "data.jsonl"}}
        recipe = {"name": name, **required.get(name, {})}
        config = parse_config({"dataset": "d1", "recipe": recipe})
        assert config.filters, name


def test_filters_keep_the_order_they_are_listed_in():
    steps = [{"name": "diversity", "threshold": 0.8}, {"name": "correctness", "min_score": 0.5}]
    config = parse_config({"dataset": "d", "recipe": PROCEDURAL, "filters": steps})
    assert (config.filters[0].name, config.filters[0].threshold) == ("diversity", 0.8)
    assert [s.name for s in config.filters] == ["diversity", "correctness"]
    assert [s.name for s in parse_config(
        {"dataset": "d", "recipe": PROCEDURAL, "filters": steps[::-1]}
    ).filters] == ["correctness", "diversity"]


def test_skipping_every_filter_must_be_spelled_out():
    with pytest.raises(ConfigError, match=r"filters: .*skipping the recipe's default steps \(decontamination, "
                       r"diversity\).*write `filters: none`"):
        parse_config({"dataset": "d", "recipe": PROCEDURAL, "filters": []})
    config = parse_config({"dataset": "d", "recipe": PROCEDURAL, "filters": "none"})
    assert config.filters == [] and config.unfiltered
    dumped = config.model_dump(mode="json")  # as the manifest and Prefect's run parameters hold it
    assert dumped["filters"] == "none" and parse_config(dumped).unfiltered


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"recipe": {"name": "self_instruct"}}, "dataset: Field required"),
        ({"dataset": "bad name!", "recipe": {"name": "self_instruct"}}, "dataset: Value error, must be 1-64"),
        ({"dataset": "d", "recipe": {"name": "self_instruct", "rouge_threshold": 3}}, "recipe.rouge_threshold"),
        ({"dataset": "d", "recipe": {"name": "evolve"}}, "recipe.name"),
        ({"dataset": "d", "recipe": {"name": "self_instruct"}, "teacher": {"api_key": "sk-x"}}, "teacher.api_key"),
        ({"dataset": "d", "recipe": PROCEDURAL,
          "filters": [{"name": "correctness"}, {"name": "diversity", "threshold": "high"}]}, "filters[1].threshold"),
        ({"dataset": "d", "recipe": PROCEDURAL, "filters": [{"name": "dedupe"}]},
         "filters[0].name: must name a filter, one of: clusters, correctness, decontamination, diversity, injection, majority_vote"),
        ({"dataset": "d", "recipe": PROCEDURAL, "filters": [{"name": "diversity"}, {"name": "diversity"}]},
         "lists diversity more than once"),
    ],
)
def test_bad_config_names_field_and_problem(data, expected):
    with pytest.raises(ConfigError) as error:
        parse_config(data, "run.yaml")
    assert str(error.value).startswith("run.yaml:")
    assert expected in str(error.value)


def test_key_in_config_is_refused_without_echoing_it():
    with pytest.raises(ConfigError) as error:
        parse_config({"dataset": "d", "recipe": {}, "teacher": {"api_key": "sk-live-SECRET"}})
    assert "keys belong in the environment" in str(error.value)
    assert "SECRET" not in str(error.value)


def test_yaml_syntax_error_gives_line(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("dataset: d\nrecipe: [unclosed\n")
    with pytest.raises(ConfigError, match=r"run.yaml: not valid YAML at line \d+"):
        load_config(path)


def test_missing_file_and_non_mapping(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the run config"):
        load_config(tmp_path / "nope.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(tmp_path / "list.yaml")


def test_maths_and_instruction_recipes_decontaminate_by_default():
    def names(recipe):
        return [step.name for step in parse_config({"dataset": "d", "recipe": recipe}).filters]

    assert names({"name": "metamath"}) == ["correctness", "decontamination", "diversity"]
    assert names({"name": "metamath", "output": "rlvr", "operations": ["rephrase"]}) == ["decontamination", "diversity"]
    assert names(PROCEDURAL) == ["decontamination", "diversity"]
    for recipe in ("self_instruct", "evol_instruct", "backtranslation", "mammoth2", "ultrachat"):
        assert "decontamination" in names({"name": recipe}), recipe


def test_each_version_of_a_seeded_run_gets_its_own_reproducible_seed():
    config = parse_config({"dataset": "d", "seed": 1234, "recipe": PROCEDURAL})
    seeds = [config.seed_for(version) for version in (1, 2, 3)]
    assert len(set(seeds)) == 3 and seeds == [config.seed_for(version) for version in (1, 2, 3)]
    assert config.model_copy(update={"seed": None}).seed_for(1) is None


@pytest.mark.parametrize("root", ["", "  ", "~", "."])
def test_an_ambiguous_publish_root_is_refused(root):
    with pytest.raises(ConfigError, match=r"publish.root: Value error, .* is not a publish root: name a folder"):
        parse_config({"dataset": "d", "recipe": PROCEDURAL, "publish": {"root": root}})


def test_a_home_relative_root_means_the_home_folder():
    config = parse_config({"dataset": "d", "recipe": PROCEDURAL, "publish": {"root": "~/data"}})
    assert config.publish.root == str(Path.home() / "data")


def test_a_duplicate_key_in_a_run_config_is_refused(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("dataset: a\nrecipe: {name: procedural, datasets: {basic_arithmetic: 2}}\ndataset: b\n")
    with pytest.raises(ConfigError, match=r"run.yaml: not valid YAML at line 3, column 1: duplicate key 'dataset'"):
        load_config(path)
