from pathlib import Path

import pytest

from synthfoundry.config import ConfigError, load_config, parse_config

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
    assert config.filters.diversity.threshold == 0.9
    assert config.contract is None  # the recipe kind picks the suite


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"recipe": {"name": "self_instruct"}}, "dataset: Field required"),
        ({"dataset": "bad name!", "recipe": {"name": "self_instruct"}}, "dataset: Value error, must be 1-64"),
        ({"dataset": "d", "recipe": {"name": "self_instruct", "rouge_threshold": 3}}, "recipe.rouge_threshold"),
        ({"dataset": "d", "recipe": {"name": "evolve"}}, "recipe.name"),
        ({"dataset": "d", "recipe": {"name": "self_instruct"}, "teacher": {"api_key": "sk-x"}}, "teacher.api_key"),
        ({"dataset": "d", "recipe": {}, "filters": {"diversity": {"threshold": "high"}}}, "filters.diversity.threshold"),
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
