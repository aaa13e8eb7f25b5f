"""Planning the rounds of a run with a target: how much the next round asks, and what stops the rounds."""

from __future__ import annotations

import polars as pl
import pytest

from synthfoundry.recipes import get_recipe
from synthfoundry.rounds import (
    Progress,
    Round,
    TargetConfig,
    TargetUnreachable,
    first_round,
    next_round,
    round_seed,
    trimmed,
    without_repeats,
)
from synthfoundry.spend import Spend
from synthfoundry.stages import StageResult, empty_ledger

PROCEDURAL = get_recipe("procedural")
ARITHMETIC = PROCEDURAL.Config(datasets={"basic_arithmetic": 10, "chain_sum": 10})


def plan(done: Progress, target: int = 100, budget: float | None = None, **options) -> Round | str | None:
    return next_round(PROCEDURAL, ARITHMETIC, 7, TargetConfig(accepted=target, **options), done, budget, False,
                      lambda message: None)


def test_later_rounds_ask_what_the_measured_acceptance_says_with_new_seeds() -> None:
    nxt = plan(Progress(rounds=1, candidates=20, accepted=10))  # half accepted: 90 missing need ~180 candidates
    assert isinstance(nxt, Round) and nxt.number == 2
    assert sum(nxt.recipe.datasets.values()) >= 180 * 1.2 - 2
    assert nxt.seed == round_seed(7, 2) != round_seed(7, 3) and round_seed(7, 1) == 7


def test_what_stops_the_rounds() -> None:
    assert plan(Progress(1, 20, 100)) is None  # met
    assert "max_rounds (3)" in plan(Progress(3, 60, 30), max_rounds=3)
    assert "used up" in plan(Progress(1, 20, 10, Spend(spent_usd=1.0, exhausted=True)), budget=1.0)
    assert "no row of the 20 candidates" in plan(Progress(1, 20, 0))
    # $0.01 a candidate, ~216 candidates to go: $2.16 > the $0.80 left
    stop = plan(Progress(1, 20, 10, Spend(spent_usd=0.2)), budget=1.0)
    assert "forecast ($2.1600" in stop and "$0.8000 left" in stop


def test_a_recipe_without_more_seeds_says_up_front_how_many_it_can_make() -> None:
    cosmopedia = get_recipe("cosmopedia")
    config = cosmopedia.Config(topics=["tides", "volcanoes", "bees"])
    assert first_round(cosmopedia, config, 1, TargetConfig(accepted=3)).number == 1
    with pytest.raises(TargetUnreachable, match="at most 3 rows"):
        first_round(cosmopedia, config, 1, TargetConfig(accepted=4))


def test_repeated_prompts_are_dropped_and_the_accepted_rows_cut_to_the_target() -> None:
    made = {"a"}
    rows = pl.DataFrame({"id": ["a", "b", "c"], "instruction": ["x", "y", "z"]})
    fresh = without_repeats(StageResult("synthesis", rows, empty_ledger()), made)
    assert fresh.kept["id"].to_list() == ["b", "c"] and made == {"a", "b", "c"}
    assert fresh.dropped["reason"].to_list() == ["prompt already made in an earlier round"]
    cut = trimmed(fresh, TargetConfig(accepted=1))
    assert cut.kept["id"].to_list() == ["b"] and cut.dropped["stage"].to_list() == ["target"]
    assert trimmed(fresh, None) is None
