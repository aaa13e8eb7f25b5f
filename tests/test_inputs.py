import pytest

from synthfoundry.inputs import InputError, load_yaml, parse_yaml, read_text


def test_a_key_written_twice_is_refused_with_its_line():
    with pytest.raises(InputError, match=r"run.yaml: not valid YAML at line 3.*duplicate key 'dataset' \(first at line 1\)"):
        parse_yaml("dataset: a\nseed: 1\ndataset: b\n", "run.yaml")


def test_nested_duplicates_are_refused_and_unique_keys_load():
    with pytest.raises(InputError, match="duplicate key 'model'"):
        parse_yaml("teacher:\n  model: a\n  model: b\n", "x")
    assert parse_yaml("a: {b: 1}\nc: [1, 2]\n", "x") == {"a": {"b": 1}, "c": [1, 2]}


def test_utf16_and_latin1_files_name_the_file_and_the_fix(tmp_path):
    utf16 = tmp_path / "run.yaml"
    utf16.write_text("dataset: d\n", encoding="utf-16")
    with pytest.raises(InputError, match=r"run.yaml: the run config is not UTF-8 text \(it looks like UTF-16\).*save"):
        load_yaml(utf16, "the run config")
    latin1 = tmp_path / "seeds.jsonl"
    latin1.write_bytes('{"instruction": "café"}\n'.encode("latin-1"))
    with pytest.raises(InputError, match=r"seeds.jsonl: seed tasks is not UTF-8 text: byte 0xe9 at offset 20"):
        read_text(latin1, "seed tasks")


def test_a_missing_file_names_the_path(tmp_path):
    with pytest.raises(InputError, match=r"nope.txt: cannot read topics \(No such file or directory\)"):
        read_text(tmp_path / "nope.txt", "topics")
