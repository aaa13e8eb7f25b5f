"""`target: {accepted: N}` through the user's path: a run config, `python -m flows.generate`, the published version."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
import yaml

from flows.generate import generate_dataset
from tests.helpers import assert_accounted, read_published
from tests.reliability.runs import body_key, run_flow

pytestmark = pytest.mark.usefixtures("prefect_harness")


def write(tmp_path: Path, **config) -> Path:
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({"publish": {"root": str(tmp_path / "published")}, "seed": 7, **config}))
    return path


def published(tmp_path: Path, dataset: str) -> Path:
    return max((tmp_path / "published" / "exports" / dataset).glob("v*"))


def test_procedural_rounds_publish_exactly_the_target(tmp_path: Path) -> None:
    """Round one makes 12 tasks; later rounds draw new seeds until 30 pass, and exactly 30 are published."""
    config = write(tmp_path, dataset="arith", contract="rlvr", target={"accepted": 30},
                   recipe={"name": "procedural", "datasets": {"basic_arithmetic": 12}},
                   filters=[{"name": "diversity", "threshold": 0.99}])
    code, output = run_flow(config)
    assert code == 0, output
    version = read_published(published(tmp_path, "arith"))
    assert version.data.height == 30
    assert version.data["instruction"].n_unique() == 30 and version.data["id"].n_unique() == 30
    target = version.manifest["target"]
    assert target["accepted"] == 30 and target["published"] == 30 and target["rounds"] >= 2
    assert target["short_because"] is None
    assert_accounted(version)
    assert version.manifest["stages"]["synthesis"]["kept"] > 12  # later rounds made new prompts
    beyond = version.ledger.filter(pl.col("stage") == "target")
    assert beyond.height == version.manifest["stages"]["target"]["in"] - 30
    assert "target 30 accepted rows: 30 published" in output


@pytest.mark.slow
def test_rounds_on_a_dask_cluster_publish_exactly_the_target(tmp_path: Path) -> None:
    """The same rounds with their batches on a local Dask cluster of two worker processes: exactly the target, every
    prompt new."""
    config = write(tmp_path, dataset="arith", contract="rlvr", target={"accepted": 20}, batch_size=5,
                   runner={"kind": "dask", "n_workers": 2},
                   recipe={"name": "procedural", "datasets": {"basic_arithmetic": 8}},
                   filters=[{"name": "diversity", "threshold": 0.99}])
    code, output = run_flow(config)
    assert code == 0, output
    version = read_published(published(tmp_path, "arith"))
    assert version.data.height == 20 and version.data["instruction"].n_unique() == 20
    assert version.manifest["target"]["rounds"] >= 2 and version.manifest["config"]["runner"]["kind"] == "dask"
    assert_accounted(version)


def test_fake_teacher_rounds_measure_acceptance_and_never_pay_twice(tmp_path: Path, fake_openai) -> None:
    """A judge that keeps about a third: rounds after the first ask for more from the measured acceptance; no
    request reaches the server twice."""
    config = write(
        tmp_path, dataset="judged", target={"accepted": 8},
        recipe={"name": "self_instruct", "target_instructions": 6, "prompts_per_round": 3, "max_rounds": 6,
                "instances": False},
        teacher={"provider": "openai", "model": "fake-teacher", "base_url": fake_openai.base_url, "max_tokens": 64},
        filters=[{"name": "quality_judge", "rubric": "lima", "min_score": 6}, {"name": "diversity"}],
    )
    folder = Path(generate_dataset(config_path=str(config)))
    version = read_published(folder)
    assert version.data.height == 8
    assert version.manifest["target"]["rounds"] >= 2
    judged = version.manifest["stages"]["quality_judge"]
    assert judged["dropped"] >= judged["kept"] / 2  # the judge dropped a real share
    bodies = [body_key(r) for r in fake_openai.requests]
    assert len(bodies) == len(set(bodies))  # no request sent twice
    assert version.manifest["cost"]["in_flight"]["adaptive"]  # a base_url teacher adapts, and it is recorded
    assert_accounted(version)


def test_the_budget_stops_the_rounds_and_says_why(tmp_path: Path, fake_openai) -> None:
    config = write(
        tmp_path, dataset="capped", target={"accepted": 5000},
        recipe={"name": "self_instruct", "target_instructions": 6, "prompts_per_round": 3, "max_rounds": 6,
                "instances": False},
        teacher={"provider": "openai", "model": "gpt-4o-mini", "base_url": fake_openai.base_url, "max_tokens": 64,
                 "budget_usd": 0.05},
        filters=[{"name": "diversity"}],
    )
    state = generate_dataset(config_path=str(config), return_state=True)
    assert state.is_completed()
    assert "fewer because the next round's forecast" in state.message and "budget" in state.message
    version = read_published(published(tmp_path, "capped"))
    target = version.manifest["target"]
    assert target["rounds"] == 1 and 0 < target["published"] == version.data.height < 5000 and "budget" in target["short_because"]
    assert version.manifest["cost"]["spent_usd"] <= 0.05
    card = (published(tmp_path, "capped") / "card.md").read_text()
    assert "fewer because" in card


def test_a_recipe_without_more_seeds_refuses_an_unreachable_target(tmp_path: Path, fake_openai) -> None:
    config = write(
        tmp_path, dataset="few", target={"accepted": 100},
        recipe={"name": "cosmopedia", "topics": ["tides", "volcanoes"], "per_seed": 2},
        teacher={"provider": "openai", "model": "fake-teacher", "base_url": fake_openai.base_url, "max_tokens": 64},
    )
    state = generate_dataset(config_path=str(config), return_state=True)
    assert state.is_failed()
    message = str(state.result(raise_on_failure=False))
    assert "makes at most 4 rows" in message and "target.accepted" in message
    assert fake_openai.count == 0
    assert not (tmp_path / "published" / "exports" / "few").exists() or not list(
        (tmp_path / "published" / "exports" / "few").glob("v*"))
