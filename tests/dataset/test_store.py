import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from synthfoundry.dataset import DatasetStore, PublishError
from tests.dataset.published import COSINE_RECHECK, LEDGER, manifest, publish_in_child, rows, table_ids


def test_publish_round_trip_and_versions_are_immutable(tmp_path):
    store = DatasetStore(tmp_path, "ds")
    assert store.latest() is None
    v1 = store.publish(rows(["a", "b"]), LEDGER, manifest("r1"))
    v2 = store.publish(rows(["c"], seed=1), LEDGER, manifest("r2"))
    assert [v.tag for v in store.versions()] == ["v1", "v2"]
    assert store.read(1)["id"].to_list() == ["a", "b"]
    assert store.read()["id"].to_list() == ["a", "b", "c"]
    assert "vector" not in store.read().columns
    assert v2.manifest()["parent"] == "v1" and v2.manifest()["rows"] == {"added": 1, "removed": 0, "total": 3}
    assert v1.manifest()["parent"] is None
    assert store.ledger(2)["stage"].to_list() == ["diversity"]
    # each version stores only its new rows; "as of v2" is v1's shard plus v2's
    assert pl.read_parquet(v2.data_files[-1])["id"].to_list() == ["c"]
    assert store.data_files(2) == v1.data_files + [v2.data_files[-1]]
    assert store.scan(2).select(pl.len()).collect().item() == 3
    # the LanceDB tags point at the same content
    assert sorted(table_ids(tmp_path, version="v1")) == ["a", "b"]
    assert sorted(table_ids(tmp_path, version="v2")) == ["a", "b", "c"]





def test_publish_rechecks_only_rows_published_after_the_version_the_run_compared_with(tmp_path):
    store = DatasetStore(tmp_path, "ds")
    store.publish(rows(["a"]), LEDGER, manifest("r1"))
    store.publish(rows(["b"], seed=1), LEDGER, manifest("r2"))
    # copies of a (v1's, which the run's filters saw and kept, e.g. as a maths variant) and of b (published meanwhile)
    copies = pl.concat([rows(["a"]), rows(["b"], seed=1)]).with_columns(pl.Series("id", ["a2", "b2"]))
    v3 = store.publish(copies, LEDGER, {**manifest("r3"), "compared_with": "v1"}, COSINE_RECHECK)
    assert store.read(v3.number)["id"].to_list() == ["a", "b", "a2"]
    dropped = store.ledger(3).filter(pl.col("stage") == "publish")
    assert dropped["id"].to_list() == ["b2"]
    assert dropped["reason"][0].startswith("cosine 1.000 > 0.9 to a row published meanwhile")
    store.rollback(1, "undo")  # v4 = v1; after a rollback every row is re-checked
    v5 = store.publish(copies.with_columns(pl.Series("id", ["a3", "b3"])), LEDGER,
                       {**manifest("r5"), "compared_with": "v3"}, COSINE_RECHECK)
    assert store.read(v5.number)["id"].to_list() == ["a", "b3"]


def test_a_version_with_new_columns_extends_a_table_published_without_them(tmp_path):
    """A release that adds published columns (e.g. `cluster`) keeps publishing onto datasets made by older ones."""
    store = DatasetStore(tmp_path, "ds")
    store.publish(rows(["a", "b"]).drop("instruction"), LEDGER, manifest("r1"))
    store.publish(rows(["c"], seed=1).with_columns(pl.lit(3).alias("cluster")), LEDGER, manifest("r2"))
    store.publish(rows(["d"], seed=2).drop("instruction"), LEDGER, manifest("r3"))
    assert store.read(1).columns == ["id"]
    latest = store.read().sort("id")
    assert latest["cluster"].to_list() == [None, None, 3, None]
    assert latest["instruction"].to_list() == [None, None, "do c", None]
    assert sorted(table_ids(tmp_path)) == ["a", "b", "c", "d"] and store.check() == []
    nearest = store.published().nearest_published(np.stack(rows(["d"], seed=2)["vector"].to_numpy()))
    assert nearest == pytest.approx([1.0], abs=1e-5)


