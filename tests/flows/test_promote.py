"""The promote flow an automation calls: the same gate as `synthfoundry promote`, a refusal ends the run Failed."""

import pytest

from flows.promote import promote_version
from synthfoundry.dataset import DatasetStore
from synthfoundry.evaluation.promotion import PromotionRefused
from tests.evaluation.test_results import record_of, scored
from tests.helpers import publish_rows, published_rows

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_the_flow_moves_the_tag_only_once_an_evaluation_shows_the_version_better(tmp_path):
    root = tmp_path / "published"
    publish_rows(root, "ds", published_rows(4, run_id="r1"))
    publish_rows(root, "ds", published_rows(4, seed=1, run_id="r2"))
    store = DatasetStore(root, "ds")
    store.tag("stable", 1)
    state = promote_version("ds", 2, root=str(root), return_state=True)
    assert state.is_failed() and "no recorded evaluation" in state.message
    with pytest.raises(PromotionRefused):
        state.result()
    assert store.tags()["stable"] == 1
    store.record_evaluation(record_of(scored([0.0] * 20, [1.0] * 20), scored([1.0] * 20, [0.8] * 20)))
    assert promote_version("ds", 2, root=str(root)).startswith("stable -> v2: better than stable (v1)")
    assert store.tags()["stable"] == 2
