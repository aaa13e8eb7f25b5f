"""Word n-grams of normalised text, hashed to uint64, and a sorted index of them: overlap tests at scale
(decontamination) without comparing texts pairwise.

Normalised words: lower case; every number (and the symbols between consecutive numbers, as in "16 - 3 = 13")
becomes one mark, so a copy with its numbers changed still matches; punctuation and spacing do not count. Each
word is hashed once (polars, vectorised); prefix hashes over all texts at once (numpy) give any run of words its hash
in O(1), so n-grams of several lengths cost one pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

NUMBER = "#"
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # odd: a polynomial hash of well-mixed word hashes, modulo 2**64
_INVERSE = np.uint64(pow(int(_MULTIPLIER), -1, 1 << 64))


def words(texts: pl.Series) -> pl.Series:
    """Each text's normalised words (a list per text; null text -> no words)."""
    return (
        texts.cast(pl.String).fill_null("").str.to_lowercase()
        .str.replace_all(NUMBER, " ", literal=True)
        .str.replace_all(r"\d+(?:[.,]\d+)*(?:[^\p{L}\d]*\d+(?:[.,]\d+)*)*", NUMBER)
        .str.extract_all(r"\p{L}+|#")
    )


@dataclass(frozen=True)
class Ngrams:
    """Every word n-gram of a list of texts: its hash, the text it is in and the word it starts at."""

    hashes: np.ndarray  # uint64
    text: np.ndarray  # int64, index of the text
    start: np.ndarray  # int64, position of its first word in that text
    words: pl.Series  # the texts' normalised words, to show an n-gram


@dataclass(frozen=True)
class HashedWords:
    """Texts' normalised words, hashed once, with prefix hashes so that the hash of any run of words costs O(1):
    the n-grams of several lengths come from one pass over the words."""

    words: pl.Series
    lengths: np.ndarray  # int64, words per text
    text: np.ndarray  # int64, the text of each word (flat over all texts)
    offset: np.ndarray  # int64, each word's position in its text
    prefix: np.ndarray  # uint64, prefix[j]: the hash of the first j words of all texts together

    def windows(self, n: int, whole: bool = False) -> Ngrams:
        """Every run of n words inside one text (`whole`: only texts of exactly n words, each whole)."""
        starts = np.arange(max(len(self.text) - n + 1, 0))
        inside = self.offset[starts] + n <= self.lengths[self.text[starts]]
        if whole:
            inside &= self.lengths[self.text[starts]] == n
        starts = starts[inside]
        hashes = self.prefix[starts + n] - self.prefix[starts] * np.uint64(pow(int(_MULTIPLIER), n, 1 << 64))
        return Ngrams(hashes, self.text[starts], self.offset[starts], self.words)


def hashed_words(texts: pl.Series) -> HashedWords:
    tokens = words(texts)
    lengths = tokens.list.len().fill_null(0).to_numpy().astype(np.int64)
    hashed = tokens.explode().drop_nulls().hash(seed=0).to_numpy()  # an empty list explodes to one null
    # prefix[j] = sum_{i<j} h_i M^(j-1-i) = M^j * sum_{i<j} h_i M^-(i+1): a cumulative sum, since M is odd and so
    # invertible modulo 2**64 (numpy's uint64 arithmetic wraps modulo 2**64). A run's hash is then
    # prefix[s+n] - prefix[s] * M^n = sum_{s<=i<s+n} h_i M^(s+n-1-i), the rolling hash of those words.
    count = len(hashed)
    powers = np.cumprod(np.concatenate([[np.uint64(1)], np.full(count, _MULTIPLIER)]), dtype=np.uint64)
    inverses = np.cumprod(np.full(count, _INVERSE), dtype=np.uint64)
    prefix = powers * np.concatenate([[np.uint64(0)], np.cumsum(hashed * inverses, dtype=np.uint64)])
    text = np.repeat(np.arange(len(lengths)), lengths)
    offset = np.arange(count) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return HashedWords(tokens, lengths, text, offset, prefix)


def ngrams(texts: pl.Series, n: int) -> Ngrams:
    return hashed_words(texts).windows(n)


def show(grams: Ngrams, text: int, start: int, n: int) -> str:
    return " ".join(grams.words[int(text)][int(start) : int(start) + n].to_list())


@dataclass(frozen=True)
class NgramIndex:
    """The distinct n-gram hashes of a set of texts, sorted, each with the first text it occurs in."""

    n: int
    hashes: np.ndarray  # sorted unique uint64
    owners: np.ndarray  # int64
    seen: np.ndarray  # bool, by the low bits of a hash: could it be in the index? (most lookups stop here)

    @classmethod
    def build(cls, texts: pl.Series, n: int) -> NgramIndex:
        return cls.of(n, [ngrams(texts, n)])

    @classmethod
    def of(cls, n: int, parts: list[Ngrams]) -> NgramIndex:
        """The index of these n-grams (of one or several lengths: their hashes differ)."""
        every = np.concatenate([part.hashes for part in parts]) if parts else np.zeros(0, dtype=np.uint64)
        texts = np.concatenate([part.text for part in parts]) if parts else np.zeros(0, dtype=np.int64)
        hashes, first = np.unique(every, return_index=True)
        seen = np.zeros(max(1 << 16, 1 << int(16 * len(hashes)).bit_length()), dtype=bool)  # >= 16 slots a hash
        seen[hashes & np.uint64(len(seen) - 1)] = True
        return cls(n, hashes, texts[first], seen)

    def owner(self, hashes: np.ndarray) -> np.ndarray:
        """The indexed text each hash occurs in; -1 where it occurs in none."""
        owners = np.full(len(hashes), -1, dtype=np.int64)
        maybe = np.flatnonzero(self.seen[hashes & np.uint64(len(self.seen) - 1)])
        at = np.minimum(np.searchsorted(self.hashes, hashes[maybe]), len(self.hashes) - 1)
        found = self.hashes[at] == hashes[maybe]
        owners[maybe[found]] = self.owners[at[found]]
        return owners
