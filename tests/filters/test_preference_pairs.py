"""Preference pairs from judged samples: chosen is the best, rejected the worst, every other sample in the ledger;
and, end to end on the real flow, a published preference dataset that passes its contract."""

import re

import polars as pl
import pytest

from synthfoundry.config import ConfigError, parse_config
from synthfoundry.filters import preference_pairs
from synthfoundry.filters.base import apply
from synthfoundry.records import rows_frame, with_decision
from tests.filters.tools import tools


def samples(*prompts: tuple[str, list[float | None]]) -> pl.DataFrame:
    """Samples of each prompt, answered `<prompt>-<k>`, with their judge scores (None: not judged)."""
    rows, scores = [], []
    for prompt, judged in prompts:
        for k, score in enumerate(judged):
            rows.append({"id": f"{prompt}-{k}", "sample_of": prompt, "instruction": f"Explain {prompt}.",
                         "response": f"{prompt} answer {k}"})
            scores.append(score)
    return with_decision(rows_frame(rows), "quality_judge", pl.Series(scores, dtype=pl.Float64))


def test_best_and_worst_samples_make_the_pair():
    result = apply(preference_pairs, samples(("tides", [3, 6, 1, 4])), preference_pairs.Config(), tools())
    pair = result.kept.row(0, named=True)
    assert result.kept.height == 1 and pair["id"] == "tides-1"
    assert (pair["response"], pair["rejected"]) == ("tides answer 1", "tides answer 2")
    assert (pair["chosen_score"], pair["rejected_score"], pair["margin"]) == (6, 1, 5)
    assert pair["decisions"][-1] == {"stage": "preference_pairs", "score": 5.0}
    reasons = dict(zip(result.dropped["id"], result.dropped["reason"]))
    assert reasons == {
        "tides-0": "not chosen (pair tides-1)",
        "tides-2": "used as the rejected side of pair tides-1",
        "tides-3": "not chosen (pair tides-1)",
    }
    assert dict(zip(result.dropped["id"], result.dropped["score"]))["tides-2"] == 1.0  # the sample's judge score


def test_prompts_that_cannot_make_a_pair_go_to_the_ledger():
    frame = samples(("alone", [5]), ("tied", [4, 4]), ("close", [4, 3.5]), ("half", [5, None]), ("ok", [2, 5]))
    result = apply(preference_pairs, frame, preference_pairs.Config(min_margin=1), tools())
    assert result.kept["id"].to_list() == ["ok-1"]
    assert dict(zip(result.dropped["id"], result.dropped["reason"])) == {
        "alone-0": "fewer than 2 judged samples of this prompt (1)",
        "tied-0": "margin 0 < min_margin 1 between the best and worst samples",
        "tied-1": "margin 0 < min_margin 1 between the best and worst samples",
        "close-0": "margin 0.5 < min_margin 1 between the best and worst samples",
        "close-1": "margin 0.5 < min_margin 1 between the best and worst samples",
        "half-0": "fewer than 2 judged samples of this prompt (1)",
        "half-1": "no quality_judge score to rank this sample by",
        "ok-0": "used as the rejected side of pair ok-1",
    }
    assert result.kept.height + result.dropped.height == frame.height


BASE = {"dataset": "d", "recipe": {"name": "self_instruct"}, "teacher": {"n": 2}}


def test_pairs_must_come_after_the_judge_and_need_samples():
    with pytest.raises(ConfigError, match=re.escape(
        "filters[0] (preference_pairs) ranks rows by the quality_judge step's score: list quality_judge before it"
    )):
        parse_config({**BASE, "filters": [{"name": "preference_pairs"}, {"name": "quality_judge"}]})
    with pytest.raises(ConfigError, match="set teacher.n to 2 or more"):
        parse_config({**BASE, "teacher": {}, "filters": [{"name": "quality_judge"}, {"name": "preference_pairs"}]})


def test_a_run_making_pairs_defaults_to_the_preference_contract():
    pairs = parse_config({**BASE, "filters": [{"name": "quality_judge"}, {"name": "preference_pairs"}]})
    assert pairs.contract_suite == "preference"
    assert parse_config({**BASE, "filters": [{"name": "diversity"}]}).contract_suite == "sft"
    assert parse_config({**BASE, "contract": "mine.yaml", "filters": pairs.model_dump()["filters"]}).contract_suite == (
        "mine.yaml"
    )


@pytest.mark.usefixtures("prefect_harness")
def test_the_flow_publishes_a_preference_dataset_that_passes_its_contract(tmp_path, fake_openai):
    from tests.helpers import assert_accounted, run_recipe

    recipe = {"name": "self_instruct", "target_instructions": 6, "prompts_per_round": 3, "max_rounds": 6,
              "instances": False}
    teacher = {"provider": "openai", "model": "fake-teacher", "base_url": fake_openai.base_url, "n": 2}
    filters = [{"name": "quality_judge", "min_score": 1}, {"name": "preference_pairs"}, {"name": "diversity"}]
    published = run_recipe(tmp_path, recipe, teacher, filters=filters)

    assert_accounted(published)
    assert published.manifest["contract"]["suite"] == "preference" and published.manifest["contract"]["success"]
    pairs = published.data
    assert pairs.height >= 1 and (pairs["response"] != pairs["rejected"]).all()
    assert (pairs["margin"] >= 1).all() and (pairs["chosen_score"] - pairs["rejected_score"] == pairs["margin"]).all()
    ledger = published.ledger.filter(pl.col("stage") == "preference_pairs")
    assert ledger.filter(pl.col("reason").str.starts_with("used as the rejected side of pair")).height == pairs.height
    judged = [r for r in fake_openai.requests if "[Submission]:" in r["body"]["messages"][0]["content"]]
    assert len(judged) == published.manifest["stages"]["quality_judge"]["in"]  # one LIMA request per sample
    scores = published.manifest["scores"]["quality_judge"]
    assert sum(scores["kept"].values()) == published.manifest["stages"]["quality_judge"]["kept"]
    assert set(scores["kept"]) <= {"4", "5", "6"}  # what the fake judge gives
