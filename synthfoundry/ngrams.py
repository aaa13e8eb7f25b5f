"""Word n-grams of normalised text, hashed to uint64, and a sorted index of them: overlap tests at scale
(decontamination) without comparing texts pairwise.

Normalised words: lower case; every number (and the symbols between consecutive numbers, as in "16 - 3 = 13")
becomes one mark, so a copy with its numbers changed still matches; punctuation and spacing do not count. Each
word is hashed once (polars, vectorised) and n-gram hashes are rolled over all texts at once in numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

NUMBER = "#"
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # odd: a polynomial hash of well-mixed word hashes, modulo 2**64


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


def ngrams(texts: pl.Series, n: int) -> Ngrams:
    tokens = words(texts)
    lengths = tokens.list.len().fill_null(0).to_numpy().astype(np.int64)
    hashed = tokens.explode().drop_nulls().hash(seed=0).to_numpy()  # an empty list explodes to one null
    windows = max(len(hashed) - n + 1, 0)
    rolled = hashed[:windows].copy()
    for offset in range(1, n):
        rolled = rolled * _MULTIPLIER + hashed[offset : offset + windows]
    text = np.repeat(np.arange(len(lengths)), lengths)[:windows]
    start = np.arange(windows) - np.repeat(np.cumsum(lengths) - lengths, lengths)[:windows]
    whole = start + n <= lengths[text]  # windows that do not run into the next text
    return Ngrams(rolled[whole], text[whole], start[whole], tokens)


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
        grams = ngrams(texts, n)
        hashes, first = np.unique(grams.hashes, return_index=True)
        seen = np.zeros(max(1 << 16, 1 << int(16 * len(hashes)).bit_length()), dtype=bool)  # >= 16 slots a hash
        seen[hashes & np.uint64(len(seen) - 1)] = True
        return cls(n, hashes, grams.text[first], seen)

    def owner(self, hashes: np.ndarray) -> np.ndarray:
        """The indexed text each hash occurs in; -1 where it occurs in none."""
        owners = np.full(len(hashes), -1, dtype=np.int64)
        maybe = np.flatnonzero(self.seen[hashes & np.uint64(len(self.seen) - 1)])
        at = np.minimum(np.searchsorted(self.hashes, hashes[maybe]), len(self.hashes) - 1)
        found = self.hashes[at] == hashes[maybe]
        owners[maybe[found]] = self.owners[at[found]]
        return owners
