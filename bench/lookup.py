"""Cross-version lookup at scale: `PublishedRows.nearest_published` ms per new row at 10 k / 100 k / 1 M published rows.

`python -m bench.lookup [--sizes 10000 100000 1000000] [--new 1000] [--baseline-rows 200] [--nightly 20000]`

Published rows are random 384-d unit vectors, published in versions of at most 100 k rows; the last publish builds
the vector index (`publish` itself does it) and its time is printed. The new rows are half planted near-duplicates
(a published vector plus noise: cosine ~0.95) and half fresh. Printed per size and nprobes: the last publish's time,
wall and CPU ms per new row through the store, recall and precision of the above-threshold neighbours against exact
numpy (streamed in chunks), LanceDB's flat scan of the same table (`bypass_vector_index`, on `--baseline-rows` rows)
and the ratio, and the process's peak RSS so far. Then a "+nightly" row: one more version of `--nightly` rows
published through a default store (what a nightly publish costs: the index is rebuilt only past 5 % unindexed
rows) and the lookup with a quarter of the new rows planted near that version's unindexed rows.
Target (issue 11): <= 2 ms per new row at 1 M with recall >= 0.99, peak RSS < 4 GiB.
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

from synthfoundry.dataset import DatasetStore  # noqa: E402

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


def exact_nearest(published: int | tuple[int, np.ndarray], queries: np.ndarray) -> np.ndarray:
    """Exact numpy over the `published` first rows (and, as a pair, the vectors published on top of them)."""
    size, extra = published if isinstance(published, tuple) else (published, None)
    best = np.full(len(queries), -1.0, dtype=np.float32)
    for _, vectors in published_chunks(size):
        np.maximum(best, (queries @ vectors.T).max(axis=1), out=best)
    if extra is not None:
        np.maximum(best, (queries @ extra.T).max(axis=1), out=best)
    return best


def flat_nearest(store: DatasetStore, queries: np.ndarray) -> np.ndarray:
    hits = (
        store.table.at(store.latest()).search(list(queries), vector_column_name="vector")
        .distance_type("cosine").bypass_vector_index().limit(1).select(["_distance"]).to_arrow()
    )
    best = np.zeros(len(queries), dtype=np.float32)
    best[hits["query_index"].to_numpy()] = 1.0 - hits["_distance"].to_numpy()
    return best


def publish(root: str, size: int, ann_min_rows: int | None = None) -> tuple[DatasetStore, float]:
    """Versions of CHUNK rows, the last one building the vector index (timed: what a publish at `size` costs)."""
    store = DatasetStore(root, "bench", ann_min_rows=size if ann_min_rows is None else ann_min_rows)
    for offset, vectors in published_chunks(size):
        start = time.perf_counter()
        frame = pl.DataFrame({"id": [f"r{offset + i}" for i in range(len(vectors))]}).with_columns(
            pl.Series("vector", vectors, dtype=pl.Array(pl.Float32, DIMS))
        )
        store.publish(frame, pl.DataFrame({"id": []}, schema={"id": pl.String}), {"run_id": f"run-{offset}"})
    return store, time.perf_counter() - start


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def measure(root: str, published: np.ndarray | int, queries: np.ndarray, nprobes: int) -> tuple[float, float, float, float]:
    """ms and CPU ms per new row through the store, recall and precision of the above-threshold neighbours."""
    expected = exact_nearest(published, queries) > THRESHOLD
    probing = DatasetStore(root, "bench", ann_nprobes=nprobes).published()
    # a run's lookup of thousands of rows loads every partition of the index once: load them first, so the
    # figure is the steady state (the load is printed: what the first rows of a run pay on top)
    start = time.perf_counter()
    probing.nearest_published(chunk_vectors(9, 0, len(queries)))
    print(f"  index loaded by a first lookup of {len(queries)} rows in {time.perf_counter() - start:.1f} s", flush=True)
    start, cpu = time.perf_counter(), time.process_time()
    reported = probing.nearest_published(queries) > THRESHOLD
    ms = (time.perf_counter() - start) * 1000 / len(queries)
    cpu_ms = (time.process_time() - cpu) * 1000 / len(queries)
    recall = (expected & reported).sum() / max(1, expected.sum())
    precision = (expected & reported).sum() / max(1, reported.sum())
    return ms, cpu_ms, recall, precision


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--new", type=int, default=1000)
    parser.add_argument("--baseline-rows", type=int, default=200)
    parser.add_argument("--nprobes", type=int, nargs="+", default=[8, 16, 24])
    parser.add_argument("--nightly", type=int, default=20_000, help="rows of one more version published on top")
    parser.add_argument("--crossover", type=int, nargs="+", metavar="SIZE",
                        help="instead: exact numpy against the IVF_FLAT index at these sizes, for one run's lookup")
    args = parser.parse_args()
    if args.crossover:
        return crossover(args.crossover, args.new)
    print("published  last publish s  index  nprobes  ms/new row  CPU ms/new row  recall  precision  "
          "flat ms/new row  flat/store  peak RSS GiB")
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as root:
            store, publish_s = publish(root, size)
            index = store.latest().record.get("vector_index")
            queries = new_rows(size, args.new)
            baseline = queries[: args.baseline_rows]
            start = time.perf_counter()
            flat = flat_nearest(store, baseline)
            flat_ms = (time.perf_counter() - start) * 1000 / len(baseline)
            assert np.allclose(flat, exact_nearest(size, baseline), atol=1e-4), "the flat scan must be exact"
            kind = f"{index['type']}/{index['partitions']}" if index else "none"
            for nprobes in args.nprobes:
                ms, cpu_ms, recall, precision = measure(root, size, queries, nprobes)
                print(f"{size:>9,}  {publish_s:>14.1f}  {kind:>5}  {nprobes:>7}  {ms:>10.2f}  {cpu_ms:>14.2f}  "
                      f"{recall:>6.3f}  {precision:>9.3f}  {flat_ms:>15.2f}  {flat_ms / ms:>10.1f}  "
                      f"{peak_rss_gib():>12.2f}", flush=True)
            if args.nightly:
                nightly(root, size, args, flat_ms)


def crossover(sizes: list[int], new: int) -> None:
    """Where the vector index starts to pay: one lookup of `new` rows (a run's diversity step) against `size`
    published rows kept unindexed (exact numpy) and indexed (IVF_FLAT, nprobes as the store's default). Below
    the size where the index wins, the store keeps rows unindexed (`ANN_MIN_ROWS`)."""
    print(f"published  lookup of {new:,} new rows: exact s  IVF_FLAT s  exact / index  index build s")
    for size in sizes:
        queries, seconds = new_rows(size, new), {}
        for kind, min_rows in (("exact", size + 1), ("index", size)):
            with tempfile.TemporaryDirectory() as root:
                _, build_s = publish(root, size, min_rows)
                published = DatasetStore(root, "bench").published()
                published.nearest_published(queries[:100])  # connects and loads the index, as a run's first lookup
                start = time.perf_counter()
                published.nearest_published(queries)
                seconds[kind] = time.perf_counter() - start
        print(f"{size:>9,}  {seconds['exact']:>25.2f}  {seconds['index']:>10.2f}  "
              f"{seconds['exact'] / seconds['index']:>13.2f}  {build_s:>13.1f}", flush=True)


def nightly(root: str, size: int, args, flat_ms: float) -> None:
    """One more version of `--nightly` fresh rows through a default store: what a nightly publish costs at this
    size (the index is rebuilt only past 5 % unindexed rows), then the lookup with those rows unindexed."""
    extra = chunk_vectors(7, size, args.nightly)
    frame = pl.DataFrame({"id": [f"n{i}" for i in range(len(extra))]}).with_columns(
        pl.Series("vector", extra, dtype=pl.Array(pl.Float32, DIMS))
    )
    store = DatasetStore(root, "bench")
    start = time.perf_counter()
    version = store.publish(frame, pl.DataFrame({"id": []}, schema={"id": pl.String}), {"run_id": "nightly"})
    publish_s = time.perf_counter() - start
    index = version.record.get("vector_index")
    unindexed = version.record["rows"]["total"] - (index["rows"] if index and "rows" in index else 0)
    kind = f"{index['type']}/{index['partitions']}" if index else "none"
    rng = np.random.default_rng(2)
    queries = new_rows(size, args.new)
    planted = extra[rng.choice(len(extra), args.new // 4, replace=False)] + rng.normal(
        scale=0.3 / np.sqrt(DIMS), size=(args.new // 4, DIMS))
    queries[: args.new // 4] = planted / np.linalg.norm(planted, axis=1, keepdims=True)  # near the new version too
    everything = (size, extra)
    for nprobes in args.nprobes[-1:]:
        ms, cpu_ms, recall, precision = measure(root, everything, queries, nprobes)
        print(f"{f'+{args.nightly:,}':>9}  {publish_s:>14.1f}  {kind:>5}  {nprobes:>7}  {ms:>10.2f}  {cpu_ms:>14.2f}  "
              f"{recall:>6.3f}  {precision:>9.3f}  {flat_ms:>15.2f}  {flat_ms / ms:>10.1f}  "
              f"{peak_rss_gib():>12.2f}  ({unindexed:,} rows searched exactly)", flush=True)


if __name__ == "__main__":
    main()
