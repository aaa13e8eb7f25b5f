"""A dataset's history beyond adding rows: what changed between versions, rollback (a new version listing an
earlier version's shards), user tags, and the audit that finds and undoes what an interrupted publish left."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import polars as pl

from synthfoundry.dataset.errors import NotPublished, TagRefused
from synthfoundry.dataset.publish import Transaction
from synthfoundry.dataset.versions import VERSION_TAG, PublishedVersion, Versions
from synthfoundry.stages import LEDGER_SCHEMA

log = logging.getLogger(__name__)

_TAG_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def diff(first: PublishedVersion, second: PublishedVersion) -> dict:
    """What changed from one version to another: row ids added and removed, totals, cost and stage counts."""
    ids_a = first.scan().select("id").collect()["id"]
    ids_b = second.scan().select("id").collect()["id"]
    added, removed = ids_b.filter(~ids_b.is_in(ids_a.implode())), ids_a.filter(~ids_a.is_in(ids_b.implode()))
    cost = [v.record.get("cost", {}).get("spent_usd") or 0.0 for v in (first, second)]
    stages = dict.fromkeys([*second.record.get("stages", {}), *first.record.get("stages", {})])  # pipeline order
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


@dataclass(frozen=True)
class History:
    transaction: Transaction

    def rollback(self, versions: Versions, to_version: int, run_id: str) -> PublishedVersion:
        """A new version whose rows equal an earlier version's (its shards, no copy); history stays. The store
        holds the lock."""
        target, previous, tag = versions.get(to_version), versions.latest, versions.next_tag
        changes = diff(previous, target)
        files = self.transaction.folder
        files.write_parquet(f"{self.transaction.exports}/{tag}/rejections.parquet", pl.DataFrame(schema=LEDGER_SCHEMA))
        table = self.transaction.table.open()
        table.restore(target.lance_version)
        record = {
            "run_id": run_id,
            "created_at": datetime.now(UTC).isoformat(),
            "dataset": self.transaction.dataset,
            "version": tag,
            "parent": previous.tag,
            "rollback_of": target.tag,
            "stages": {},
            "rows": {"added": changes["added"]["count"], "removed": changes["removed"]["count"],
                     "total": target.total_rows},
            "shards": target.shards,
            "vector_index": target.record.get("vector_index"),
        }
        return self.transaction.commit(table, tag, record)

    def tags(self, versions: Versions) -> dict[str, int]:
        """Tag name -> version number: every vN, the user tags, and `latest`."""
        if not versions:
            return {}
        by_lance = {v.lance_version: v.number for v in versions}
        named = {name: by_lance[info["version"]] for name, info in self.transaction.table.open().tags.list().items()
                 if not VERSION_TAG.match(name) and info["version"] in by_lance}
        return {**{v.tag: v.number for v in versions}, **named, "latest": versions.latest.number}

    def tag(self, name: str, version: PublishedVersion) -> None:
        """Point a user tag (e.g. `nightly-2026-12-01`, `best`) at a version; moves it if it exists."""
        if VERSION_TAG.match(name) or name == "latest" or not _TAG_NAME.match(name):
            raise TagRefused(
                f"tag name {name!r} is not allowed: vN and `latest` are kept by the store; use letters, digits, . _ -"
            )
        tags = self.transaction.table.open().tags
        if name in tags.list():
            tags.update(name, version.lance_version)
        else:
            tags.create(name, version.lance_version)

    def untag(self, name: str) -> None:
        if VERSION_TAG.match(name) or name == "latest":
            raise TagRefused(f"tag {name!r} is kept by the store and cannot be removed")
        table = self.transaction.table.open()
        if table is None or name not in table.tags.list():
            raise NotPublished(f"dataset {self.transaction.dataset!r} has no tag {name!r}")
        table.tags.delete(name)

    def audit(self, versions: Versions, fix: bool) -> list[str]:
        """Find (and with `fix`, undo) what no committed version owns: files, tags and table rows."""
        files, exports = self.transaction.folder, self.transaction.exports
        found = []
        committed = {v.tag for v in versions}
        for path in files.glob(f"{exports}/*"):
            name = path.rstrip("/").split("/")[-1]
            if name.startswith(".staging-") or (VERSION_TAG.match(name) and name not in committed):
                found.append(f"{name}/: files of a publish that never committed")
                if fix:
                    files.remove(path)
        table = self.transaction.table.open()
        if table is None:
            return found
        tags = table.tags.list()
        for name in sorted(set(tags) - committed):
            if VERSION_TAG.match(name):
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
                self.transaction.table.drop()
            return self._logged(found, fix)
        latest = versions.latest
        committed_at = tags[latest.tag]["version"] if latest.tag in tags else latest.lance_version
        if table.version != committed_at:
            rows = table.count_rows() - latest.total_rows
            found.append(f"LanceDB table: head is version {table.version} ({rows:+d} rows), not {latest.tag}'s")
            if fix:  # back to the latest version's rows; its tag follows to the restored (identical) version
                table.restore(committed_at)
                table.tags.update(latest.tag, table.version)
        return self._logged(found, fix)

    def _logged(self, found: list[str], fixed: bool) -> list[str]:
        if fixed and found:
            log.warning("repaired %s: %s", self.transaction.dataset, "; ".join(found))
        return found
