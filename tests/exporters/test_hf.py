import datasets
import yaml

from synthfoundry.exporters import EXPORTERS, ExportOptions
from synthfoundry.exporters.hf import size_category


def test_hf_layout_loads_every_row_with_datasets(version, tmp_path):
    rows, manifest = version
    out = tmp_path / "hf"
    written = EXPORTERS["hf"](rows, manifest, out, ExportOptions(shard_rows=10, license="apache-2.0"))
    shards = sorted(p.name for p in (out / "data").iterdir())
    assert shards == [f"train-0000{i}-of-00003.parquet" for i in range(3)]
    assert set(written) == {out / "README.md", *((out / "data" / name) for name in shards)}

    loaded = datasets.load_dataset(str(out), split="train", cache_dir=str(tmp_path / "cache"))
    assert loaded.num_rows == rows.height
    assert sorted(loaded["id"]) == sorted(rows["id"].to_list())
    assert "vector" not in loaded.column_names and "reasoning" in loaded.column_names
    assert loaded[0]["decisions"][0]["stage"] == "diversity"
    shards = datasets.load_dataset("parquet", data_files=str(out / "data" / "train-*.parquet"), split="train",
                                   cache_dir=str(tmp_path / "cache"))
    assert shards.num_rows == rows.height

    card = (out / "README.md").read_text()
    header = yaml.safe_load(card.split("---")[1])
    assert header["license"] == "apache-2.0"
    assert header["task_categories"] == ["text-generation"]
    assert header["size_categories"] == ["n<1K"]
    assert header["pretty_name"] == "quickstart v1"
    assert header["configs"] == [{"config_name": "default", "data_files": [{"split": "train", "path": "data/train-*"}]}]


def test_re_export_of_fewer_rows_leaves_no_stale_shard_and_drops_reasoning(version, tmp_path):
    rows, manifest = version
    out = tmp_path / "hf"
    EXPORTERS["hf"](rows, manifest, out, ExportOptions(shard_rows=10))
    EXPORTERS["hf"](rows.head(4), manifest, out, ExportOptions(reasoning="drop", card="# my card"))
    assert [p.name for p in (out / "data").iterdir()] == ["train-00000-of-00001.parquet"]
    loaded = datasets.load_dataset(str(out), split="train", cache_dir=str(tmp_path / "cache"))
    assert loaded.num_rows == 4 and "reasoning" not in loaded.column_names
    assert (out / "README.md").read_text().endswith("# my card")


def test_size_categories_follow_the_hub_buckets():
    assert [size_category(n) for n in (0, 999, 1000, 54_321, 2_000_000)] == [
        "n<1K", "n<1K", "1K<n<10K", "10K<n<100K", "1M<n<10M"
    ]
