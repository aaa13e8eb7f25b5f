"""Vector search over the published table, and its indexes.

Rows the vector index covers are searched through it (IVF_FLAT: exact distances within the `nprobes` partitions
nearest each vector; bench/lookup.py measures recall and speed); rows published after it was built, or after the
version a search starts from, exactly in numpy (LanceDB's own scan of unindexed rows costs ~30 ms a query).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from synthfoundry.dataset.table import LanceTable
from synthfoundry.dataset.versions import PublishedVersion

ANN_MIN_ROWS = 50_000  # fewer unindexed rows than this are searched exactly in numpy (faster up to here); then IVF_FLAT
ANN_NPROBES = 24
ANN_REBUILD_SHARE = 0.05  # rebuild the vector index once rows published since its build pass this share of it


@dataclass(frozen=True)
class PublishedRows:
    """The rows of `latest` (every row, or with `since` those published after it), searched as filters search what
    is published (the `Published` of filters/base.py): what a filter compares with, and what a publish re-checks
    against."""

    table: LanceTable
    latest: PublishedVersion | None
    since: PublishedVersion | None = None
    nprobes: int = ANN_NPROBES

    def nearest_published(self, vectors: np.ndarray) -> np.ndarray:
        """Each vector's highest cosine similarity to any of these rows (0 if none)."""
        found = self._search(vectors, 1, ())
        best = np.zeros(len(vectors), dtype=np.float32)
        best[found["query"].to_numpy()] = found["cosine"].to_numpy()
        return best

    def published_neighbours(self, vectors: np.ndarray, above: float, column: str, limit: int = 16) -> pl.DataFrame:
        """Up to `limit` of these rows per vector with cosine > `above`: (query, cosine, `column`), nearest first, so
        a filter can look closer at them (their numbers, their words)."""
        return self._search(vectors, limit, (column,)).filter(pl.col("cosine") > above)

    def published_column(self, name: str) -> pl.Series:
        """One column of these rows, read alone from the shards that have it (texts for ROUGE-L, signatures for
        MinHash); empty when nothing is published or no shard has the column."""
        if self.latest is None:
            return pl.Series(name, [])
        before = set(self.since.data_files) if self.since else set()
        shards = [f for f in self.latest.data_files
                  if f not in before and name in self.latest.scan_file(f).collect_schema()]
        if not shards:
            return pl.Series(name, [])
        return pl.concat([self.latest.scan_file(f).select(name).collect().to_series() for f in shards])

    def ids(self, ids) -> set[str]:
        """Which of these ids the latest version already holds (a filter on the table's id index)."""
        table = self.table.at(self.latest)
        wanted = list(dict.fromkeys(str(i) for i in ids))
        if table is None or not wanted:
            return set()
        found = set()
        for start in range(0, len(wanted), 1000):
            chunk = wanted[start : start + 1000]
            quoted = ", ".join("'" + i.replace("'", "''") + "'" for i in chunk)
            hits = table.search().where(f"id IN ({quoted})").select(["id"]).limit(len(chunk)).to_arrow()
            found.update(hits["id"].to_pylist())
        return found

    def _search(self, vectors, limit: int, columns: tuple[str, ...]) -> pl.DataFrame:
        """The `limit` nearest rows per vector, as (query, cosine, *columns)."""
        table = self.table.at(self.latest)
        empty = pl.DataFrame(schema={"query": pl.Int64, "cosine": pl.Float32, **{c: pl.String for c in columns}})
        if table is None or len(vectors) == 0:
            return empty
        vectors = np.asarray(vectors, dtype=np.float32)
        total = table.count_rows()
        indexed = 0 if self.since else indexed_rows(self.latest.record)
        start = self.since.total_rows if self.since else indexed
        parts = [empty]
        if indexed:
            hits = (
                table.search(list(vectors) if len(vectors) > 1 else vectors[0], vector_column_name="vector")
                .distance_type("cosine").nprobes(self.nprobes).fast_search().limit(limit)
                .select(["_distance", *columns]).to_polars()
            )
            parts.append(hits.select(
                (pl.col("query_index") if "query_index" in hits.columns else pl.lit(0)).cast(pl.Int64).alias("query"),
                (1 - pl.col("_distance")).cast(pl.Float32).alias("cosine"), *columns,
            ))
        if total > start:
            recent = table.take_offsets(list(range(start, total))).select(["vector", *columns])
            recent = pl.from_arrow(recent.to_arrow())
            parts.append(_exact_nearest(vectors, recent, limit, columns))
        found = pl.concat(parts, how="vertical_relaxed").sort(["query", "cosine"], descending=[False, True])
        return found.group_by("query", maintain_order=True).head(limit)


