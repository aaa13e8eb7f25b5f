import json
import os
import subprocess
import sys
from functools import partial
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from synthfoundry.filters import diversity
from synthfoundry.store import DatasetStore, PublishError

WORKTREE = Path(__file__).resolve().parents[1]


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


def table_ids(root, dataset="ds", version=None):
    import lancedb

    table = lancedb.connect(str(Path(root) / "lancedb")).open_table(dataset)
    if version is not None:
        table.checkout(version)
    return table.to_arrow().column("id").to_pylist()


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


def test_nearest_published_is_cosine_to_latest_version(tmp_path):
    store = DatasetStore(tmp_path, "ds")
    published = rows(["a", "b", "c"])
    queries = np.stack(published["vector"].to_numpy()[:2])
    assert store.nearest_published(queries).tolist() == [0.0, 0.0]
    store.publish(published, LEDGER, manifest("r1"))
    similarity = store.nearest_published(np.concatenate([queries, -queries[:1]]))
    assert similarity[:2] == pytest.approx([1.0, 1.0], abs=1e-5)
    assert similarity[2] < 0.9
    assert store.ids(["a", "zz", "c", "it's"]) == {"a", "c"}


def test_indexed_lookup_finds_the_exact_near_duplicates(tmp_path):
    """Past ann_min_rows the lookup goes through an IVF_FLAT index; its answers above 0.9 match exact numpy."""
    rng = np.random.default_rng(3)
    store = DatasetStore(tmp_path, "ds", ann_min_rows=3000)
    base = rows([f"p{i}" for i in range(4000)], dims=32, seed=3)
    store.publish(base[:2000], LEDGER, manifest("r1"))
    store.publish(base[2000:], LEDGER, manifest("r2"))
    assert any(index.index_type == "IvfFlat" for index in store._table().list_indices())
    vectors = np.stack(base["vector"].to_numpy())
    planted = vectors[rng.choice(4000, 100, replace=False)] + rng.normal(scale=0.05, size=(100, 32))
    queries = np.concatenate([planted, rng.normal(size=(100, 32))]).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    exact = (queries @ vectors.T).max(axis=1)
    found = store.nearest_published(queries)
    assert np.array_equal(found > 0.9, exact > 0.9) and (exact > 0.9).sum() == 100
    assert found[exact > 0.9] == pytest.approx(exact[exact > 0.9], abs=1e-4)
    assert store.ids(["p1", "p3999", "nope"]) == {"p1", "p3999"}


def test_vector_index_is_rebuilt_only_once_enough_rows_are_unindexed_and_new_rows_are_searched_exactly(tmp_path):
    store = DatasetStore(tmp_path, "ds", ann_min_rows=1000)
    base = rows([f"p{i}" for i in range(2300)], dims=32, seed=4)
    assert store.publish(base[:999], LEDGER, manifest("r1")).record["vector_index"] is None  # exact below 1000
    built = store.publish(base[999:2000], LEDGER, manifest("r2")).record["vector_index"]
    assert built["rows"] == 2000
    kept = store.publish(base[2000:2200], LEDGER, manifest("r3")).record["vector_index"]
    assert kept == built  # 200 new rows: under max(1000, 5 % of 2000)
    assert store._table().index_stats("vector_idx").num_unindexed_rows == 200
    vectors = np.stack(base["vector"].to_numpy())
    assert store.nearest_published(vectors[2000:2200]) == pytest.approx(np.ones(200), abs=1e-5)  # the exact tail
    neighbours = store.published_neighbours(vectors[[5, 2100]], 0.99, "instruction")
    assert neighbours.filter(pl.col("cosine") > 0.999)["instruction"].to_list() == ["do p5", "do p2100"]
    rebuilt = store.publish(rows([f"q{i}" for i in range(1000)], dims=32, seed=5), LEDGER, manifest("r4"))
    assert rebuilt.record["vector_index"]["rows"] == 3200


COSINE_RECHECK = partial(diversity.published_duplicates, config=diversity.Config(threshold=0.9, word_overlap=None),
                         text_column="instruction")


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
    assert store.nearest_published(np.stack(rows(["d"], seed=2)["vector"].to_numpy())) == pytest.approx([1.0], abs=1e-5)


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
    assert store.versions() == [] and store.check() == []
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


PUBLISH_CHILD = """
import sys, polars as pl
from tests.test_store import COSINE_RECHECK
from synthfoundry.store import DatasetStore
root, run_id, batch = sys.argv[1:4]
frame = pl.read_parquet(batch)
ledger = pl.DataFrame({"id": ["x"], "stage": ["diversity"], "reason": ["near duplicate"]})
try:
    version = DatasetStore(root, "ds").publish(frame, ledger, {"run_id": run_id, "stages": {}}, COSINE_RECHECK)
    print(version.tag)
except Exception as error:
    print(type(error).__name__, error)
"""


def publish_in_child(root, run_id, batch: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(WORKTREE)}
    command = [sys.executable, "-c", PUBLISH_CHILD, str(root), run_id, str(batch)]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)


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
    assert [v.tag for v in store.versions()] == ["v1"] and store.published_by_run("r9") is None


def test_check_and_repair_report_and_undo_leftovers(tmp_path):
    store = DatasetStore(tmp_path, "ds")
    store.publish(rows(["a"]), LEDGER, manifest("r1"))
    (Path(store.exports) / ".staging-v2-old").mkdir()  # left by the previous store layout
    (Path(store.exports) / "v2" / "data").mkdir(parents=True)
    table = store._table()
    table.add(rows(["b"], seed=1).to_arrow())
    table.tags.create("v2", table.version)
    found = store.check()
    assert len(found) == 4 and any("+1 rows" in line for line in found)
    assert store.repair() == found
    assert store.check() == [] and table_ids(tmp_path) == ["a"] and store.tags() == {"v1": 1, "latest": 1}


