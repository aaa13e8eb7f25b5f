"""Published datasets: a LanceDB table per dataset, Parquet shards per version, and a manifest that commits each version.

Layout under the publish root (a local folder or an object-store URI such as `s3://bucket/prefix`):
  lancedb/<dataset>.lance                        every published row with its vector; LanceDB tag vN = version N
  exports/<dataset>/vN/data/part-*.parquet       the rows version N added (no vectors), stored once
  exports/<dataset>/vN/rejections.parquet        the run's rejection ledger
  exports/<dataset>/vN/manifest.json             the commit record: config, counts, cost, contract, parent, and
                                                 `shards`, the files that make up the dataset as of vN
  runs/<dataset>/<run_id>/                       ledger + manifest of a run that published nothing

A version exists once its manifest does: the manifest is written last, in one atomic step (a hard link on a local
disk, a conditional `If-None-Match: *` put on an object store), after its files, its rows and its LanceDB tag.
Anything an interrupted publish left (a folder without a manifest, a tag without a version, table rows no version
owns) is rolled back by the next publish or by `repair()`. Versions are immutable; a rollback publishes a new
version listing an earlier version's shards. Publishers of one dataset are serialised by a lock: `fcntl` on a local
disk, a lease object on an object store (see `_LeaseLock`).

Object stores take their endpoint and credentials from the standard AWS variables (AWS_ENDPOINT_URL,
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ALLOW_HTTP for a plain-http endpoint), which s3fs,
LanceDB and polars all read.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import polars as pl

from synthfoundry.checkpoints import checkpoint
from synthfoundry.errors import TransientError, UserError
from synthfoundry.stages import LEDGER_SCHEMA, split

log = logging.getLogger(__name__)

_VERSION = re.compile(r"^v(\d+)$")
_TAG_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
SHARD_ROWS = 500_000  # rows per Parquet shard
ANN_MIN_ROWS = 50_000  # fewer unindexed rows than this are searched exactly in numpy (faster up to here); then IVF_FLAT
ANN_NPROBES = 24
ANN_REBUILD_SHARE = 0.05  # rebuild the vector index once rows published since its build pass this share of it


class PublishError(TransientError, RuntimeError):
    """Publishing could not complete (another writer, an object-store failure); nothing was published, and a later
    attempt may succeed."""


class NothingNew(PublishError):
    """Every row was published meanwhile by another run (the same run started twice): nothing to add, no failure."""


class NotPublished(UserError, LookupError):
    """The version or tag asked for is not in the dataset; the message names what there is."""


class TagRefused(UserError, ValueError):
    """A tag name the store keeps for itself (vN, latest) or cannot store."""


@dataclass(frozen=True)
class PublishedVersion:
    dataset: str
    number: int
    lance_version: int  # the table version it committed; LanceDB tag vN names it (or, after a repair, its copy)
    path: str  # the version's folder: exports/<dataset>/vN
    record: dict = field(repr=False, compare=False)

    @property
    def tag(self) -> str:
        return f"v{self.number}"

    @property
    def data_files(self) -> list[str]:
        """The Parquet files that together hold the dataset as of this version (before shards: one full snapshot)."""
        exports = self.path.rsplit("/", 1)[0]
        return [f"{exports}/{shard}" for shard in self.shards]

    @property
    def shards(self) -> list[str]:
        return self.record.get("shards", [f"{self.tag}/data.parquet"])

    def manifest(self) -> dict:
        return json.loads(json.dumps(self.record))


@dataclass(frozen=True)
class PublishedSince:
    """The rows of `store` published after `version` (every row if None), searched as a filter searches the store:
    what a publish re-checks its rows against."""

    store: DatasetStore
    version: PublishedVersion | None

    def nearest_published(self, vectors: np.ndarray) -> np.ndarray:
        return self.store.nearest_published(vectors, self.version)

    def published_neighbours(self, vectors: np.ndarray, above: float, column: str, limit: int = 16) -> pl.DataFrame:
        return self.store.published_neighbours(vectors, above, column, limit, self.version)


Recheck = Callable[[pl.DataFrame, PublishedSince], list[str | None]]  # a reason (duplicate) or None per row


class DatasetStore:
    def __init__(self, root, dataset: str, ann_min_rows: int = ANN_MIN_ROWS, ann_nprobes: int = ANN_NPROBES) -> None:
        import fsspec

        self.root = str(root).rstrip("/")
        self.dataset = dataset
        self.ann_min_rows, self.ann_nprobes = ann_min_rows, ann_nprobes
        self.fs, root_path = fsspec.core.url_to_fs(self.root, use_listings_cache=False)
        self.local = "file" in self.fs.protocol
        self._root = root_path if self.local else self.fs.unstrip_protocol(root_path)
        self.exports = f"{self._root}/exports/{dataset}"
        self._connection = None

    # --- reading ---------------------------------------------------------------------------------------------

    def exists(self) -> bool:
        """Whether anything of this dataset is under the root, committed or left by an interrupted publish; looking
        creates nothing (opening the table would create lancedb/)."""
        return self.fs.exists(self.exports) or self.fs.exists(f"{self._root}/lancedb/{self.dataset}.lance")

    def versions(self) -> list[PublishedVersion]:
        """Committed versions, oldest first (a folder without its manifest is an unfinished publish)."""
        found = []
        for path in self.fs.glob(f"{self.exports}/v*/manifest.json"):
            name = path.rstrip("/").split("/")[-2]
            if match := _VERSION.match(name):
                record = json.loads(self.fs.cat_file(path))
                found.append(
                    PublishedVersion(self.dataset, int(match[1]), record["lance_version"], f"{self.exports}/{name}", record)
                )
        return sorted(found, key=lambda v: v.number)

    def latest(self) -> PublishedVersion | None:
        versions = self.versions()
        return versions[-1] if versions else None

    def published_by_run(self, run_id: str) -> PublishedVersion | None:
        """The version a run published, if it did: a re-run of a finished run publishes nothing new."""
        return next((v for v in self.versions() if v.record.get("run_id") == run_id), None)

    def data_files(self, version: int | None = None) -> list[str]:
        """The Parquet shards of a version, e.g. for `datasets.load_dataset("parquet", data_files=...)`."""
        return self.version(version).data_files

    def scan(self, version: int | None = None) -> pl.LazyFrame:
        """The dataset as of a version (default: latest), without vectors: one lazy scan of its shards (shards
        written before a column existed read it as null)."""
        scans = [pl.scan_parquet(f) for f in self.data_files(version)]
        if len({tuple(scan.collect_schema().items()) for scan in scans}) == 1:
            return pl.scan_parquet(self.data_files(version))
        return pl.concat(scans, how="diagonal_relaxed")

    def read(self, version: int | None = None) -> pl.DataFrame:
        return self.scan(version).collect()

    def ledger(self, version: int | None = None) -> pl.DataFrame:
        """The rows the run behind a version rejected, with stage, reason and score."""
        return pl.read_parquet(f"{self.version(version).path}/rejections.parquet")

    def tags(self) -> dict[str, int]:
        """Tag name -> version number: every vN, the user tags, and `latest`."""
        versions = self.versions()
        if not versions:
            return {}
        by_lance = {v.lance_version: v.number for v in versions}
        named = {name: by_lance[info["version"]] for name, info in self._table().tags.list().items()
                 if not _VERSION.match(name) and info["version"] in by_lance}
        return {**{v.tag: v.number for v in versions}, **named, "latest": versions[-1].number}

    def diff(self, a: int, b: int) -> dict:
        """What changed from version a to version b: row ids added and removed, totals, cost and stage counts."""
        first, second = self.version(a), self.version(b)
        ids_a = self.scan(a).select("id").collect()["id"]
        ids_b = self.scan(b).select("id").collect()["id"]
        added, removed = ids_b.filter(~ids_b.is_in(ids_a.implode())), ids_a.filter(~ids_a.is_in(ids_b.implode()))
        cost = [v.record.get("cost", {}).get("spent_usd") or 0.0 for v in (first, second)]
        stages = sorted(set(first.record.get("stages", {})) | set(second.record.get("stages", {})))
        return {
            "a": first.tag,
            "b": second.tag,
            "rows": {"a": ids_a.len(), "b": ids_b.len()},
            "added": {"count": added.len(), "sample": added.head(5).to_list()},
            "removed": {"count": removed.len(), "sample": removed.head(5).to_list()},
            "cost_usd": {"a": cost[0], "b": cost[1], "delta": round(cost[1] - cost[0], 6)},
            "stages": {s: {"a": first.record.get("stages", {}).get(s), "b": second.record.get("stages", {}).get(s)}
                       for s in stages},
        }

    def nearest_published(self, vectors: np.ndarray, since: PublishedVersion | None = None) -> np.ndarray:
        """Each vector's highest cosine similarity to any row of the latest version (0 if none); with `since`, only
        to the rows published after that version."""
        found = self._search(vectors, 1, (), since)
        best = np.zeros(len(vectors), dtype=np.float32)
        best[found["query"].to_numpy()] = found["cosine"].to_numpy()
        return best

    def published_neighbours(
        self, vectors: np.ndarray, above: float, column: str, limit: int = 16, since: PublishedVersion | None = None
    ) -> pl.DataFrame:
        """Up to `limit` published rows per vector with cosine > `above`: (query, cosine, `column`), nearest first,
        so a filter can look closer at them (their numbers, their words); with `since`, only rows published after
        that version."""
        return self._search(vectors, limit, (column,), since).filter(pl.col("cosine") > above)

    def _search(self, vectors, limit: int, columns: tuple[str, ...], since: PublishedVersion | None = None):
        """The `limit` nearest rows of the latest version per vector, as (query, cosine, *columns).

        Rows the vector index covers are searched through it (IVF_FLAT: exact distances within the `ann_nprobes`
        partitions nearest to each vector; bench/lookup.py measures recall and speed); rows published after it was
        built, or after `since`, exactly in numpy (LanceDB's own scan of unindexed rows costs ~30 ms a query).
        """
        latest = self.latest()
        table = self._published_table(latest)
        empty = pl.DataFrame(schema={"query": pl.Int64, "cosine": pl.Float32, **{c: pl.String for c in columns}})
        if table is None or len(vectors) == 0:
            return empty
        vectors = np.asarray(vectors, dtype=np.float32)
        total = table.count_rows()
        indexed = 0 if since else _indexed_rows(latest.record)
        start = since.record["rows"]["total"] if since else indexed
        parts = [empty]
        if indexed:
            hits = (
                table.search(list(vectors) if len(vectors) > 1 else vectors[0], vector_column_name="vector")
                .distance_type("cosine").nprobes(self.ann_nprobes).fast_search().limit(limit)
                .select(["_distance", *columns]).to_polars()
            )
            parts.append(hits.select(
                (pl.col("query_index") if "query_index" in hits.columns else pl.lit(0)).cast(pl.Int64).alias("query"),
                (1 - pl.col("_distance")).cast(pl.Float32).alias("cosine"), *columns,
            ))
        if total > start:
            recent = pl.from_arrow(table.take_offsets(list(range(start, total))).select(["vector", *columns]).to_arrow())
            parts.append(_exact_nearest(vectors, recent, limit, columns))
        found = pl.concat(parts, how="vertical_relaxed").sort(["query", "cosine"], descending=[False, True])
        return found.group_by("query", maintain_order=True).head(limit)

    def published_column(self, name: str) -> pl.Series:
        """One column of the latest version, read alone from the shards that have it (texts for ROUGE-L,
        signatures for MinHash); empty when nothing is published or no shard has the column."""
        latest = self.latest()
        shards = [f for f in latest.data_files if name in pl.scan_parquet(f).collect_schema()] if latest else []
        if not shards:
            return pl.Series(name, [])
        return pl.concat([pl.read_parquet(f, columns=[name]).to_series() for f in shards])

    def ids(self, ids) -> set[str]:
        """Which of these ids the latest version already holds (a filter on the table's id index)."""
        table = self._published_table(self.latest())
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

    # --- publishing --------------------------------------------------------------------------------------------

    def publish(
        self,
        rows: pl.DataFrame,
        ledger: pl.DataFrame,
        manifest: dict,
        recheck: Recheck | None = None,
    ) -> PublishedVersion:
        """Add `rows` (with a `vector` column) as the next version; all-or-nothing, one publisher at a time.

        Under the lock, rows published meanwhile by another run are re-checked: a row whose id is already published,
        or that `recheck` finds a duplicate of a row published after the manifest's `compared_with` version (what
        the run's filters compared with; none: every row), goes to the ledger (stage "publish"). `recheck` gets the
        rows and those published rows (a `PublishedSince`) and returns a reason or None per row: the run's own
        diversity rule. A run that already published returns its version. Each step ends at a checkpoint
        (`publish-recheck`, `-shards`, `-append`, `-index`, `-tag`, `-commit`) where the crash suite kills it.
        """
        with self._lock():
            self._audit(fix=True)
            done = self.published_by_run(manifest["run_id"])
            if done is not None:
                log.info("run %s already published %s", manifest["run_id"], done.tag)
                return done
            previous = self.latest()
            tag = f"v{previous.number + 1 if previous else 1}"
            try:
                check = self._recheck(rows, recheck, self._compared_with(manifest), previous)
                checkpoint("publish-recheck")
                ledger = pl.concat([ledger, _ledger_rows(check.dropped, ledger)], how="diagonal_relaxed")
                manifest = {**manifest, "stages": {**manifest.get("stages", {}), "publish": check.counts}}
                if check.kept.height == 0:
                    report = self.write_run_report(ledger, manifest)
                    raise NothingNew(
                        f"nothing new to publish: all {rows.height} rows were published meanwhile by another run "
                        f"(latest {self.dataset} {previous.tag if previous else 'none'}); the run's ledger and "
                        f"manifest: {report}"
                    )
                return self._publish(previous, tag, check.kept, ledger, manifest)
            except Exception as error:
                self._audit(fix=True)
                if isinstance(error, PublishError):
                    raise
                raise PublishError(f"publishing {self.dataset} {tag} failed, nothing was published: {error}") from error

    def _compared_with(self, manifest: dict) -> PublishedVersion | None:
        """The version the run's filters compared its rows with, if the table only grew since (rows published after
        it are the table's last rows); else None: re-check against every row."""
        tag = manifest.get("compared_with")
        if not tag:
            return None
        later = [v for v in self.versions() if v.number > int(tag[1:])]
        return None if any("rollback_of" in v.record for v in later) else self.version(int(tag[1:]))

    def _recheck(self, rows, recheck: Recheck | None, since: PublishedVersion | None, latest: PublishedVersion | None):
        reason = np.full(rows.height, None, dtype=object)
        published_meanwhile = latest is not None and (since is None or since.number < latest.number)
        if recheck is not None and rows.height and published_meanwhile:
            reason[:] = recheck(rows, PublishedSince(self, since))
        published = self.ids(rows["id"].to_list())
        taken = rows["id"].is_in(list(published)).to_numpy()
        reason[taken] = "id published meanwhile by another run"
        text = "instruction" if "instruction" in rows.columns else "id"
        return split(rows, "publish", pl.Series(reason.tolist(), dtype=pl.String), text_column=text)

    def _publish(self, previous, tag, rows, ledger, manifest) -> PublishedVersion:
        folder = f"{self.exports}/{tag}"
        shards = [f"{tag}/data/part-{i:05d}.parquet" for i in range(max(1, -(-rows.height // SHARD_ROWS)))]
        for shard, part in zip(shards, rows.drop("vector").iter_slices(SHARD_ROWS)):
            self._write_parquet(f"{self.exports}/{shard}", part)
        self._write_parquet(f"{folder}/rejections.parquet", ledger)
        checkpoint("publish-shards")

        total = (previous.record["rows"]["total"] if previous else 0) + rows.height
        db = self._db()
        if previous is None:
            table = db.create_table(self.dataset, data=_arrow(rows))
        else:
            table = db.open_table(self.dataset)
            table.add(_conformed(table, _arrow(rows)))
        checkpoint("publish-append")
        index = _maintain_indexes(table, self.ann_min_rows, previous.record if previous else None)
        checkpoint("publish-index")
        if table.count_rows() != total:
            raise PublishError(f"{self.dataset} table holds {table.count_rows()} rows, expected {total}: another writer?")
        record = {
            **manifest,
            "dataset": self.dataset,
            "version": tag,
            "parent": previous.tag if previous else None,
            "rows": {"added": rows.height, "removed": 0, "total": total},
            "shards": (previous.shards if previous else []) + shards,
            "vector_index": index,
        }
        return self._commit(table, tag, record)

    def _commit(self, table, tag: str, record: dict) -> PublishedVersion:
        """Tag the table's current version, then write the manifest: the one step that makes the version exist."""
        record = {**record, "lance_version": table.version}
        table.tags.create(tag, table.version)
        checkpoint("publish-tag")
        folder = f"{self.exports}/{tag}"
        if not self._create(f"{folder}/manifest.json", json.dumps(record, indent=2, default=str).encode()):
            raise PublishError(f"{folder}/manifest.json already exists: another publisher committed {tag}")
        checkpoint("publish-commit")
        return PublishedVersion(self.dataset, int(tag[1:]), record["lance_version"], folder, record)

    def rollback(self, to_version: int, run_id: str) -> PublishedVersion:
        """Publish a new version whose rows equal an earlier version's (its shards, no copy); history stays."""
        with self._lock():
            self._audit(fix=True)
            done = self.published_by_run(run_id)
            if done is not None:
                return done
            target, previous = self.version(to_version), self.latest()
            tag = f"v{previous.number + 1}"
            try:
                changes = self.diff(previous.number, target.number)
                self._write_parquet(f"{self.exports}/{tag}/rejections.parquet", pl.DataFrame(schema=LEDGER_SCHEMA))
                table = self._table()
                table.restore(target.lance_version)
                record = {
                    "run_id": run_id,
                    "created_at": datetime.now(UTC).isoformat(),
                    "dataset": self.dataset,
                    "version": tag,
                    "parent": previous.tag,
                    "rollback_of": target.tag,
                    "stages": {},
                    "rows": {"added": changes["added"]["count"], "removed": changes["removed"]["count"],
                             "total": target.record["rows"]["total"]},
                    "shards": target.shards,
                    "vector_index": target.record.get("vector_index"),
                }
                return self._commit(table, tag, record)
            except Exception as error:
                self._audit(fix=True)
                raise PublishError(f"rollback of {self.dataset} to v{to_version} failed, nothing changed: {error}") from error

    def tag(self, name: str, version: int) -> None:
        """Point a user tag (e.g. `nightly-2026-12-01`, `best`) at a version; moves it if it exists."""
        if _VERSION.match(name) or name == "latest" or not _TAG_NAME.match(name):
            raise TagRefused(
                f"tag name {name!r} is not allowed: vN and `latest` are kept by the store; use letters, digits, . _ -"
            )
        lance_version = self.version(version).lance_version
        tags = self._table().tags
        if name in tags.list():
            tags.update(name, lance_version)
        else:
            tags.create(name, lance_version)

    def untag(self, name: str) -> None:
        if _VERSION.match(name) or name == "latest":
            raise TagRefused(f"tag {name!r} is kept by the store and cannot be removed")
        table = self._table()
        if table is None or name not in table.tags.list():
            raise NotPublished(f"dataset {self.dataset!r} has no tag {name!r}")
        table.tags.delete(name)

    def check(self) -> list[str]:
        """What an interrupted publish left behind (nothing is changed)."""
        return self._audit(fix=False)

    def repair(self) -> list[str]:
        """Roll back whatever an interrupted publish left; returns what was fixed."""
        with self._lock():
            return self._audit(fix=True)

    def write_run_report(self, ledger: pl.DataFrame, manifest: dict) -> str:
        """The ledger and manifest of a run that published nothing, under runs/<dataset>/<run_id>/."""
        report = f"{self._root}/runs/{self.dataset}/{manifest['run_id']}"
        self._write_parquet(f"{report}/rejections.parquet", ledger)
        self._put(f"{report}/manifest.json", json.dumps({**manifest, "dataset": self.dataset}, indent=2, default=str).encode())
        return report

    # --- internals ---------------------------------------------------------------------------------------------

    def _audit(self, fix: bool) -> list[str]:
        """Find (and with `fix`, undo) what no committed version owns: files, tags and table rows."""
        found = []
        versions = self.versions()
        committed = {v.tag for v in versions}
        for path in self.fs.glob(f"{self.exports}/*"):
            name = path.rstrip("/").split("/")[-1]
            if name.startswith(".staging-") or (_VERSION.match(name) and name not in committed):
                found.append(f"{name}/: files of a publish that never committed")
                if fix:
                    self.fs.rm(path, recursive=True)
        table = self._table()
        if table is None:
            return found
        tags = table.tags.list()
        for name in sorted(set(tags) - committed):
            if _VERSION.match(name):
                found.append(f"LanceDB tag {name}: no committed version")
                if fix:
                    table.tags.delete(name)
        for version in versions:
            if version.tag not in tags:
                found.append(f"LanceDB tag {version.tag}: missing for a committed version")
                if fix:
                    table.tags.create(version.tag, version.lance_version)
        if not versions:
            found.append(f"LanceDB table: {table.count_rows()} rows and no committed version")
            if fix:
                self._db().drop_table(self.dataset)
            return self._logged(found, fix)
        latest = versions[-1]
        committed_at = tags[latest.tag]["version"] if latest.tag in tags else latest.lance_version
        if table.version != committed_at:
            rows = table.count_rows() - latest.record["rows"]["total"]
            found.append(f"LanceDB table: head is version {table.version} ({rows:+d} rows), not {latest.tag}'s")
            if fix:  # back to the latest version's rows; its tag follows to the restored (identical) version
                table.restore(committed_at)
                table.tags.update(latest.tag, table.version)
        return self._logged(found, fix)

    def _logged(self, found: list[str], fixed: bool) -> list[str]:
        if fixed and found:
            log.warning("repaired %s: %s", self.dataset, "; ".join(found))
        return found

    def version(self, version: int | None = None) -> PublishedVersion:
        """A published version by number (default: the latest); NotPublished naming the versions there are."""
        versions = self.versions()
        if not versions:
            raise NotPublished(f"dataset {self.dataset!r} has no published version under {self.root}")
        if version is None:
            return versions[-1]
        for candidate in versions:
            if candidate.number == version:
                return candidate
        raise NotPublished(
            f"dataset {self.dataset!r} has no version v{version}; it has {', '.join(v.tag for v in versions)}"
        )

    def _db(self):
        """One LanceDB connection per store: its session caches the vector index, which a new connection loads
        again (at 1 M rows that doubled a lookup's time)."""
        import lancedb

        if self._connection is None:
            self._connection = lancedb.connect(f"{self._root}/lancedb")
        return self._connection

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_connection": None}  # a store sent to another process connects there

    def _table(self):
        db = self._db()
        return db.open_table(self.dataset) if self.dataset in db.list_tables().tables else None

    def _published_table(self, latest: PublishedVersion | None):
        """The table checked out at `latest`, the latest committed version (rows of an unfinished publish stay
        unseen)."""
        if latest is None:
            return None
        table = self._table()
        table.checkout(latest.tag)
        return table

    def _write_parquet(self, path: str, frame: pl.DataFrame) -> None:
        self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        with self.fs.open(path, "wb") as handle:
            frame.write_parquet(handle)

    def _put(self, path: str, data: bytes) -> None:
        self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        self.fs.pipe_file(path, data)

    def _create(self, path: str, data: bytes) -> bool:
        """Write a whole file only if none exists, atomically; False if it does."""
        if not self.local:
            return _conditional_put(self.fs, path, data)
        temporary = f"{path}.{uuid.uuid4().hex}.tmp"
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return False
        finally:
            os.unlink(temporary)
        return True

    @contextlib.contextmanager
    def _lock(self):
        if not self.local:
            with _LeaseLock(self.fs, f"{self.exports}/_publish.lock"):
                yield
            return
        import fcntl

        self.fs.makedirs(self.exports, exist_ok=True)
        with open(f"{self.exports}/.publish.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield


def _arrow(rows: pl.DataFrame):
    """Rows as Arrow with a plain-string id (LanceDB's BTREE index does not take polars' large strings)."""
    import pyarrow as pa

    arrow = rows.to_arrow()
    return arrow.set_column(arrow.schema.get_field_index("id"), "id", arrow["id"].cast(pa.string()))


def _conformed(table, rows):
    """New rows fitted to the table's schema, evolving it: columns the table lacks (a newer release's) are added to it
    as nulls for the rows before, columns the rows lack are null for them."""
    import pyarrow as pa

    names = set(table.schema.names)
    new = [field for field in rows.schema if field.name not in names]
    if new:
        table.add_columns(new)
    for column in table.schema:
        if column.name not in rows.schema.names:
            rows = rows.append_column(column, pa.nulls(rows.num_rows, column.type))
    return rows.select(table.schema.names)


def _ledger_rows(dropped: pl.DataFrame, ledger: pl.DataFrame) -> pl.DataFrame:
    """Publish-stage drops in the run's ledger schema (the flow adds a run_id column)."""
    if "run_id" in ledger.columns and ledger.height:
        return dropped.with_columns(pl.lit(ledger["run_id"][0]).alias("run_id"))
    return dropped


def _maintain_indexes(table, ann_min_rows: int, previous: dict | None) -> dict | None:
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
    indexed = _indexed_rows(previous)
    if rows - indexed < max(ann_min_rows, ANN_REBUILD_SHARE * indexed):
        return previous["vector_index"] if indexed else None
    partitions = max(16, round(rows**0.5))
    table.create_index("vector", config=IvfFlat(distance_type="cosine", num_partitions=partitions), replace=True)
    return {"type": "IVF_FLAT", "partitions": partitions, "rows": rows}


def _indexed_rows(record: dict | None) -> int:
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


def _conditional_put(fs, path: str, data: bytes, etag: str | None = None) -> str | None:
    """S3 put that succeeds only if the key is absent (or, with `etag`, still that object); its new ETag or None."""
    bucket, key, _ = fs.split_path(path)
    condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
    try:
        return fs.call_s3("put_object", Bucket=bucket, Key=key, Body=data, **condition)["ETag"]
    except OSError as error:  # s3fs wraps botocore's ClientError
        if getattr(error.__cause__, "response", {}).get("Error", {}).get("Code") == "PreconditionFailed":
            return None
        raise


class _LeaseLock:
    """A publish lock on an object store, which has no file locks.

    The lock is an object created with a conditional put (`If-None-Match: *`): one creator wins. It holds an expiry;
    the holder renews it every third of the lease (`If-Match` on its own ETag), so only a holder that died loses it,
    and a waiter takes an expired lock over with `If-Match` on the ETag it saw, so two waiters cannot both take it.
    The manifest's own conditional put is the last fence: even a publisher that lost its lease cannot commit a
    version number someone else committed.
    """

    def __init__(self, fs, path: str, lease_s: float = 60.0, poll_s: float = 0.2) -> None:
        self.fs, self.path, self.lease_s, self.poll_s = fs, path, lease_s, poll_s
        self.etag = None
        self._stop = threading.Event()

    def _body(self) -> bytes:
        return json.dumps({"owner": f"{os.uname().nodename}:{os.getpid()}", "expires": time.time() + self.lease_s}).encode()

    def __enter__(self):
        while self.etag is None:
            self.etag = _conditional_put(self.fs, self.path, self._body())
            if self.etag is None:
                self._take_over_if_expired()
            if self.etag is None:
                time.sleep(self.poll_s)
        self._renewer = threading.Thread(target=self._renew, daemon=True)
        self._renewer.start()
        return self

    def _take_over_if_expired(self) -> None:
        try:
            info = self.fs.info(self.path)
            held = json.loads(self.fs.cat_file(self.path))
        except FileNotFoundError:
            return
        if held["expires"] < time.time():
            self.etag = _conditional_put(self.fs, self.path, self._body(), etag=info["ETag"])

    def _renew(self) -> None:
        while not self._stop.wait(self.lease_s / 3):
            self.etag = _conditional_put(self.fs, self.path, self._body(), etag=self.etag)
            if self.etag is None:
                log.warning("publish lock %s was taken over: this publisher's lease expired", self.path)
                return

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._renewer.join()
        if self.etag is not None:
            self.fs.rm(self.path)
