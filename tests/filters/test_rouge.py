import numpy as np
import polars as pl

from synthfoundry.dataset import DatasetStore
from synthfoundry.filters import FILTERS, rouge
from synthfoundry.filters.base import apply
from tests.filters.tools import tools

LEDGER = pl.DataFrame({"id": ["x"], "stage": ["rouge"], "reason": ["near duplicate"]})


def rows(texts, sample_of=None):
    frame = pl.DataFrame({"id": [f"r{i}" for i in range(len(texts))], "instruction": texts})
    return frame.with_columns(pl.Series("sample_of", sample_of or [None] * len(texts), dtype=pl.String))


def publish(tmp_path, texts):
    store = DatasetStore(tmp_path, "ds")
    vectors = np.eye(len(texts), 4, dtype=np.float32)
    frame = pl.DataFrame({"id": [f"p{i}" for i in range(len(texts))], "instruction": texts}).with_columns(
        pl.Series("vector", vectors, dtype=pl.Array(pl.Float32, 4))
    )
    store.publish(frame, LEDGER, {"run_id": "r1", "stages": {}})
    return store


def test_drops_rows_too_close_to_an_earlier_kept_row(tmp_path):
    frame = rows([
        "Write a poem about the sea.",
        "Write a short poem about the sea!",  # LCS 6 of 6 and 7 tokens: F1 12/13
        "List three prime numbers greater than one hundred.",
        "Write a poem about the mountains.",  # 5 of 6 tokens in order: F1 0.83
    ])
    result = apply(rouge, frame, rouge.Config(), tools(store=DatasetStore(tmp_path, "empty")))
    assert result.kept["id"].to_list() == ["r0", "r2"]
    reasons = dict(zip(result.dropped["id"], result.dropped["reason"]))
    assert reasons["r1"].startswith("ROUGE-L 0.923 > 0.7 to a row kept in this run")
    assert [d["score"] for d in result.kept["decisions"][1]] == [0.0]
    loose = apply(rouge, frame, rouge.Config(threshold=0.95), tools(store=DatasetStore(tmp_path, "empty")))
    assert loose.counts["kept"] == 4


def test_drops_rows_too_close_to_a_published_row(tmp_path):
    store = publish(tmp_path, ["Write a poem about the sea.", "Explain photosynthesis to a child."])
    frame = rows(["write a poem about the sea", "Explain gravity to a child.", "Name the planets in order."])
    result = apply(rouge, frame, rouge.Config(), tools(store=store))
    assert result.kept["id"].to_list() == ["r2"]
    reasons = dict(zip(result.dropped["id"], result.dropped["reason"]))
    assert reasons["r0"].startswith("ROUGE-L 1.000 > 0.7 to a published row")
    assert reasons["r1"].startswith("ROUGE-L 0.800 > 0.7 to a published row")  # 4 of 5 tokens in order


def test_samples_of_one_prompt_are_not_compared(tmp_path):
    frame = rows(["Write a poem about the sea."] * 3, sample_of=["p1", "p1", "p2"])
    result = apply(rouge, frame, rouge.Config(), tools(store=DatasetStore(tmp_path, "empty")))
    assert result.kept["id"].to_list() == ["r0", "r1"]
    assert result.dropped["id"].to_list() == ["r2"]


def test_null_empty_and_punctuation_only_texts_are_kept_with_score_zero(tmp_path):
    frame = rows([None, "", "?!...", "Write a poem about the sea."])
    result = apply(rouge, frame, rouge.Config(), tools(store=DatasetStore(tmp_path, "empty")))
    assert result.counts == {"in": 4, "kept": 4, "dropped": 0}
    assert [d[0]["score"] for d in result.kept["decisions"]] == [0.0, 0.0, 0.0, 0.0]


def test_is_registered_and_its_config_rejects_a_bad_threshold():
    import pydantic
    import pytest

    assert FILTERS["rouge"] is rouge
    with pytest.raises(pydantic.ValidationError, match="threshold"):
        rouge.Config(threshold=1.5)