def test_tags_rollback_and_diff(tmp_path):
    store = DatasetStore(tmp_path, "ds")
    store.publish(rows(["a", "b"]), LEDGER, {"run_id": "r1", "stages": {}, "cost": {"spent_usd": 0.5}})
    store.publish(rows(["c"], seed=1), LEDGER, {"run_id": "r2", "stages": {}, "cost": {"spent_usd": 0.75}})
    store.tag("nightly-2026-12-01", 1)
    store.tag("best", 2)
    assert store.tags() == {"v1": 1, "v2": 2, "nightly-2026-12-01": 1, "best": 2, "latest": 2}
    for reserved in ("v3", "latest", "no spaces"):
        with pytest.raises(ValueError, match="not allowed"):
            store.tag(reserved, 1)
    store.tag("best", 1)  # moves
    store.untag("nightly-2026-12-01")
    assert store.tags() == {"v1": 1, "v2": 2, "best": 1, "latest": 2}

    v3 = store.rollback(1, run_id="rollback-1")
    assert v3.tag == "v3" and store.tags()["latest"] == 3
    assert store.read(3).equals(store.read(1)) and store.data_files(3) == store.data_files(1)
    assert v3.manifest()["rows"] == {"added": 0, "removed": 1, "total": 2} and v3.manifest()["rollback_of"] == "v1"
    assert sorted(table_ids(tmp_path, version="v3")) == ["a", "b"] and store.ids(["c"]) == set()
    assert store.rollback(1, run_id="rollback-1") == v3  # idempotent
    changes = store.diff(2, 3)
    assert changes["added"]["count"] == 0 and changes["removed"] == {"count": 1, "sample": ["c"]}
    assert changes["rows"] == {"a": 3, "b": 2}
    assert store.diff(1, 2)["cost_usd"] == {"a": 0.5, "b": 0.75, "delta": 0.25}
    # the next publish builds on the rolled-back rows
    v4 = store.publish(rows(["c", "d"], seed=1), LEDGER, manifest("r4"))
    assert sorted(store.read(4)["id"].to_list()) == ["a", "b", "c", "d"] and v4.manifest()["rows"]["total"] == 4
    assert store.check() == []


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
    assert store.ids(["a", "z"]) == {"a"} and store.ledger(2).height == 1
    assert store.nearest_published(np.stack(rows(["a"])["vector"].to_numpy())) == pytest.approx([1.0], abs=1e-5)
    store.tag("best", 1)
    assert store.rollback(1, "undo").tag == "v3" and store.read(3).equals(store.read(1))
    assert store.tags() == {"v1": 1, "v2": 2, "v3": 3, "best": 1, "latest": 3} and store.check() == []


def test_object_store_publishers_are_kept_apart_by_the_lease_lock(s3, tmp_path):
    """Two processes publish the same rows to s3:// at once: one version, no duplicates, the other one told why."""
    batch = tmp_path / "batch.parquet"
    rows([f"r{i}" for i in range(20)], seed=4).write_parquet(batch)
    root = f"{s3}/concurrent"
    children = [publish_in_child(root, f"run-{n}", batch) for n in range(2)]
    outputs = sorted(child.communicate(timeout=180)[0].strip() for child in children)
    assert outputs[0].startswith("NothingNew nothing new to publish: all 20 rows") and outputs[1] == "v1"
    store = DatasetStore(root, "ds")
    assert [v.tag for v in store.versions()] == ["v1"] and store.read()["id"].n_unique() == 20
    assert not store.fs.exists(f"{store.exports}/_publish.lock")  # released


def test_object_store_lock_of_a_dead_publisher_is_taken_over_after_its_lease(s3):
    import time

    store = DatasetStore(f"{s3}/stale", "ds")
    lock = f"{store.exports}/_publish.lock"
    store.fs.pipe_file(lock, json.dumps({"owner": "dead:1", "expires": time.time() + 1.5}).encode())
    start = time.monotonic()
    store.publish(rows(["a"]), LEDGER, manifest("r1"))
    assert time.monotonic() - start >= 1.0  # it waited for the lease to run out, then took the lock over
    assert store.read()["id"].to_list() == ["a"] and not store.fs.exists(lock)


def test_a_rollback_killed_after_its_restore_is_undone_even_when_row_counts_match(tmp_path):
    store = DatasetStore(tmp_path, "ds")
    store.publish(rows(["a", "b"]), LEDGER, manifest("r1"))
    store.publish(rows(["c"], seed=1), LEDGER, manifest("r2"))
    store.rollback(1, "undo")
    store.publish(rows(["d"], seed=2), LEDGER, manifest("r4"))  # v4 = a, b, d: as many rows as v2
    store._table().restore(store.versions()[1].lance_version)  # what a rollback to v2 killed before its tag leaves
    assert store.check() and store.repair()
    assert sorted(table_ids(tmp_path)) == ["a", "b", "d"] and store.check() == []
    assert sorted(store.publish(rows(["e"], seed=3), LEDGER, manifest("r5")).data_files) == sorted(store.data_files(5))
    assert sorted(table_ids(tmp_path, version="v5")) == sorted(store.read(5)["id"].to_list()) == ["a", "b", "d", "e"]


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


def test_published_column_reads_one_column_of_the_latest_version(tmp_path):
    store = DatasetStore(tmp_path, "ds")
    assert store.published_column("instruction").to_list() == []
    store.publish(rows(["a", "b"]), LEDGER, manifest("r1"))
    store.publish(rows(["c"], seed=1), LEDGER, manifest("r2"))
    assert sorted(store.published_column("instruction").to_list()) == ["do a", "do b", "do c"]
    assert store.published_column("no_such_column").to_list() == []


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
