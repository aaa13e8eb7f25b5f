"""The committed versions of a dataset, read from their manifests in one place (`read_versions`) and passed on as a
value: an operation reads them once and every step of it sees the same list."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import polars as pl

from synthfoundry.dataset.errors import NotPublished
from synthfoundry.dataset.files import Folder
from synthfoundry.dataset.storage import StorageOptions

VERSION_TAG = re.compile(r"^v(\d+)$")


@dataclass(frozen=True)
class PublishedVersion:
    dataset: str
    number: int
    lance_version: int  # the table version it committed; LanceDB tag vN names it (or, after a repair, its copy)
    path: str  # the version's folder: exports/<dataset>/vN
    record: dict = field(repr=False, compare=False)
    storage: StorageOptions | None = field(default=None, repr=False, compare=False)  # how polars reaches `path`

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

    @property
    def total_rows(self) -> int:
        return self.record["rows"]["total"]

    def manifest(self) -> dict:
        return json.loads(json.dumps(self.record))

    def scan(self) -> pl.LazyFrame:
        """The dataset as of this version, without vectors: one lazy scan of its shards (shards written before a
        column existed read it as null)."""
        scans = [self.scan_file(f) for f in self.data_files]
        if len({tuple(scan.collect_schema().items()) for scan in scans}) == 1:
            return self.scan_file(self.data_files)
        return pl.concat(scans, how="diagonal_relaxed")

    def scan_file(self, path: str | list[str]) -> pl.LazyFrame:
        """A Parquet file (or files) under the root, read with the root's storage options."""
        return pl.scan_parquet(path, storage_options=self.storage.object_store() if self.storage else None)


@dataclass(frozen=True)
class Versions:
    """A dataset's committed versions, oldest first, as read at one moment."""

    dataset: str
    root: str
    all: tuple[PublishedVersion, ...]

    def __iter__(self) -> Iterator[PublishedVersion]:
        return iter(self.all)

    def __len__(self) -> int:
        return len(self.all)

    def __getitem__(self, index: int) -> PublishedVersion:
        return self.all[index]

    @property
    def latest(self) -> PublishedVersion | None:
        return self.all[-1] if self.all else None

    @property
    def next_tag(self) -> str:
        return f"v{self.latest.number + 1 if self.latest else 1}"

    def get(self, number: int | None = None) -> PublishedVersion:
        """A version by number (default: the latest); NotPublished naming the versions there are."""
        if not self.all:
            raise NotPublished(f"dataset {self.dataset!r} has no published version under {self.root}")
        if number is None:
            return self.all[-1]
        for version in self.all:
            if version.number == number:
                return version
        raise NotPublished(
            f"dataset {self.dataset!r} has no version v{number}; it has {', '.join(v.tag for v in self.all)}"
        )

    def by_tag(self, tag: str | None) -> PublishedVersion | None:
        return next((v for v in self.all if v.tag == tag), None)

    def by_run(self, run_id: str) -> PublishedVersion | None:
        """The version a run published, if it did: a re-run of a finished run publishes nothing new."""
        return next((v for v in self.all if v.record.get("run_id") == run_id), None)

    def compared_with(self, tag: str | None) -> PublishedVersion | None:
        """The version a run's filters compared its rows with (`tag`), if the table only grew since (rows published
        after it are the table's last rows); else None: compare with every row."""
        since = self.by_tag(tag)
        if since is None or any("rollback_of" in v.record for v in self.all if v.number > since.number):
            return None
        return since


def read_versions(folder: Folder, exports: str, dataset: str) -> Versions:
    """The versions committed under `exports` (a folder without its manifest is an unfinished publish)."""
    found = []
    for path in folder.glob(f"{exports}/v*/manifest.json"):
        name = path.rstrip("/").split("/")[-2]
        if match := VERSION_TAG.match(name):
            record = folder.read_json(path)
            found.append(PublishedVersion(dataset, int(match[1]), record["lance_version"], f"{exports}/{name}", record,
                                         folder.storage))
    return Versions(dataset, folder.url, tuple(sorted(found, key=lambda v: v.number)))
