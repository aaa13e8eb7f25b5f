"""DatasetStore: a published dataset, composed of its folder (files.py), its versions (versions.py), its LanceDB
table (table.py), vector search (search.py), the publish transaction (publish.py), history (history.py) and the
publish lock (locks.py). Every operation reads the versions once and hands them on.

Layout under the publish root (a local folder or an object-store URL such as `s3://bucket/prefix`):
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
version listing an earlier version's shards. Publishers of one dataset are serialised by a lock.

Object stores take their endpoint and credentials from `storage` (storage.py: `publish.storage_options`), and what
it leaves unset from the standard AWS variables (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_REGION, AWS_ALLOW_HTTP for a plain-http endpoint), which s3fs, LanceDB and polars all read.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import polars as pl

from synthfoundry.checkpoints import NEVER, CrashPoint
from synthfoundry.dataset.errors import PublishError
from synthfoundry.dataset.files import Folder
from synthfoundry.dataset.history import History, diff
from synthfoundry.dataset.locks import publish_lock
from synthfoundry.dataset.publish import Recheck, Transaction
from synthfoundry.dataset.search import ANN_MIN_ROWS, ANN_NPROBES, PublishedRows, sample_vectors
from synthfoundry.dataset.storage import StorageOptions
from synthfoundry.dataset.table import LanceTable
from synthfoundry.dataset.versions import PublishedVersion, Versions, read_versions

log = logging.getLogger(__name__)


class DatasetStore:
    def __init__(
        self, root, dataset: str, ann_min_rows: int = ANN_MIN_ROWS, ann_nprobes: int = ANN_NPROBES,
        crash: CrashPoint = NEVER, storage: StorageOptions | None = None,
    ) -> None:
        self.files = Folder(root, storage)
        self.root = self.files.url
        self.dataset = dataset
        self.exports = self.files.path("exports", dataset)
        self.table = LanceTable(self.files, dataset)
        self.transaction = Transaction(self.files, self.exports, self.table, dataset, ann_min_rows, ann_nprobes, crash)
        self.history = History(self.transaction)

    # --- reading ---------------------------------------------------------------------------------------------

    def exists(self) -> bool:
        """Whether anything of this dataset is under the root, committed or left by an interrupted publish; looking
        creates nothing (opening the table would create lancedb/)."""
        return self.files.exists(self.exports) or self.table.exists_in(self.files)

    def versions(self) -> Versions:
        """Committed versions, oldest first, as of now."""
        return read_versions(self.files, self.exports, self.dataset)

    def latest(self) -> PublishedVersion | None:
        return self.versions().latest

    def version(self, version: int | None = None) -> PublishedVersion:
        """A published version by number (default: the latest); NotPublished naming the versions there are."""
        return self.versions().get(version)

    def data_files(self, version: int | None = None) -> list[str]:
        """The Parquet shards of a version, e.g. for `datasets.load_dataset("parquet", data_files=...)`."""
        return self.version(version).data_files

    def scan(self, version: int | None = None) -> pl.LazyFrame:
        """The dataset as of a version (default: latest), without vectors."""
        return self.version(version).scan()

    def read(self, version: int | None = None) -> pl.DataFrame:
        return self.scan(version).collect()

    def ledger(self, version: int | None = None) -> pl.DataFrame:
        """The rows the run behind a version rejected, with stage, reason and score."""
        chosen = self.version(version)
        return chosen.scan_file(f"{chosen.path}/rejections.parquet").collect()

    def tags(self) -> dict[str, int]:
        """Tag name -> version number: every vN, the user tags, and `latest`."""
        return self.history.tags(self.versions())

    def diff(self, a: int, b: int) -> dict:
        """What changed from version a to version b: row ids added and removed, totals, cost and stage counts."""
        versions = self.versions()
        return diff(versions.get(a), versions.get(b))

    def published(self, latest: PublishedVersion | None = None) -> PublishedRows:
        """The rows of a version (default: the latest) for filters to compare new rows with."""
        return PublishedRows(self.table, latest or self.latest(), nprobes=self.transaction.ann_nprobes)

    def sample_vectors(self, version: PublishedVersion, size: int, seed: int = 0) -> np.ndarray | None:
        """Up to `size` embeddings of a version, at random (the vectors live only in the table)."""
        return sample_vectors(self.table, version, size, seed)

    # --- writing -----------------------------------------------------------------------------------------------

    def publish(
        self, rows: pl.DataFrame, ledger: pl.DataFrame, manifest: dict, recheck: Recheck | None = None
    ) -> PublishedVersion:
        """Add `rows` (with a `vector` column) as the next version; all-or-nothing, one publisher at a time.

        Under the lock, rows published meanwhile by another run are re-checked (see `Transaction.add`): `recheck`
        gets the rows and the rows published since the manifest's `compared_with` and returns a reason or None per
        row. A run that already published returns its version.
        """
        with publish_lock(self.files, self.exports):
            versions = self._repaired()
            done = versions.by_run(manifest["run_id"])
            if done is not None:
                log.info("run %s already published %s", manifest["run_id"], done.tag)
                return done
            try:
                return self.transaction.add(versions, rows, ledger, manifest, recheck, self.write_run_report)
            except Exception as error:
                self._repaired()
                if isinstance(error, PublishError):
                    raise
                raise PublishError(
                    f"publishing {self.dataset} {versions.next_tag} failed, nothing was published: {error}"
                ) from error

    def rollback(self, to_version: int, run_id: str) -> PublishedVersion:
        """Publish a new version whose rows equal an earlier version's (its shards, no copy); history stays."""
        with publish_lock(self.files, self.exports):
            versions = self._repaired()
            done = versions.by_run(run_id)
            if done is not None:
                return done
            versions.get(to_version)  # an unknown version is the user's error, not a failed rollback
            try:
                return self.history.rollback(versions, to_version, run_id)
            except Exception as error:
                self._repaired()
                raise PublishError(
                    f"rollback of {self.dataset} to v{to_version} failed, nothing changed: {error}"
                ) from error

    def tag(self, name: str, version: int) -> None:
        """Point a user tag (e.g. `nightly-2026-12-01`, `best`) at a version; moves it if it exists."""
        self.history.tag(name, self.version(version))

    def untag(self, name: str) -> None:
        self.history.untag(name)

    def check(self) -> list[str]:
        """What an interrupted publish left behind (nothing is changed)."""
        return self.history.audit(self.versions(), fix=False)

    def repair(self) -> list[str]:
        """Roll back whatever an interrupted publish left; returns what was fixed."""
        with publish_lock(self.files, self.exports):
            return self.history.audit(self.versions(), fix=True)

    # --- evaluations (beside the versions, which stay as published) ---------------------------------------

    def record_evaluation(self, record: dict) -> str:
        """Keep an extrinsic evaluation (synthfoundry.evaluation.results) under `evaluations/<id>.json`; a record
        is written once and never changed."""
        path = f"{self.exports}/evaluations/{record['id']}.json"
        self.files.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        if not self.files.create(path, json.dumps(record, indent=2, default=str).encode()):
            raise PublishError(f"evaluation {record['id']} of {self.dataset} is already recorded")
        return path

    def evaluations(self, version: int | None = None) -> list[dict]:
        """Recorded evaluations, oldest first; given a version, those with an arm trained on it."""
        records = [self.files.read_json(path) for path in sorted(self.files.glob(f"{self.exports}/evaluations/*.json"))]
        return [r for r in records if version is None
                or any(arm["dataset"] == self.dataset and arm["version"] == version for arm in r["arms"])]

    def write_run_report(self, ledger: pl.DataFrame, manifest: dict) -> str:
        """The ledger and manifest of a run that published nothing, under runs/<dataset>/<run_id>/."""
        report = self.files.path("runs", self.dataset, manifest["run_id"])
        self.files.write_parquet(f"{report}/rejections.parquet", ledger)
        self.files.write_json(f"{report}/manifest.json", {**manifest, "dataset": self.dataset})
        return report

    def _repaired(self) -> Versions:
        """The versions, after undoing what an interrupted publish left (under the lock)."""
        versions = self.versions()
        self.history.audit(versions, fix=True)
        return versions
