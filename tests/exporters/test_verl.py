import polars as pl
import pytest

from synthfoundry.exporters import EXPORTERS, ExportError, ExportOptions
from synthfoundry.exporters.verl import compute_score
from tests.exporters.conftest import load


def rlvr(rows):
    return rows.with_columns(
        pl.lit(None, pl.String).alias("response"),
        pl.format("{}", pl.int_range(pl.len()) + 2).alias("answer"),
        pl.lit("math_verify").alias("verifier"),
    )


def test_verl_rows_carry_chat_prompt_ground_truth_and_verifier(version, tmp_path):
    rows, manifest = version
    tasks = rlvr(rows)
    [path] = EXPORTERS["verl"](tasks, manifest, tmp_path / "out", ExportOptions())
    loaded = load("parquet", path, tmp_path)
    assert loaded.column_names == ["data_source", "prompt", "ability", "reward_model", "extra_info"]
    assert loaded.num_rows == rows.height
    first = loaded[0]
    assert first["data_source"] == "synthfoundry/quickstart" and first["ability"] == "math"
    assert first["prompt"] == [{"role": "user", "content": f"{tasks['instruction'][0]}\n\n{tasks['input'][0]}"}]
    assert first["reward_model"] == {"style": "rule", "ground_truth": "2"}
    assert first["extra_info"]["index"] == 0 and first["extra_info"]["verifier"] == "math_verify"
    assert first["extra_info"]["id"] == tasks["id"][0]
    assert [info["index"] for info in loaded["extra_info"]] == list(range(rows.height))


def test_compute_score_uses_the_rows_verifier(version, tmp_path):
    rows, manifest = version
    [path] = EXPORTERS["verl"](rlvr(rows), manifest, tmp_path / "out", ExportOptions())
    first = load("parquet", path, tmp_path)[0]
    truth = first["reward_model"]["ground_truth"]
    assert compute_score(first["data_source"], "so the answer is \\boxed{2}", truth, first["extra_info"]) == 1.0
    assert compute_score(first["data_source"], "the answer is \\boxed{7}", truth, first["extra_info"]) == 0.0


def test_verl_refuses_rows_without_ground_truth(version, tmp_path):
    rows, manifest = version
    with pytest.raises(ExportError, match=r"25 of 25 rows have no 'answer'; RLVR trainers need"):
        EXPORTERS["verl"](rows, manifest, tmp_path / "out", ExportOptions())
