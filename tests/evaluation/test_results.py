import polars as pl

from synthfoundry.evaluation.arms import Arm
from synthfoundry.evaluation.config import parse_evaluation_config
from synthfoundry.evaluation.results import comparison, markdown, summarise, table


def scored(scores: list[float], losses: list[float]) -> pl.DataFrame:
    return pl.DataFrame({"item_id": [f"i{n}" for n in range(len(scores))], "loss": losses, "score": scores,
                         "tokens": [3] * len(scores), "response": ["r"] * len(scores), "extracted": ["x"] * len(scores)})


def record_of(first: pl.DataFrame, second: pl.DataFrame, repeat: pl.DataFrame | None = None) -> dict:
    """An evaluation of ds v1 against ds v2 on one set, from given per-item scores."""
    config = parse_evaluation_config({"dataset": "ds", "arms": ["v1", "v2"], "base": False,
                                      "eval": {"resamples": 500}, "train": {"repeat_seeds": [1] if repeat is not None else []}})
    arms = [Arm("v1", "ds", 1, "sft"), Arm("v2", "ds", 2, "sft")]
    scores = {("v1", "procedural", 0): first, ("v2", "procedural", 0): second}
    if repeat is not None:
        scores |= {("v1", "procedural", 1): repeat, ("v2", "procedural", 1): second}
    budget = {"trainer": "SFTTrainer", "steps": 4, "tokens": 100}
    return summarise(config, arms, {"procedural": {"items": first.height, "overlap": {"v1": 1, "v2": 0}}}, scores,
                     {"v1": budget, "v2": budget}, {"source": "smollm2.gguf", "device": "cpu"})


def test_a_clear_paired_difference_is_called_and_one_inside_its_interval_is_not():
    record = record_of(scored([0.0] * 20, [2.0] * 20), scored([1.0] * 20, [2.0 + (-1) ** n * 0.1 for n in range(20)]))
    [difference] = record["differences"]
    assert (difference["arm"], difference["against"]) == ("v2", "v1")
    assert difference["accuracy"]["verdict"] == "better" and difference["accuracy"]["mean"] == 1.0
    assert difference["loss"]["verdict"] == "no clear difference"
    assert difference["loss"]["low"] < 0 < difference["loss"]["high"]
    [flipped] = comparison(record, "v1", "v2")
    assert flipped["accuracy"]["verdict"] == "worse" and flipped["accuracy"]["mean"] == -1.0


def test_the_table_and_card_section_show_every_arm_with_its_interval_and_the_budget():
    record = record_of(scored([0.0, 1.0] * 5, [1.0] * 10), scored([1.0] * 10, [0.5] * 10))
    rows = table(record)
    assert [(r["arm"], r["version"], r["items"]) for r in rows] == [("v1", "ds v1", 10), ("v2", "ds v2", 10)]
    assert rows[0]["accuracy"].startswith("0.500 [")
    text = markdown(record)
    assert "## Extrinsic evaluation" in text and "SFTTrainer" in text and "40 steps x 4 rows" in text
    assert "1 candidates dropped as contaminated" in text and "| v2 | v1 | procedural |" in text


def test_seed_variance_is_the_spread_of_each_trained_arm_over_its_seeds():
    record = record_of(scored([1.0] * 4, [1.0] * 4), scored([1.0] * 4, [1.0] * 4), repeat=scored([0.0] * 4, [3.0] * 4))
    spread = {row["arm"]: row for row in record["seed_variance"]}
    assert spread["v1"]["loss"]["values"] == [1.0, 3.0] and spread["v1"]["loss"]["stdev"] > 1.4
    assert spread["v2"]["accuracy"]["stdev"] == 0.0
    assert "Seed variance" in markdown(record)
