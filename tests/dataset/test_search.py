
import numpy as np
import polars as pl
import pytest

from synthfoundry.dataset import DatasetStore
from tests.dataset.published import LEDGER, manifest, rows


def test_nearest_published_is_cosine_to_latest_version(tmp_path):
    store = DatasetStore(tmp_path, "ds")
    published = rows(["a", "b", "c"])
    queries = np.stack(published["vector"].to_numpy()[:2])
    assert store.published().nearest_published(queries).tolist() == [0.0, 0.0]
    store.publish(published, LEDGER, manifest("r1"))
    similarity = store.published().nearest_published(np.concatenate([queries, -queries[:1]]))
    assert similarity[:2] == pytest.approx([1.0, 1.0], abs=1e-5)
    assert similarity[2] < 0.9
    assert store.published().ids(["a", "zz", "c", "it's"]) == {"a", "c"}


def test_indexed_lookup_finds_the_exact_near_duplicates(tmp_path):
    """Past ann_min_rows the lookup goes through an IVF_FLAT index; its answers above 0.9 match exact numpy."""
    rng = np.random.default_rng(3)
    store = DatasetStore(tmp_path, "ds", ann_min_rows=3000)
    base = rows([f"p{i}" for i in range(4000)], dims=32, seed=3)
    store.publish(base[:2000], LEDGER, manifest("r1"))
    store.publish(base[2000:], LEDGER, manifest("r2"))
    assert any(index.index_type == "IvfFlat" for index in store.table.open().list_indices())
    vectors = np.stack(base["vector"].to_numpy())
    planted = vectors[rng.choice(4000, 100, replace=False)] + rng.normal(scale=0.05, size=(100, 32))
    queries = np.concatenate([planted, rng.normal(size=(100, 32))]).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    exact = (queries @ vectors.T).max(axis=1)
    found = store.published().nearest_published(queries)
    assert np.array_equal(found > 0.9, exact > 0.9) and (exact > 0.9).sum() == 100
    assert found[exact > 0.9] == pytest.approx(exact[exact > 0.9], abs=1e-4)
    assert store.published().ids(["p1", "p3999", "nope"]) == {"p1", "p3999"}


def test_vector_index_is_rebuilt_only_once_enough_rows_are_unindexed_and_new_rows_are_searched_exactly(tmp_path):
    store = DatasetStore(tmp_path, "ds", ann_min_rows=1000)
    base = rows([f"p{i}" for i in range(2300)], dims=32, seed=4)
    assert store.publish(base[:999], LEDGER, manifest("r1")).record["vector_index"] is None  # exact below 1000
    built = store.publish(base[999:2000], LEDGER, manifest("r2")).record["vector_index"]
    assert built["rows"] == 2000
    kept = store.publish(base[2000:2200], LEDGER, manifest("r3")).record["vector_index"]
    assert kept == built  # 200 new rows: under max(1000, 5 % of 2000)
    assert store.table.open().index_stats("vector_idx").num_unindexed_rows == 200
    vectors = np.stack(base["vector"].to_numpy())
    published = store.published()
    assert published.nearest_published(vectors[2000:2200]) == pytest.approx(np.ones(200), abs=1e-5)  # the exact tail
    neighbours = published.published_neighbours(vectors[[5, 2100]], 0.99, "instruction")
    assert neighbours.filter(pl.col("cosine") > 0.999)["instruction"].to_list() == ["do p5", "do p2100"]
    rebuilt = store.publish(rows([f"q{i}" for i in range(1000)], dims=32, seed=5), LEDGER, manifest("r4"))
    assert rebuilt.record["vector_index"]["rows"] == 3200


def test_published_column_reads_one_column_of_the_latest_version(tmp_path):
    store = DatasetStore(tmp_path, "ds")
    assert store.published().published_column("instruction").to_list() == []
    store.publish(rows(["a", "b"]), LEDGER, manifest("r1"))
    store.publish(rows(["c"], seed=1), LEDGER, manifest("r2"))
    assert sorted(store.published().published_column("instruction").to_list()) == ["do a", "do b", "do c"]
    assert store.published().published_column("no_such_column").to_list() == []
