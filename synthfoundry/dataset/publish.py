"""The publish transaction: rows re-checked against what was published meanwhile, shards, table rows, indexes, the
LanceDB tag, then the manifest, the one step that makes a version exist (see store.py for the layout).

The store holds the lock and rolls back what a failed attempt left; this module only adds. Each step ends at a crash
point (`publish-recheck`, `-shards`, `-append`, `-index`, `-tag`, `-commit`) where the crash suite kills it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from synthfoundry.checkpoints import NEVER, CrashPoint
from synthfoundry.dataset.errors import NothingNew, PublishError
from synthfoundry.dataset.files import Folder
from synthfoundry.dataset.search import PublishedRows, maintain_indexes
from synthfoundry.dataset.table import LanceTable
from synthfoundry.dataset.versions import PublishedVersion, Versions
from synthfoundry.stages import split

SHARD_ROWS = 500_000  # rows per Parquet shard

Recheck = Callable[[pl.DataFrame, PublishedRows], list[str | None]]  # a reason (duplicate) or None per row


@dataclass(frozen=True)
class Transaction:
    """What one publish writes to: the folder of the dataset's versions and its table."""

    folder: Folder
    exports: str
    table: LanceTable
    dataset: str
    ann_min_rows: int
    ann_nprobes: int
    crash: CrashPoint = NEVER  # the reliability suite's injected crash point

    def add(self, versions: Versions, rows: pl.DataFrame, ledger: pl.DataFrame, manifest: dict,
            recheck: Recheck | None, write_run_report: Callable[[pl.DataFrame, dict], str]) -> PublishedVersion:
        """Re-check, then write `rows` as the next version (the store holds the lock); NothingNew, with the run's
        report written, when no row is left."""
        previous, since = versions.latest, versions.compared_with(manifest.get("compared_with"))
        check, before = self._recheck(rows, recheck, since, previous)
        self.crash("publish-recheck")
        ledger = pl.concat([ledger, _ledger_rows(check.dropped, ledger)], how="diagonal_relaxed")
        manifest = {**manifest, "stages": {**manifest.get("stages", {}), "publish": check.counts}}
        if check.kept.height == 0:
            report = write_run_report(ledger, manifest)
            how = (f"were already in {self.dataset} {since.tag} when this run started" if before == rows.height
                   else f"were published meanwhile by another run (latest {self.dataset} {previous.tag})")
            raise NothingNew(f"nothing new to publish: all {rows.height} rows {how}; the run's ledger and manifest: "
                             f"{report}")
        return self._write(previous, versions.next_tag, check.kept, ledger, manifest)

    def _recheck(self, rows, recheck: Recheck | None, since: PublishedVersion | None, latest: PublishedVersion | None):
        """Rows whose id is already published, or that `recheck` finds a copy of a row published after `since`
        (what the run's filters compared with; None: every row), go to the ledger (stage "publish"). Also returns
        how many ids `since` already held (a run repeated without filters), not published meanwhile."""
        reason = np.full(rows.height, None, dtype=object)
        published_meanwhile = latest is not None and (since is None or since.number < latest.number)
        if recheck is not None and rows.height and published_meanwhile:
            reason[:] = recheck(rows, PublishedRows(self.table, latest, since, self.ann_nprobes))
        ids = rows["id"].to_list()
        taken = rows["id"].is_in(list(PublishedRows(self.table, latest).ids(ids))).to_numpy()
        before = rows["id"].is_in(list(PublishedRows(self.table, since).ids(ids))).to_numpy()
        reason[taken & ~before] = "id published meanwhile by another run"
        if before.any():
            reason[before] = f"id already in {since.tag} when this run started"
        text = "instruction" if "instruction" in rows.columns else "id"
        return split(rows, "publish", pl.Series(reason.tolist(), dtype=pl.String), text_column=text), int(before.sum())

    def _write(self, previous, tag, rows, ledger, manifest) -> PublishedVersion:
        folder = f"{self.exports}/{tag}"
        shards = [f"{tag}/data/part-{i:05d}.parquet" for i in range(max(1, -(-rows.height // SHARD_ROWS)))]
        for shard, part in zip(shards, rows.drop("vector").iter_slices(SHARD_ROWS)):
            self.folder.write_parquet(f"{self.exports}/{shard}", part)
        self.folder.write_parquet(f"{folder}/rejections.parquet", ledger)
        self.crash("publish-shards")

        total = (previous.total_rows if previous else 0) + rows.height
        if previous is None:
            table = self.table.create(_arrow(rows))
        else:
            table = self.table.open()
            table.add(_conformed(table, _arrow(rows)))
        self.crash("publish-append")
        index = maintain_indexes(table, self.ann_min_rows, previous.record if previous else None)
        self.crash("publish-index")
        if table.count_rows() != total:
            raise PublishError(
                f"{self.dataset} table holds {table.count_rows()} rows, expected {total}: another writer?"
            )
        record = {
            **manifest,
            "dataset": self.dataset,
            "version": tag,
            "parent": previous.tag if previous else None,
            "rows": {"added": rows.height, "removed": 0, "total": total},
            "shards": (previous.shards if previous else []) + shards,
            "vector_index": index,
        }
        return self.commit(table, tag, record)

    def commit(self, table, tag: str, record: dict) -> PublishedVersion:
        """Tag the table's current version, then write the manifest: the one step that makes the version exist."""
        record = {**record, "lance_version": table.version}
        table.tags.create(tag, table.version)
        self.crash("publish-tag")
        folder = f"{self.exports}/{tag}"
        if not self.folder.create(f"{folder}/manifest.json", json.dumps(record, indent=2, default=str).encode()):
            raise PublishError(f"{folder}/manifest.json already exists: another publisher committed {tag}")
        self.crash("publish-commit")
        number = int(tag[1:])
        return PublishedVersion(self.dataset, number, record["lance_version"], folder, record, self.folder.storage)


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
