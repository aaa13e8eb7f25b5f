import json

import numpy as np
import polars as pl
import pytest

from synthfoundry.store import DatasetStore, PublishError


def rows(ids, dims=8, seed=0):
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(len(ids), dims)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return pl.DataFrame({"id": ids, "instruction": [f"do {i}" for i in ids]}).with_columns(
        pl.Series("vector", vectors, dtype=pl.Array(pl.Float32, dims))
    )


LEDGER = pl.DataFrame({"id": ["x"], "stage": ["diversity"], "reason": ["near duplicate"]})


def manifest(run_id):
    return {"run_id": run_id, "stages": {}}


def test_publish_round_trip_and_versions_are_immutable(tmp_path):
    store = DatasetStore(tmp_path, "ds")
    assert store.latest() is None
    v1 = store.publish(rows(["a", "b"]), LEDGER, manifest("r1"))
    v2 = store.publish(rows(["c"], seed=1), LEDGER, manifest("r2"))
    assert [v.tag for v in store.versions()] == ["v1", "v2"]
    assert store.read(1)["id"].to_list() == ["a", "b"]
    assert store.read()["id"].to_list() == ["a", "b", "c"]
    assert "vector" not in store.read().columns
    assert v2.manifest()["parent"] == "v1" and v2.manifest()["rows"] == {"added": 1, "total": 3}
    assert v1.manifest()["parent"] is None
    assert pl.read_parquet(v2.export_dir / "rejections.parquet").height == 1
    # the LanceDB tags point at the same content
    import lancedb

    table = lancedb.connect(str(tmp_path / "lancedb")).open_table("ds")
    table.checkout("v1")
    assert table.count_rows() == 2
    table.checkout("v2")
    assert table.count_rows() == 3


def test_nearest_published_is_cosine_to_latest_version(tmp_path):
    store = DatasetStore(tmp_path, "ds")
    published = rows(["a", "b", "c"])
    queries = np.stack(published["vector"].to_numpy()[:2])
    assert store.nearest_published(queries).tolist() == [0.0, 0.0]
    store.publish(published, LEDGER, manifest("r1"))
    similarity = store.nearest_published(np.concatenate([queries, -queries[:1]]))
    assert similarity[:2] == pytest.approx([1.0, 1.0], abs=1e-5)
    assert similarity[2] < 0.9


def test_failed_publish_leaves_previous_version_intact(tmp_path):
    store = DatasetStore(tmp_path, "ds")
    store.publish(rows(["a"]), LEDGER, manifest("r1"))
    incompatible = rows(["b"], dims=4)  # vector width differs from the table: the append fails
    with pytest.raises(PublishError, match="nothing was published"):
        store.publish(incompatible, LEDGER, manifest("r2"))
    assert [v.tag for v in store.versions()] == ["v1"]
    assert store.read()["id"].to_list() == ["a"]
    assert sorted(p.name for p in store.exports.iterdir() if not p.name.startswith(".publish")) == ["v1"]
    # the next good publish is v2 and contains no trace of the failed one
    store.publish(rows(["c"], seed=2), LEDGER, manifest("r3"))
    assert store.read()["id"].to_list() == ["a", "c"]
    assert json.loads((store.exports / "v2" / "manifest.json").read_text())["parent"] == "v1"


def test_failed_first_publish_leaves_no_table(tmp_path):
    store = DatasetStore(tmp_path, "ds")
    broken_ledger = pl.DataFrame({"id": [object()]}, schema={"id": pl.Object})  # cannot be written to Parquet
    with pytest.raises(PublishError):
        store.publish(rows(["a"]), broken_ledger, manifest("r1"))
    assert store.versions() == []
    store.publish(rows(["b"]), LEDGER, manifest("r2"))
    assert store.read()["id"].to_list() == ["b"]


def test_read_unknown_version(tmp_path):
    store = DatasetStore(tmp_path, "ds")
    with pytest.raises(LookupError, match="no published version"):
        store.read()
    store.publish(rows(["a"]), LEDGER, manifest("r1"))
    with pytest.raises(LookupError, match="no version v7"):
        store.read(7)


def test_concurrent_publishers_get_consecutive_versions(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    store = DatasetStore(tmp_path, "ds")
    batches = [rows([f"r{i}"], seed=i) for i in range(4)]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: DatasetStore(tmp_path, "ds").publish(batches[i], LEDGER, manifest(f"r{i}")), range(4)))
    assert [v.tag for v in store.versions()] == ["v1", "v2", "v3", "v4"]
    assert sorted(store.read()["id"].to_list()) == ["r0", "r1", "r2", "r3"]
    assert [store.read(n).height for n in (1, 2, 3, 4)] == [1, 2, 3, 4]
