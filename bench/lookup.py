"""Cross-version lookup at scale: `DatasetStore.nearest_published` ms per new row at 10 k / 100 k / 1 M published rows.

`python -m bench.lookup [--sizes 10000 100000 1000000] [--new 1000] [--baseline-rows 200]`

Published rows are random 384-d unit vectors, published in versions of at most 100 k rows; the last publish builds
the vector index (`publish` itself does it) and its time is printed: what publishing a version at that size costs. The new rows are half planted near-duplicates (a published
vector plus noise: cosine ~0.95) and half fresh. Printed per size and nprobes: the last publish's time (rows,
indexes), wall and CPU ms per new row through the store, recall and precision of the above-threshold neighbours against exact numpy (streamed in
chunks), the flat scan of the same table (`bypass_vector_index`, on `--baseline-rows` rows) and the ratio, and the
process's peak RSS so far. Target (issue 11): <= 2 ms per new row at 1 M with recall >= 0.99, peak RSS < 4 GiB.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from synthfoundry.store import DatasetStore  # noqa: E402

DIMS = 384
CHUNK = 100_000
THRESHOLD = 0.9


def chunk_vectors(seed: int, start: int, rows: int) -> np.ndarray:
    vectors = np.random.default_rng([seed, start]).normal(size=(rows, DIMS)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def published_chunks(size: int, seed: int = 0):
    for start in range(0, size, CHUNK):
        yield start, chunk_vectors(seed, start, min(CHUNK, size - start))


def new_rows(size: int, count: int, seed: int = 1) -> np.ndarray:
    """Half near-duplicates of random published rows, half fresh vectors."""
    rng = np.random.default_rng(seed)
    picked = np.sort(rng.choice(size, count // 2, replace=False))
    sources = [vectors[picked[(picked >= start) & (picked < start + len(vectors))] - start]
               for start, vectors in published_chunks(size)]
    planted = np.concatenate(sources) + rng.normal(scale=0.3 / np.sqrt(DIMS), size=(count // 2, DIMS))
    queries = np.concatenate([planted, rng.normal(size=(count - count // 2, DIMS))]).astype(np.float32)
    return queries / np.linalg.norm(queries, axis=1, keepdims=True)


def exact_nearest(size: int, queries: np.ndarray) -> np.ndarray:
    best = np.full(len(queries), -1.0, dtype=np.float32)
    for _, vectors in published_chunks(size):
        np.maximum(best, (queries @ vectors.T).max(axis=1), out=best)
    return best


def flat_nearest(store: DatasetStore, queries: np.ndarray) -> np.ndarray:
    hits = (
        store._published_table().search(list(queries), vector_column_name="vector")
        .distance_type("cosine").bypass_vector_index().limit(1).select(["_distance"]).to_arrow()
    )
    best = np.zeros(len(queries), dtype=np.float32)
    best[hits["query_index"].to_numpy()] = 1.0 - hits["_distance"].to_numpy()
    return best


def publish(root: str, size: int) -> tuple[DatasetStore, float]:
    """Versions of CHUNK rows, the last one building the vector index (timed: what a publish at `size` costs)."""
    store = DatasetStore(root, "bench", ann_min_rows=size)
    for offset, vectors in published_chunks(size):
        start = time.perf_counter()
        frame = pl.DataFrame({"id": [f"r{offset + i}" for i in range(len(vectors))]}).with_columns(
            pl.Series("vector", vectors, dtype=pl.Array(pl.Float32, DIMS))
        )
        store.publish(frame, pl.DataFrame({"id": []}, schema={"id": pl.String}), {"run_id": f"run-{offset}"})
    return store, time.perf_counter() - start


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--new", type=int, default=1000)
    parser.add_argument("--baseline-rows", type=int, default=200)
    parser.add_argument("--nprobes", type=int, nargs="+", default=[8, 16, 24])
    args = parser.parse_args()
    print("published  last publish s  index  nprobes  ms/new row  CPU ms/new row  recall  precision  "
          "flat ms/new row  flat/store  peak RSS GiB")
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as root:
            store, publish_s = publish(root, size)
            index = store.latest().record.get("vector_index")
            queries = new_rows(size, args.new)
            exact = exact_nearest(size, queries)
            expected = exact > THRESHOLD
            baseline = queries[: args.baseline_rows]
            start = time.perf_counter()
            flat = flat_nearest(store, baseline)
            flat_ms = (time.perf_counter() - start) * 1000 / len(baseline)
            assert np.allclose(flat, exact[: len(baseline)], atol=1e-4), "the flat scan must be exact"
            kind = f"{index['type']}/{index['partitions']}" if index else "none"
            for nprobes in args.nprobes:
                probing = DatasetStore(root, "bench", ann_nprobes=nprobes)
                probing.nearest_published(queries[:10])  # open the table and load the index once
                start, cpu = time.perf_counter(), time.process_time()
                reported = probing.nearest_published(queries) > THRESHOLD
                ms = (time.perf_counter() - start) * 1000 / len(queries)
                cpu_ms = (time.process_time() - cpu) * 1000 / len(queries)
                recall = (expected & reported).sum() / max(1, expected.sum())
                precision = (expected & reported).sum() / max(1, reported.sum())
                print(f"{size:>9,}  {publish_s:>14.1f}  {kind:>5}  {nprobes:>7}  {ms:>10.2f}  {cpu_ms:>14.2f}  "
                      f"{recall:>6.3f}  {precision:>9.3f}  {flat_ms:>15.2f}  {flat_ms / ms:>10.1f}  "
                      f"{peak_rss_gib():>12.2f}", flush=True)


if __name__ == "__main__":
    main()
