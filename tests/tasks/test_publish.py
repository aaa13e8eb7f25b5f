import polars as pl
from prefect import flow

from synthfoundry.dataset import DatasetStore
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
    assert "card-test-dataset-card-rejections" in by_key and "card-test-dataset-card-stages" in by_key
    assert by_key["card-test-dataset-card-rejections"].type == "table"
