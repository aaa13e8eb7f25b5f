from datetime import date

import pytest

from synthfoundry.backfill import DateShards, FileShards, SeedShards, TeacherShards, expand
from synthfoundry.config import ConfigError, parse_config

BASE = parse_config({"dataset": "docs", "seed": 3, "recipe": {"name": "wrap"}, "teacher": {"provider": "local"}})


def test_each_shard_is_a_full_config_and_its_key_is_stable():
    shards = expand(BASE, SeedShards(seeds=[1, 2]))
    assert [s.config.seed for s in shards] == [1, 2]
    assert [s.key for s in shards] == [s.key for s in expand(BASE, SeedShards(seeds=[1, 2]))]
    assert len({s.key for s in shards}) == 2
    assert shards[0].config.filters == BASE.filters  # the recipe's default filters carry over


def test_file_globs_expand_to_one_shard_per_file(tmp_path):
    for name in ("a.jsonl", "b.jsonl", "c.txt"):
        (tmp_path / name).write_text("{}")
    shards = expand(BASE, FileShards(paths=[str(tmp_path / "*.jsonl"), str(tmp_path / "c.txt")]))
    assert [s.config.recipe.documents for s in shards] == [str(tmp_path / n) for n in ("a.jsonl", "b.jsonl", "c.txt")]
    with pytest.raises(ValueError, match="matches no file"):
        expand(BASE, FileShards(paths=[str(tmp_path / "*.parquet")]))


def test_dates_fill_the_path_template_and_teachers_the_model():
    days = DateShards(start=date(2026, 1, 30), end=date(2026, 2, 2), every_days=2, path="crawl/{date:%Y/%m/%d}/*.jsonl")
    assert [s.config.recipe.documents for s in expand(BASE, days)] == ["crawl/2026/01/30/*.jsonl", "crawl/2026/02/01/*.jsonl"]
    assert [s.name for s in expand(BASE, TeacherShards(models=["m1", "m2"]))] == ["teacher-m1", "teacher-m2"]
    with pytest.raises(ValueError, match="before start"):
        DateShards(start=date(2026, 1, 2), end=date(2026, 1, 1), path="x/{date}")


def test_a_field_the_recipe_lacks_is_named():
    with pytest.raises(ConfigError, match=r"(?s)backfill shard file-x.jsonl: .*recipe.seed_tasks: unknown field"):
        expand(BASE, FileShards(paths=["x.jsonl"], field="seed_tasks"))


def test_a_target_holds_for_each_shard():
    """`target: {accepted: N}` is per child run: every shard publishes N rows of its own seeds."""
    base = parse_config({"dataset": "arith", "recipe": {"name": "procedural", "datasets": {"basic_arithmetic": 4}},
                         "target": {"accepted": 10}})
    shards = expand(base, SeedShards(seeds=[1, 2]))
    assert [(s.config.seed, s.config.target.accepted) for s in shards] == [(1, 10), (2, 10)]