def test_failed_publish_leaves_previous_version_intact(tmp_path):
    store = DatasetStore(tmp_path, "ds")
    store.publish(rows(["a"]), LEDGER, manifest("r1"))
    incompatible = rows(["b"], dims=4)  # vector width differs from the table: the append fails
    with pytest.raises(PublishError, match="nothing was published"):
        store.publish(incompatible, LEDGER, manifest("r2"))
    assert [v.tag for v in store.versions()] == ["v1"]
    assert store.read()["id"].to_list() == ["a"]
    assert sorted(p.name for p in Path(store.exports).iterdir() if not p.name.startswith(".publish")) == ["v1"]
    assert store.check() == []
    # the next good publish is v2 and contains no trace of the failed one
    store.publish(rows(["c"], seed=2), LEDGER, manifest("r3"))
    assert store.read()["id"].to_list() == ["a", "c"]
    assert json.loads((Path(store.exports) / "v2" / "manifest.json").read_text())["parent"] == "v1"


def test_failed_first_publish_leaves_no_table(tmp_path):
    store = DatasetStore(tmp_path, "ds")
    broken_ledger = pl.DataFrame({"id": [object()]}, schema={"id": pl.Object})  # cannot be written to Parquet
    with pytest.raises(PublishError):
        store.publish(rows(["a"]), broken_ledger, manifest("r1"))
    assert store.versions().all == () and store.check() == []
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


def test_rows_published_meanwhile_go_to_the_ledger_under_the_publish_stage(tmp_path):
    store = DatasetStore(tmp_path, "ds")
    first = rows(["a", "b", "c"])
    store.publish(first, LEDGER, manifest("r1"))
    # the second run checked before r1 published: "b" is the same id, "d" a near-copy of "c", "e" is new
    near = first.filter(pl.col("id") == "c").with_columns(pl.lit("d").alias("id"))
    second = pl.concat([first.filter(pl.col("id") == "b"), near, rows(["e"], seed=5)])
    ledger = LEDGER.with_columns(pl.lit("r2").alias("run_id"))
    v2 = store.publish(second, ledger, {"run_id": "r2", "stages": {"diversity": {"in": 4, "kept": 3, "dropped": 1}}},
                       COSINE_RECHECK)
    assert store.read(2)["id"].to_list() == ["a", "b", "c", "e"]
    stages = v2.manifest()["stages"]
    assert stages["publish"] == {"in": 3, "kept": 1, "dropped": 2} and v2.manifest()["rows"]["added"] == 1
    dropped = store.ledger(2).filter(pl.col("stage") == "publish").sort("id")
    assert dropped["id"].to_list() == ["b", "d"] and dropped["run_id"].to_list() == ["r2", "r2"]
    assert "id published meanwhile" in dropped["reason"][0] and "cosine 1.000 > 0.9" in dropped["reason"][1]


@pytest.mark.slow
def test_two_processes_publishing_the_same_rows_publish_them_once(tmp_path):
    batch = tmp_path / "batch.parquet"
    rows([f"r{i}" for i in range(50)], seed=4).write_parquet(batch)
    root = tmp_path / "published"
    children = [publish_in_child(root, f"run-{n}", batch) for n in range(2)]
    outputs = sorted(child.communicate(timeout=120)[0].strip() for child in children)
    store = DatasetStore(root, "ds")
    assert outputs[0].startswith("NothingNew nothing new to publish: all 50 rows") and outputs[1] == "v1"
    assert [v.tag for v in store.versions()] == ["v1"]
    ids = table_ids(root)
    assert len(ids) == len(set(ids)) == 50 and store.read().height == 50
    loser = next(p for p in (root / "runs" / "ds").iterdir())
    report = pl.read_parquet(loser / "rejections.parquet").filter(pl.col("stage") == "publish")
    assert report.height == 50
    assert json.loads((loser / "manifest.json").read_text())["stages"]["publish"] == {"in": 50, "kept": 0, "dropped": 50}


