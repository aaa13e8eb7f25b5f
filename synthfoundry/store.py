"""Published datasets: an append-only LanceDB table per dataset, one tag per version, plus a Parquet export.

Layout under the publish root:
  lancedb/<dataset>.lance                      all published rows with their vectors; tag vN = version N
  exports/<dataset>/vN/data.parquet            the full dataset as of version N (no vectors)
  exports/<dataset>/vN/rejections.parquet      the run's rejection ledger
  exports/<dataset>/vN/manifest.json           config, code version, counts, contract result, parent
  runs/<dataset>/<run_id>/                     ledger + manifest of a run whose contract failed (nothing published)
Versions are immutable: publishing never rewrites an earlier tag or export, and a failure part-way leaves the
previous version as the latest.
"""

from __future__ import annotations

import fcntl
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

_TAG = re.compile(r"^v(\d+)$")


class PublishError(RuntimeError):
    """Publishing could not complete; nothing was published."""


@dataclass(frozen=True)
class PublishedVersion:
    dataset: str
    number: int
    lance_version: int
    export_dir: Path

    @property
    def tag(self) -> str:
        return f"v{self.number}"

    @property
    def data_path(self) -> Path:
        return self.export_dir / "data.parquet"

    @property
    def manifest_path(self) -> Path:
        return self.export_dir / "manifest.json"

    def manifest(self) -> dict:
        return json.loads(self.manifest_path.read_text())


class DatasetStore:
    def __init__(self, root: str | Path, dataset: str) -> None:
        self.root = Path(root)
        self.dataset = dataset
        self.exports = self.root / "exports" / dataset

    def _db(self):
        import lancedb

        return lancedb.connect(str(self.root / "lancedb"))

    def _table(self):
        db = self._db()
        return db.open_table(self.dataset) if self.dataset in db.list_tables().tables else None

    def versions(self) -> list[PublishedVersion]:
        """Published versions, oldest first (a tag without its export is an unfinished publish and is skipped)."""
        table = self._table()
        if table is None:
            return []
        found = []
        for tag, info in table.tags.list().items():
            match = _TAG.match(tag)
            export_dir = self.exports / tag
            if match and (export_dir / "manifest.json").exists():
                found.append(PublishedVersion(self.dataset, int(match.group(1)), info["version"], export_dir))
        return sorted(found, key=lambda v: v.number)

    def latest(self) -> PublishedVersion | None:
        versions = self.versions()
        return versions[-1] if versions else None

    def nearest_published(self, vectors: np.ndarray) -> np.ndarray:
        """Each vector's highest cosine similarity to any row of the latest published version (0 if none)."""
        latest = self.latest()
        if latest is None or len(vectors) == 0:
            return np.zeros(len(vectors), dtype=np.float32)
        table = self._table()
        table.checkout(latest.lance_version)
        hits = (
            table.search(list(vectors), vector_column_name="vector")
            .distance_type("cosine")
            .limit(1)
            .select(["id"])
            .to_arrow()
        )
        best = np.zeros(len(vectors), dtype=np.float32)
        index = hits["query_index"].to_numpy()
        best[index] = 1.0 - hits["_distance"].to_numpy()
        return best

    def read(self, version: int | None = None) -> pl.DataFrame:
        """Rows of a published version (default: latest) without their vectors."""
        chosen = self._resolve(version)
        return pl.read_parquet(chosen.data_path)

    def _resolve(self, version: int | None) -> PublishedVersion:
        versions = self.versions()
        if not versions:
            raise LookupError(f"dataset {self.dataset!r} has no published version under {self.root}")
        if version is None:
            return versions[-1]
        for candidate in versions:
            if candidate.number == version:
                return candidate
        raise LookupError(f"dataset {self.dataset!r} has no version v{version}; have {[v.tag for v in versions]}")

    def write_run_report(self, ledger: pl.DataFrame, manifest: dict) -> Path:
        """The ledger and manifest of a run that published nothing, under runs/<dataset>/<run_id>/."""
        report = self.root / "runs" / self.dataset / manifest["run_id"]
        report.mkdir(parents=True, exist_ok=True)
        ledger.write_parquet(report / "rejections.parquet")
        (report / "manifest.json").write_text(json.dumps({**manifest, "dataset": self.dataset}, indent=2, default=str))
        return report

    def publish(self, rows: pl.DataFrame, ledger: pl.DataFrame, manifest: dict) -> PublishedVersion:
        """Append `rows` (with a `vector` column) as the next version; all-or-nothing.

        Files are staged first, then the table is appended and tagged, then the staged export is moved into
        place. Any failure restores the table to its previous version and removes the staged files. A lock file
        serialises concurrent publishers of the same dataset (on one host or a shared POSIX file system).
        """
        self.exports.mkdir(parents=True, exist_ok=True)
        with open(self.exports / ".publish.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            return self._publish(rows, ledger, manifest)

    def _publish(self, rows: pl.DataFrame, ledger: pl.DataFrame, manifest: dict) -> PublishedVersion:
        previous = self.latest()
        number = previous.number + 1 if previous else 1
        tag = f"v{number}"
        export_dir = self.exports / tag
        if export_dir.exists():
            raise PublishError(f"{export_dir} already exists: versions are immutable")
        staging = self.exports / f".staging-{tag}-{manifest['run_id']}"
        snapshot = rows.drop("vector")
        if previous is not None:
            snapshot = pl.concat([pl.read_parquet(previous.data_path), snapshot], how="vertical_relaxed")
        manifest = {**manifest, "dataset": self.dataset, "version": tag, "parent": previous.tag if previous else None}
        manifest["rows"] = {"added": rows.height, "total": snapshot.height}

        staging.mkdir(parents=True)
        table = None
        before = None
        try:
            snapshot.write_parquet(staging / "data.parquet")
            ledger.write_parquet(staging / "rejections.parquet")
            db = self._db()
            arrow = rows.to_arrow()
            if self.dataset in db.list_tables().tables:
                table = db.open_table(self.dataset)
                before = table.version
                table.add(arrow)
            else:
                table = db.create_table(self.dataset, data=arrow)
            manifest["lance_version"] = table.version
            (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
            table.tags.create(tag, table.version)
            staging.rename(export_dir)
        except Exception as error:
            shutil.rmtree(staging, ignore_errors=True)
            if table is not None and before is None:
                self._db().drop_table(self.dataset)
            elif table is not None:
                _undo(table, tag, before)
            raise PublishError(f"publishing {self.dataset} {tag} failed, nothing was published: {error}") from error
        return PublishedVersion(self.dataset, number, manifest["lance_version"], export_dir)


def _undo(table, tag: str, before: int) -> None:
    if tag in table.tags.list():
        table.tags.delete(tag)
    table.restore(before)
