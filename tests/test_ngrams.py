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


def test_window_hashes_are_the_rolling_polynomial_hash_of_their_words():
    texts = pl.Series(["one two three four five", "six seven", "eight nine ten eleven"])
    hashed = words(texts).explode().drop_nulls().hash(seed=0).to_numpy()
    multiplier = 0x9E3779B97F4A7C15
    for n in (1, 2, 3, 4):
        grams = ngrams(texts, n)
        flat_starts = grams.start + np.array([0, 5, 7])[grams.text]
        rolled = []
        for start in flat_starts:
            value = 0
            for word in hashed[start : start + n].tolist():
                value = (value * multiplier + word) % (1 << 64)
            rolled.append(value)
        assert grams.hashes.tolist() == rolled


def test_whole_windows_are_texts_of_exactly_that_length():
    from synthfoundry.ngrams import hashed_words

    whole = hashed_words(pl.Series(["a b c", "d e", "f g h", "i j k l"])).windows(3, whole=True)
    assert whole.text.tolist() == [0, 2] and whole.start.tolist() == [0, 0]
    assert whole.hashes.tolist() == ngrams(pl.Series(["a b c", "f g h"]), 3).hashes.tolist()
