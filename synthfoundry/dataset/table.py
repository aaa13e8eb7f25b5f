"""The dataset's LanceDB table (every published row with its vector; LanceDB tag vN = version N), through one
connection per store: its session caches the vector index, which a new connection loads again (at 1 M rows that
doubled a lookup's time)."""

from __future__ import annotations

from synthfoundry.dataset.files import Folder
from synthfoundry.dataset.versions import PublishedVersion


class LanceTable:
    def __init__(self, folder: Folder, dataset: str) -> None:
        self.uri, self.dataset = folder.path("lancedb"), dataset
        self.storage = folder.storage
        self._connection = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_connection": None}  # a store sent to another process connects there

    def _db(self):
        import lancedb

        if self._connection is None:
            options = self.storage.object_store() if self.storage else None
            self._connection = lancedb.connect(self.uri, storage_options=options)
        return self._connection

    def exists_in(self, folder: Folder) -> bool:
        """Whether the table is there, without opening it (opening creates lancedb/)."""
        return folder.exists(f"{self.uri}/{self.dataset}.lance")

    def open(self):
        """The table at its head, or None before the first publish."""
        db = self._db()
        return db.open_table(self.dataset) if self.dataset in db.list_tables().tables else None

    def at(self, version: PublishedVersion | None):
        """The table checked out at a committed version (rows of an unfinished publish stay unseen); None for none."""
        if version is None:
            return None
        table = self.open()
        table.checkout(version.tag)
        return table

    def create(self, rows):
        return self._db().create_table(self.dataset, data=rows)

    def drop(self) -> None:
        self._db().drop_table(self.dataset)
