from synthfoundry.exporters import EXPORTERS, ExportOptions
from tests.exporters.conftest import load
from tests.helpers import published_rows


def test_jsonl_has_every_column_but_the_vector(version, tmp_path):
    _, manifest = version
    rows = published_rows(6)
    [path] = EXPORTERS["jsonl"](rows, manifest, tmp_path / "out", ExportOptions())
    loaded = load("json", path, tmp_path)
    assert loaded.num_rows == 6
    assert set(loaded.column_names) == set(rows.columns) - {"vector"}
    assert loaded["instruction"] == rows["instruction"].to_list()
