import json

import pytest

from synthfoundry.benchmarks import Benchmark, BenchmarkError, check_benchmark, load_items


@pytest.fixture
def nested(tmp_path):
    """Self-Instruct's shape: an instruction and a list of instances, each with an input and an output."""
    path = tmp_path / "tasks.jsonl"
    tasks = [
        {"id": "t1", "instruction": "Sort the numbers.", "meta": {"source": "human"},
         "instances": [{"input": "3, 1, 2", "output": "1, 2, 3"}, {"input": "9, 8", "output": "8, 9"}]},
        {"id": "t2", "instruction": "Name a colour.", "meta": {"source": "human"},
         "instances": [{"input": "", "output": "Blue"}]},
    ]
    path.write_text("".join(json.dumps(task) + "\n" for task in tasks))
    return path


def test_nested_fields_are_named_by_path(nested):
    benchmark = Benchmark(name="si", path=str(nested), columns=["instruction", "instances[].input", "meta.source"],
                          id_column="id")
    items = load_items(benchmark)
    assert items.texts.to_list() == ["Sort the numbers.", "Name a colour.", "3, 1, 2", "9, 8", "", "human", "human"]
    assert items.labels == ["t1", "t2", "t1", "t1", "t2", "t1", "t2"]
    assert check_benchmark(benchmark) == 7


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        (["instances"], r"'instances' holds List\(Struct.*not text; name a text field by its path, e\.g\. "
                        r"instances\[\]\.input \(its fields: input, output\)"),
        (["instances.input"], r"'instances' holds List\(Struct.*which has no field 'input'; name a text field by its "
                              r"path, e\.g\. instances\[\]\.input"),
        (["instances[].answer"], r"'instances\[\]' has no field 'answer'; .*e\.g\. instances\[\]\.input"),
        (["instruction[]"], r"'instruction' holds String, not a list; drop the \[\]"),
        (["meta"], r"'meta' holds Struct.*e\.g\. meta\.source"),
        (["prompt"], r"has no column 'prompt' \(its columns: id, instruction, meta, instances\)"),
    ],
)
def test_a_column_or_path_that_holds_no_text_is_a_clear_error(nested, columns, message):
    with pytest.raises(BenchmarkError, match=message):
        check_benchmark(Benchmark(name="si", path=str(nested), columns=columns))


def test_missing_and_empty_benchmarks_are_clear_errors(tmp_path):
    with pytest.raises(BenchmarkError, match=r"benchmark 'gone': no file at"):
        check_benchmark(Benchmark(name="gone", path=str(tmp_path / "none.jsonl"), columns=["q"]))
    (tmp_path / "empty.parquet").write_bytes(b"")
    with pytest.raises(BenchmarkError, match=r"benchmark 'empty': .*empty\.parquet is empty"):
        check_benchmark(Benchmark(name="empty", path=str(tmp_path / "empty.parquet"), columns=["q"]))
    import polars as pl

    pl.DataFrame({"q": []}, schema={"q": pl.String}).write_parquet(tmp_path / "no_rows.parquet")
    with pytest.raises(BenchmarkError, match=r"benchmark 'none': .*no_rows\.parquet has no rows"):
        check_benchmark(Benchmark(name="none", path=str(tmp_path / "no_rows.parquet"), columns=["q"]))


@pytest.mark.parametrize("path", ["instances..input", "instances[0].input", "[]", "a.[]"])
def test_malformed_paths_are_refused_when_the_config_is_read(path):
    with pytest.raises(ValueError, match="is not a column or a path such as instances"):
        Benchmark(name="b", path="b.jsonl", columns=[path])
