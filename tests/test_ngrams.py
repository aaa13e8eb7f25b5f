import numpy as np
import polars as pl

from synthfoundry.ngrams import NgramIndex, ngrams, show, words


def test_words_ignore_case_punctuation_and_the_numbers_themselves():
    assert words(pl.Series(["Janet’s ducks lay 16 eggs. 16 - 3 - 4 = 9 left; $80,000.50 #### 18", None])).to_list() == [
        ["janet", "s", "ducks", "lay", "#", "eggs", "#", "left", "#"], [],
    ]
    assert words(pl.Series(["JANET'S DUCKS lay 7 eggs!!"]))[0].to_list() == ["janet", "s", "ducks", "lay", "#", "eggs"]


def test_ngrams_never_span_two_texts():
    grams = ngrams(pl.Series(["a b c", "d e", "", "f g h i"]), 3)
    assert grams.text.tolist() == [0, 3, 3]
    assert [show(grams, t, s, 3) for t, s in zip(grams.text, grams.start)] == ["a b c", "f g h", "g h i"]


def test_equal_ngrams_hash_equal_and_the_index_finds_their_owner():
    index = NgramIndex.build(pl.Series(["the quick brown fox", "jumps over the lazy dog"]), 3)
    probe = ngrams(pl.Series(["THE quick, brown cat", "over the lazy dog!", "nothing in common here"]), 3)
    assert index.owner(probe.hashes).tolist() == [0, -1, 1, 1, -1, -1]
    assert NgramIndex.build(pl.Series([""]), 3).owner(probe.hashes).tolist() == [-1] * 6
    assert probe.hashes.dtype == np.uint64
