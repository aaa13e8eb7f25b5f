import polars as pl
import pytest

from synthfoundry.exporters import EXPORTERS, ExportError, ExportOptions
from tests.exporters.conftest import load


def test_dpo_needs_a_preference_dataset(version, tmp_path):
    rows, manifest = version
    with pytest.raises(ExportError, match=r"quickstart v1 is not a preference dataset \(25 of 25 rows .*--format trl"):
        EXPORTERS["dpo"](rows, manifest, tmp_path / "out", ExportOptions())
    some = rows.with_columns(pl.when(pl.int_range(pl.len()) < 5).then(pl.lit("no")).alias("rejected"))
    with pytest.raises(ExportError, match=r"\(20 of 25 rows have no rejected answer\)"):
        EXPORTERS["dpo"](some, manifest, tmp_path / "out", ExportOptions())


def test_dpo_rows_are_conversational_prompt_chosen_rejected(version, tmp_path):
    rows, manifest = version
    pairs = rows.with_columns(
        pl.concat_str([pl.lit("worse: "), pl.col("response")]).alias("rejected"),
        pl.lit(5.0).alias("chosen_score"),
        pl.lit(2.0).alias("rejected_score"),
        pl.lit(3.0).alias("margin"),
    )
    [path] = EXPORTERS["dpo"](pairs, manifest, tmp_path / "out", ExportOptions(file_format="parquet"))
    loaded = load("parquet", path, tmp_path)
    assert loaded.column_names == ["id", "prompt", "chosen", "rejected", "score_chosen", "score_rejected", "margin"]
    assert loaded.num_rows == rows.height
    row, first = pairs.row(0, named=True), loaded[0]
    assert first["prompt"] == [{"role": "user", "content": f"{row['instruction']}\n\n{row['input']}"}]
    assert first["chosen"] == [{"role": "assistant", "content": f"<think>\n{row['reasoning']}\n</think>\n\n{row['response']}"}]
    assert first["rejected"] == [{"role": "assistant", "content": f"worse: {row['response']}"}]
    assert (first["score_chosen"], first["score_rejected"], first["margin"]) == (5.0, 2.0, 3.0)
