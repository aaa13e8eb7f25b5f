import pytest

from tests.helpers import publish_rows, published_rows


@pytest.fixture
def version(tmp_path):
    """A real published version of 25 rows: (rows as read back from the store, manifest)."""
    published = publish_rows(tmp_path / "root", "quickstart", published_rows(25))
    from synthfoundry.store import DatasetStore

    return DatasetStore(tmp_path / "root", "quickstart").read(published.number), published.manifest()


def load(kind: str, path, tmp_path):
    """Load with the real `datasets` package, as a trainer does."""
    import datasets

    return datasets.load_dataset(kind, data_files=str(path), split="train", cache_dir=str(tmp_path / "hf-cache"))