def sample_vectors(table: LanceTable, version: PublishedVersion, size: int, seed: int = 0) -> np.ndarray | None:
    """Up to `size` embeddings of a version, drawn at random from its LanceDB tag (the vectors live only there)."""
    opened = table.open()
    opened.checkout(version.lance_version)
    total = opened.count_rows()
    if total == 0 or "vector" not in opened.schema.names:
        return None
    offsets = np.sort(np.random.default_rng(seed).choice(total, size=min(size, total), replace=False))
    picked = opened.take_offsets(offsets.tolist()).select(["vector"]).to_arrow()["vector"]
    return np.asarray(picked.to_pylist(), dtype=np.float32)


def maintain_indexes(table, ann_min_rows: int, previous: dict | None) -> dict | None:
    """Rebuild the id index (for `ids()`); build the IVF_FLAT vector index once `ann_min_rows` rows are unindexed,
    and rebuild it when the rows published since its build pass `ANN_REBUILD_SHARE` of those it covers, so most
    publishes at scale leave it alone and the exact search of the newest rows stays small. Returns the index's
    record (`rows`: how many rows it covers, the first rows of the table).

    Rebuilt rather than extended, measured with LanceDB 0.40: after `optimize` (compaction + index merge) IVF_FLAT
    searches were 10x slower and compaction rewrites every fragment under 1 M rows. Each version stays its own
    fragment, written once.
    """
    from lancedb.index import BTree, IvfFlat

    table.create_index("id", config=BTree(), replace=True)
    rows = table.count_rows()
    indexed = indexed_rows(previous)
    if rows - indexed < max(ann_min_rows, ANN_REBUILD_SHARE * indexed):
        return previous["vector_index"] if indexed else None
    partitions = max(16, round(rows**0.5))
    table.create_index("vector", config=IvfFlat(distance_type="cosine", num_partitions=partitions), replace=True)
    return {"type": "IVF_FLAT", "partitions": partitions, "rows": rows}


def indexed_rows(record: dict | None) -> int:
    """How many of a version's rows its vector index covers (records before `rows` was kept: all of them)."""
    index = (record or {}).get("vector_index")
    return 0 if not index else index.get("rows", record["rows"]["total"])


def _exact_nearest(vectors: np.ndarray, rows: pl.DataFrame, limit: int, columns: tuple[str, ...]) -> pl.DataFrame:
    """The `limit` rows of `rows` nearest each vector by cosine (unit vectors), in query blocks of bounded memory."""
    matrix = rows["vector"].to_numpy()
    k = min(limit, len(matrix))
    block = max(1, 2**24 // len(matrix))
    queries, found = [], []
    for begin in range(0, len(vectors), block):
        similarity = vectors[begin : begin + block] @ matrix.T
        if k == 1:
            top = similarity.argmax(axis=1)[:, None]
        else:
            top = np.argpartition(similarity, -k, axis=1)[:, -k:] if k < len(matrix) else np.argsort(similarity, axis=1)
        queries.append(np.repeat(np.arange(begin, begin + len(similarity)), k))
        found.append(top.ravel())
    queries, found = np.concatenate(queries), np.concatenate(found)
    cosine = np.einsum("ij,ij->i", vectors[queries], matrix[found])
    nearest = pl.DataFrame({"query": queries, "cosine": cosine.astype(np.float32)})
    return pl.concat([nearest, rows.select(columns)[found]], how="horizontal") if columns else nearest
