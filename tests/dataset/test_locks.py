import json

from synthfoundry.dataset import DatasetStore
from tests.dataset.published import LEDGER, manifest, publish_in_child, rows


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
    assert not store.files.fs.exists(f"{store.exports}/_publish.lock")  # released


def test_object_store_lock_of_a_dead_publisher_is_taken_over_after_its_lease(s3):
    import time

    store = DatasetStore(f"{s3}/stale", "ds")
    lock = f"{store.exports}/_publish.lock"
    store.files.fs.pipe_file(lock, json.dumps({"owner": "dead:1", "expires": time.time() + 1.5}).encode())
    start = time.monotonic()
    store.publish(rows(["a"]), LEDGER, manifest("r1"))
    assert time.monotonic() - start >= 1.0  # it waited for the lease to run out, then took the lock over
    assert store.read()["id"].to_list() == ["a"] and not store.files.fs.exists(lock)
