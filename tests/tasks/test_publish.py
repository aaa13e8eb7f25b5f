import polars as pl
from prefect import flow

from synthfoundry.dataset import DatasetStore
from synthfoundry.filters import rouge
from synthfoundry.stages import LEDGER_SCHEMA
from tasks.publish import publish_version
from tests.helpers import manifest_for, published_rows


def test_publish_writes_the_card_and_its_artifacts(prefect_harness, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    store = DatasetStore(tmp_path, "card_test")
    rows = published_rows(12, run_id="run-card")
    ledger = pl.DataFrame(
        {"id": ["x"], "stage": ["diversity"], "reason": ["cosine 0.95 > 0.9 to a row kept earlier"], "score": [0.95],
         "text": ["t"]}, schema=LEDGER_SCHEMA,
    )

    @flow
    def publish():
        return publish_version(store, rows, ledger, manifest_for(tmp_path, "card_test", rows, ledger))

    version = publish()
    card = open(f"{version.path}/card.md").read()
    assert card.startswith("# card_test v1") and "![stages](plots/stages.png)" in card

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(like_="card-test-dataset-card")))
    by_key = {a.key: a for a in artifacts}
    assert "data:image/png;base64," in by_key["card-test-dataset-card"].data
    assert list(by_key) == ["card-test-dataset-card"]  # its tables are in it, not repeated as artifacts


def test_a_rouge_copy_of_a_row_published_meanwhile_is_dropped_by_the_runs_own_rule(prefect_harness, tmp_path):
    """Two overlapping runs with only `rouge`: the second compared its rows with nothing (it started before the
    first published), so at its publish the rows published meanwhile are re-checked by its rouge step's rule."""
    store = DatasetStore(tmp_path, "overlap")
    empty = pl.DataFrame(schema=LEDGER_SCHEMA)
    first = published_rows(2, seed=1, run_id="run-a", instruction=[
        "Explain how the tides follow the pull of the moon on the oceans", "List three uses of copper in wiring"])
    store.publish(first, empty, manifest_for(tmp_path, "overlap", first, empty))
    second = published_rows(2, seed=2, run_id="run-b", instruction=[
        "Explain how tides follow the pull of the moon on the oceans", "Describe the life cycle of a monarch"])
    manifest = manifest_for(tmp_path, "overlap", second, empty)
    assert manifest["compared_with"] is None

    @flow
    def publish(steps):
        return publish_version(store, second, empty, manifest, steps, "instruction")

    version = publish([rouge.Config(threshold=0.7)])
    assert store.read(version.number)["instruction"].to_list()[-1:] == ["Describe the life cycle of a monarch"]
    assert version.manifest()["stages"]["publish"] == {"in": 2, "kept": 1, "dropped": 1}
    (reason,) = store.ledger(version.number).filter(pl.col("stage") == "publish")["reason"].to_list()
    assert reason.startswith("ROUGE-L 0.9") and reason.endswith("> 0.7 to a row published meanwhile")
