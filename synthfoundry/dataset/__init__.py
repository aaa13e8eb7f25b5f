"""Published datasets: `DatasetStore` and what it hands out (see store.py for the layout under the root)."""

from synthfoundry.dataset.errors import NothingNew, NotPublished, PublishError, TagRefused
from synthfoundry.dataset.publish import Recheck
from synthfoundry.dataset.search import PublishedRows
from synthfoundry.dataset.store import DatasetStore
from synthfoundry.dataset.versions import PublishedVersion, Versions

__all__ = [
    "DatasetStore", "NothingNew", "NotPublished", "PublishError", "PublishedRows", "PublishedVersion", "Recheck",
    "TagRefused", "Versions",
]
