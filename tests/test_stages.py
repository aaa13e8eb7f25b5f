import polars as pl

from synthfoundry.stages import LEDGER_SCHEMA, combine, split


def rows():
    return pl.DataFrame({"id": ["a", "b", "c"], "instruction": ["x", "y", "z"]})


def test_split_accounts_for_every_row_and_records_scores():
    result = split(rows(), "quality", pl.Series([None, "too short", None]), pl.Series([0.9, 0.1, 0.5]))
    assert result.counts == {"in": 3, "kept": 2, "dropped": 1}
    assert result.dropped.schema == pl.Schema(LEDGER_SCHEMA)
    assert result.dropped.row(0) == ("b", "quality", "too short", 0.1, "y")
    assert result.kept["id"].to_list() == ["a", "c"]
    assert result.kept["decisions"].to_list() == [[{"stage": "quality", "score": 0.9}], [{"stage": "quality", "score": 0.5}]]


def test_split_without_scores_adds_no_decision():
    result = split(rows(), "distillation", pl.Series([None, None, None], dtype=pl.String))
    assert result.counts == {"in": 3, "kept": 3, "dropped": 0}
    assert "decisions" not in result.kept.columns


def test_combine_concatenates_batches():
    first = split(rows(), "s", pl.Series(["r", None, None]))
    second = split(rows(), "s", pl.Series([None, "r", "r"]))
    merged = combine([first, second])
    assert merged.counts == {"in": 6, "kept": 3, "dropped": 3}

