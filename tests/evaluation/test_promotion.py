import json

import pytest
from typer.testing import CliRunner

from synthfoundry.cli import app
from synthfoundry.dataset import DatasetStore
from tests.evaluation.test_results import record_of, scored
from tests.helpers import publish_rows, published_rows


@pytest.fixture
def store(tmp_path):
    """ds v1 (tagged stable) and v2."""
    root = tmp_path / "published"
    publish_rows(root, "ds", published_rows(4, run_id="r1"))
    publish_rows(root, "ds", published_rows(4, seed=1, run_id="r2"))
    store = DatasetStore(root, "ds")
    store.tag("stable", 1)
    return store


def promote(store, *extra):
    return CliRunner().invoke(app, ["promote", "ds", "2", "--tag", "stable", "--if-better-than", "stable",
                                    "--root", store.root, *extra])


def test_promotion_without_an_evaluation_is_refused_and_says_what_to_run(store):
    result = promote(store)
    assert result.exit_code == 1 and "no recorded evaluation of ds compares v2 with stable (v1)" in result.output
    assert store.tags()["stable"] == 1


def test_a_candidate_inside_its_interval_is_not_promoted(store):
    store.record_evaluation(record_of(scored([0.0, 1.0] * 10, [1.0] * 20), scored([1.0, 0.0] * 10, [1.0] * 20)))
    result = promote(store)
    assert result.exit_code == 1 and "not significantly better" in result.output and "procedural: accuracy +0.000" in result.output
    assert store.tags()["stable"] == 1


def test_a_candidate_worse_on_loss_beyond_the_margin_is_refused_even_if_more_accurate(store):
    store.record_evaluation(record_of(scored([0.0] * 20, [1.0] * 20), scored([1.0] * 20, [1.5] * 20)))
    result = promote(store)
    assert result.exit_code == 1 and "worse beyond the margin on procedural: held-out loss +0.500" in result.output


def test_a_clearly_better_candidate_moves_the_tag_and_the_card_shows_the_evaluation(store):
    record = record_of(scored([0.0] * 20, [1.0] * 20), scored([1.0] * 20, [1.0] * 20))
    store.record_evaluation(record)
    result = promote(store, "--json")
    assert result.exit_code == 0, result.output
    assert "better than stable (v1) on procedural accuracy +1.000" in json.loads(result.output)["message"]
    assert store.tags()["stable"] == 2
    assert [r["id"] for r in store.evaluations(2)] == [record["id"]] and store.evaluations(3) == []
    card = CliRunner().invoke(app, ["card", "ds", "--root", store.root, "--version", "2"])
    assert card.exit_code == 0 and "## Extrinsic evaluation" in card.output and record["id"] in card.output
