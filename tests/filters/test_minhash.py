import numpy as np
import polars as pl
import pytest

from synthfoundry.dataset import DatasetStore
from synthfoundry.filters import FILTERS, minhash
from synthfoundry.filters.base import apply
from synthfoundry.records import to_published
from synthfoundry.similarity.minhash import signatures
from tests.filters.tools import tools

LEDGER = pl.DataFrame({"id": ["x"], "stage": ["minhash"], "reason": ["near duplicate"]})
DOCUMENT = (
    "Bread dough rises because yeast feeds on the sugars in the flour and releases carbon dioxide, which the "
    "gluten network traps in small pockets. Kneading aligns the gluten strands so the dough can stretch without "
    "tearing, and a warm kitchen speeds the yeast up while salt slows it down. Bakers often let the dough rest "
    "overnight in the fridge, because a slow rise gives the bread a deeper flavour and a more open crumb."
)
OTHER = (
    "The first bicycles had no pedals at all: riders pushed themselves along with their feet. Pedals fixed to "
    "the front wheel came later, and the chain drive to the rear wheel made the safety bicycle of the 1880s, "
    "whose equal wheels and pneumatic tyres are the shape most bicycles still have today."
)


def rows(texts, sample_of=None, prefix="r"):
    frame = pl.DataFrame({"id": [f"{prefix}{i}" for i in range(len(texts))], "response": texts})
    return frame.with_columns(pl.Series("sample_of", sample_of or [None] * len(texts), dtype=pl.String))


def judge_tools(store):
    return tools(store=store, text_column="response")


def test_drops_a_lightly_edited_copy_and_keeps_different_documents(tmp_path):
    edited = DOCUMENT.replace("often", "usually").replace(" small", "")
    result = apply(minhash, rows([DOCUMENT, OTHER, edited]), minhash.Config(ngram=3), judge_tools(DatasetStore(tmp_path, "e")))
    assert result.kept["id"].to_list() == ["r0", "r1"]
    assert "to a row kept in this run" in result.dropped["reason"][0]
    assert result.dropped["score"][0] > 0.8
    assert result.kept["minhash"].dtype == pl.List(pl.UInt32) and result.kept["minhash"].list.len().to_list() == [128, 128]


def test_published_signatures_are_reused_not_recomputed(tmp_path):
    store = DatasetStore(tmp_path, "ds")
    first = apply(minhash, rows([DOCUMENT], prefix="p"), minhash.Config(), judge_tools(store))
    published = to_published(first.kept.with_columns(pl.lit("run-1").alias("run_id")))
    published = published.with_columns(pl.Series("vector", np.eye(1, 4, dtype=np.float32), dtype=pl.Array(pl.Float32, 4)))
    # the published text is changed behind the step's back: only the stored signature can still match
    store.publish(published.with_columns(pl.lit("something else entirely").alias("response")), LEDGER, {"run_id": "r1", "stages": {}})
    logged = []
    result = apply(minhash, rows([DOCUMENT, OTHER]), minhash.Config(), tools(store=store, text_column="response", log=logged.append))
    assert result.kept["id"].to_list() == ["r1"]
    assert "published row" in result.dropped["reason"][0]
    assert logged == ["minhash: 1 published signatures of 128 values reused"]
    assert result.copies_of_published == 1  # typed: what tells a run that made nothing new
    # the same rule, as a publish re-applies it to rows another run published meanwhile
    assert minhash.recheck(rows([DOCUMENT, OTHER]), store.published(), minhash.Config(), "response") == [
        "Jaccard ~1.00 > 0.8 to a row published meanwhile", None]
    # signatures of another size are not comparable: skipped
    other_size = apply(minhash, rows([DOCUMENT]), minhash.Config(num_perm=64), judge_tools(store))
    assert other_size.counts["kept"] == 1


def test_samples_of_one_prompt_are_not_duplicates_of_each_other(tmp_path):
    result = apply(minhash, rows([DOCUMENT] * 3, sample_of=["p1", "p1", "p2"]), minhash.Config(), judge_tools(DatasetStore(tmp_path, "e")))
    assert result.kept["id"].to_list() == ["r0", "r1"]


def test_rows_without_words_are_kept_and_not_matched_to_each_other(tmp_path):
    result = apply(minhash, rows([None, "", "...", "   "]), minhash.Config(), judge_tools(DatasetStore(tmp_path, "e")))
    assert result.counts == {"in": 4, "kept": 4, "dropped": 0}


def test_signatures_estimate_jaccard_of_word_shingles():
    a, b, c = signatures(["the cat sat on the mat", "the cat sat on the hat", "a dog ran far away"], 2, 256)
    # bigrams: 5 each, 4 shared -> Jaccard 4/6
    assert np.mean(a == b) == pytest.approx(4 / 6, abs=0.08)
    assert np.mean(a == c) < 0.05


def test_is_registered_and_validates_its_config():
    import pydantic

    assert FILTERS["minhash"] is minhash
    with pytest.raises(pydantic.ValidationError, match="ngram"):
        minhash.Config(ngram=0)