def test_rerun_of_a_published_run_returns_its_version(tmp_path):
    store = DatasetStore(tmp_path, "ds")
    v1 = store.publish(rows(["a"]), LEDGER, manifest("r1"))
    assert store.publish(rows(["a"]), LEDGER, manifest("r1")) == v1
    assert [v.tag for v in store.versions()] == ["v1"] and store.versions().by_run("r9") is None


def test_any_version_loads_with_the_datasets_package(tmp_path):
    import datasets

    store = DatasetStore(tmp_path, "ds")
    store.publish(rows(["a", "b"]), LEDGER, manifest("r1"))
    store.publish(rows(["c"], seed=1), LEDGER, manifest("r2"))
    loaded = datasets.load_dataset("parquet", data_files=store.data_files(2), split="train",
                                   cache_dir=str(tmp_path / "hf-cache"))
    assert loaded["id"] == ["a", "b", "c"] and loaded.column_names == store.read(2).columns


def test_object_store_root_publishes_reads_tags_and_rolls_back(s3):
    store = DatasetStore(f"{s3}/roundtrip", "ds")
    store.publish(rows(["a", "b"]), LEDGER, manifest("r1"))
    store.publish(rows(["c"], seed=1), LEDGER, manifest("r2"), COSINE_RECHECK)
    assert [v.tag for v in store.versions()] == ["v1", "v2"]
    assert store.read()["id"].to_list() == ["a", "b", "c"] and store.read(1).height == 2
    assert all(path.startswith("s3://published/roundtrip/exports/ds/") for path in store.data_files())
    assert store.published().ids(["a", "z"]) == {"a"} and store.ledger(2).height == 1
    nearest = store.published().nearest_published(np.stack(rows(["a"])["vector"].to_numpy()))
    assert nearest == pytest.approx([1.0], abs=1e-5)
    store.tag("best", 1)
    assert store.rollback(1, "undo").tag == "v3" and store.read(3).equals(store.read(1))
    assert store.tags() == {"v1": 1, "v2": 2, "v3": 3, "best": 1, "latest": 3} and store.check() == []


def test_versions_of_the_earlier_single_snapshot_layout_stay_readable_and_extendable(tmp_path):
    store = DatasetStore(tmp_path, "ds")
    store.publish(rows(["a", "b"]), LEDGER, manifest("r1"))
    v1 = Path(store.exports) / "v1"  # rewrite v1 as the earlier layout had it: v1/data.parquet, no shards
    (v1 / "data" / "part-00000.parquet").rename(v1 / "data.parquet")
    (v1 / "data").rmdir()
    record = json.loads((v1 / "manifest.json").read_text())
    del record["shards"]
    (v1 / "manifest.json").write_text(json.dumps(record))
    assert store.read(1)["id"].to_list() == ["a", "b"]
    store.publish(rows(["c"], seed=1), LEDGER, manifest("r2"))
    assert store.read(2)["id"].to_list() == ["a", "b", "c"]
    assert store.latest().manifest()["shards"] == ["v1/data.parquet", "v2/data/part-00000.parquet"]


def test_store_errors_are_under_the_library_root(tmp_path):
    from synthfoundry.errors import TransientError, UserError, is_retryable

    store = DatasetStore(tmp_path, "ds")
    with pytest.raises(UserError, match="has no published version"):
        store.version()
    store.publish(rows(["a"]), LEDGER, manifest("r1"))
    with pytest.raises(UserError, match="has no version v7; it has v1"):
        store.version(7)
    with pytest.raises(UserError, match="has no tag 'best'"):
        store.untag("best")
    with pytest.raises(UserError, match="is not allowed"):
        store.tag("v9", 1)
    assert issubclass(PublishError, TransientError) and is_retryable(PublishError("another writer"))
