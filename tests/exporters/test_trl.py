import polars as pl
import pytest

from synthfoundry.exporters import EXPORTERS, ExportOptions
from tests.exporters.conftest import load


@pytest.mark.parametrize("file_format", ["jsonl", "parquet"])
def test_trl_sft_rows_are_messages_with_the_trace_before_the_answer(version, tmp_path, file_format):
    rows, manifest = version
    [path] = EXPORTERS["trl"](rows, manifest, tmp_path / "out", ExportOptions(file_format=file_format))
    assert path.name == f"train.{file_format}"
    loaded = load("json" if file_format == "jsonl" else "parquet", path, tmp_path)
    assert loaded.column_names == ["id", "messages"] and loaded.num_rows == rows.height
    for row, messages in zip(rows.iter_rows(named=True), loaded["messages"]):
        assert [m["role"] for m in messages] == ["user", "assistant"]
        assert messages[0]["content"].startswith(row["instruction"])
        if row["reasoning"]:
            assert messages[1]["content"] == f"<think>\n{row['reasoning']}\n</think>\n\n{row['response']}"
        else:
            assert messages[1]["content"] == row["response"]


def test_trl_drop_removes_traces_and_multi_turn_rows_get_the_trace_on_the_last_turn(version, tmp_path):
    rows, manifest = version
    turns = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
             {"role": "user", "content": "more"}, {"role": "assistant", "content": "sure"}]
    chat = rows.head(2).with_columns(
        pl.Series("messages", [turns, turns], dtype=rows.schema["messages"]),
        pl.Series("reasoning", ["why", None]),
    )
    [kept] = EXPORTERS["trl"](chat, manifest, tmp_path / "keep", ExportOptions())
    [dropped] = EXPORTERS["trl"](chat, manifest, tmp_path / "drop", ExportOptions(reasoning="drop"))
    first, second = load("json", kept, tmp_path)["messages"]
    assert [m["content"] for m in first] == ["hi", "hello", "more", "<think>\nwhy\n</think>\n\nsure"]
    assert second == turns
    assert all(messages == turns for messages in load("json", dropped, tmp_path)["messages"])
