"""Embedding diversity: drop a row too close to a row kept earlier in the run or to any published row.

Input columns: `vector` (the embed step's unit vectors of the recipe's text column), the text column (its numbers)
and `sample_of` (samples of one prompt are never duplicates of each other). Reasons name which side the
near-duplicate is on; the score is the highest cosine found.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
import polars as pl
from pydantic import Field

from synthfoundry.filters.base import Tools, Verdicts
from synthfoundry.similarity.kmeans import kmeans, nearest_centroids
from synthfoundry.similarity.numbers import jaccard, number_codes, word_set
from synthfoundry.strict import Strict

NAME = "diversity"
COMPARES_ROWS = True
_BLOCK = 1024
_EXACT_UP_TO = 20_000
_ROWS_PER_CELL = 256
_PROBES, _PROBED_SHARE = 16, 12  # probe at least 16 cells, and 1 in 12 of them: bench/diversity.py --methods index
_NEIGHBOURS, _MOST_NEIGHBOURS = 16, 4096  # published rows looked at closer per row: first, at most


class Config(Strict):
    """Drop a row whose embedding is too close to a kept row or to any published row."""

    name: Literal["diversity"] = "diversity"
    threshold: float = Field(default=0.9, gt=0, le=1, description="cosine similarity above which a row is dropped")
    number_aware: bool = Field(
        default=True,
        description="rows holding different numbers are never duplicates of each other in a run (maths variants "
        "are different problems); 1,000 = 1000 and 3.50 = 3.5",
    )
    word_overlap: float | None = Field(
        default=0.6, gt=0, le=1,
        description="a pair with cosine above word_overlap_floor is a duplicate too when the Jaccard similarity of "
        "its word sets (numbers canonical) is above this; none: cosine only",
    )
    word_overlap_floor: float = Field(
        default=0.75, gt=0, le=1, description="the lowest cosine at which word overlap can make a duplicate"
    )


def greedy_novel(
    vectors: np.ndarray,
    threshold: float,
    numbers: np.ndarray | None = None,
    groups: np.ndarray | None = None,
    lexical: tuple[float, Callable[[np.ndarray, np.ndarray], np.ndarray]] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """In order, keep a row unless its cosine to a comparable, already-kept row exceeds `threshold`.

    Two rows are comparable unless their `numbers` codes differ (maths variants are different problems) or they
    share a `groups` code (samples of one prompt). `lexical` = (floor, accept): a pair with cosine above `floor`
    but not `threshold` is a duplicate too when `accept(rows, columns)` says so (reformatted numbers, upper case and
    dropped words move a short text's embedding more than its words). Returns (kept mask, score): a dropped row's
    highest cosine to a kept duplicate, a kept row's highest cosine to any comparable earlier row it was compared
    with.

    Up to `_EXACT_UP_TO` rows every pair is compared; above, rows are compared within the k-means cells nearest
    to them (an inverted file: cells of ~`_ROWS_PER_CELL` rows, each row probing the nearest 16 or 1 in 12 of
    them, whichever is more), so work grows more slowly than n^2. bench/diversity.py measures it against the exact
    search on the same vectors: it drops >= 0.99 of the rows the exact search drops at 30 k and 100 k rows, at the
    threshold and at the word-overlap floor (with 4 probes: 0.94 at 30 k).
    """
    n = len(vectors)
    best = np.zeros(n, dtype=np.float32)
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for members, queries in _cells(vectors):
        for start in range(0, len(queries), _BLOCK):
            rows = queries[start : start + _BLOCK]
            columns = members[: np.searchsorted(members, rows[-1])]  # only earlier rows can be kept before
            if not len(columns):
                continue
            similarity = vectors[rows] @ vectors[columns].T
            comparable = columns[None, :] < rows[:, None]
            if numbers is not None:
                comparable &= numbers[rows, None] == numbers[None, columns]
            if groups is not None:
                comparable &= groups[rows, None] != groups[None, columns]
            similarity[~comparable] = 0.0
            best[rows] = np.maximum(best[rows], similarity.max(axis=1))
            i, j = np.nonzero(similarity > (threshold if lexical is None else min(lexical[0], threshold)))
            if lexical is not None:  # pairs in the band between floor and threshold need their words checked
                band = np.flatnonzero(similarity[i, j] <= threshold)
                rejected = band[~lexical[1](rows[i[band]], columns[j[band]])]
                i, j = np.delete(i, rejected), np.delete(j, rejected)
            found.append((rows[i], columns[j], similarity[i, j]))
    kept = np.ones(n, dtype=bool)
    if found:
        later, earlier, score = (np.concatenate(part) for part in zip(*found))
        order = np.argsort(later, kind="stable")
        later, earlier, score = later[order], earlier[order], score[order]
        rows, starts = np.unique(later, return_index=True)
        for row, neighbours, scores in zip(rows, np.split(earlier, starts[1:]), np.split(score, starts[1:])):
            alive = kept[neighbours]
            if alive.any():
                kept[row] = False
                best[row] = scores[alive].max()
    return kept, best


def _cells(vectors: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """(members, queries) per cell, both sorted row numbers: one cell of every row up to `_EXACT_UP_TO` rows,
    else k-means cells where each row is a member of its nearest cell and queries the nearest it probes."""
    n = len(vectors)
    everyone = np.arange(n)
    if n <= _EXACT_UP_TO:
        return [(everyone, everyone)]
    k = n // _ROWS_PER_CELL
    sample = np.random.default_rng(0).choice(n, size=min(n, 32 * k), replace=False)
    _, centroids = kmeans(vectors[sample], k, seed=0, iterations=10, restarts=1, spread_start=False)
    probed = min(k, max(_PROBES, k // _PROBED_SHARE))
    probes = nearest_centroids(vectors, centroids, probed)
    member_of = probes[:, 0]
    by_probe = np.argsort(probes.ravel(), kind="stable")
    probe_cells, probe_starts = np.unique(probes.ravel()[by_probe], return_index=True)
    query_lists = dict(zip(probe_cells, np.split(by_probe // probed, probe_starts[1:])))
    by_member = np.argsort(member_of, kind="stable")
    member_cells, member_starts = np.unique(member_of[by_member], return_index=True)
    # stable sorts keep row numbers increasing inside every list
    return [
        (members, query_lists[cell])
        for cell, members in zip(member_cells, np.split(by_member, member_starts[1:]))
    ]


def judge(frame: pl.DataFrame, config: Config, tools: Tools) -> Verdicts:
    """Rows must be novel against published data first, then against each other, by one rule for a pair: the same
    numbers (when number-aware), and a cosine above the threshold or word overlap above the band's floor."""
    vectors = frame["vector"].to_numpy()
    texts = frame[tools.text_column].fill_null("").to_list()
    numbers = number_codes(texts) if config.number_aware else None
    words = _WordSets(texts)
    score, old = _published_duplicates(vectors, numbers, words, config, tools.published, tools.text_column)
    fresh = np.flatnonzero(~old)
    lexical = None
    if config.word_overlap is not None:
        lexical = (config.word_overlap_floor, lambda rows, columns: np.array(
            [words.overlap(fresh[r], fresh[c]) > config.word_overlap for r, c in zip(rows, columns)], dtype=bool
        ))
    kept_fresh, within = greedy_novel(
        vectors[fresh], config.threshold, None if numbers is None else numbers[fresh], prompt_groups(frame)[fresh],
        lexical,
    )
    score[fresh] = np.maximum(score[fresh], within)
    reason = np.full(len(frame), None, dtype=object)
    reason[old] = [_reason(s, config, "a published row") for s in score[old]]
    reason[fresh[~kept_fresh]] = [_reason(s, config, "a row kept in this run") for s in within[~kept_fresh]]
    return Verdicts(reason.tolist(), score.tolist(), copies_of_published=int(old.sum()))


def recheck(frame: pl.DataFrame, published, config: Config, text_column: str) -> list[str | None]:
    """Per row, why it duplicates a row of `published` (a store, or the rows published since a version), or None:
    the rule `judge` applies to published rows, which a publish re-applies under its lock to the rows other runs
    published meanwhile (so maths variants they published stay apart from this run's, as in the run)."""
    texts = frame[text_column].fill_null("").to_list()
    numbers = number_codes(texts) if config.number_aware else None
    score, duplicate = _published_duplicates(
        frame["vector"].to_numpy(), numbers, _WordSets(texts), config, published, text_column
    )
    reason = np.full(len(frame), None, dtype=object)
    reason[duplicate] = [_reason(s, config, "a row published meanwhile") for s in score[duplicate]]
    return reason.tolist()


def _published_duplicates(vectors, numbers, words, config: Config, published, text_column: str):
    """Each row's highest cosine to a published row (a duplicate's: to that duplicate), and whether it has one.

    Only rows with a published row above the floor are looked at closer: their `_NEIGHBOURS` nearest published
    rows' texts are fetched for the numbers and words rule. A row whose nearest all passed the threshold without
    being a duplicate is asked again for 16 times as many above the threshold (up to `_MOST_NEIGHBOURS`): a
    template's many published variants, with other numbers, can outrank a copy with the row's own numbers.
    """
    nearest = published.nearest_published(vectors)
    score, duplicate = nearest.copy(), np.zeros(len(vectors), dtype=bool)
    above, limit = _floor(config), _NEIGHBOURS
    asking = np.flatnonzero(nearest > above)
    while len(asking):
        pairs = published.published_neighbours(vectors[asking], above, text_column, limit)
        rows, cosine = asking[pairs["query"].to_numpy()], pairs["cosine"].to_numpy()
        hits = _same_problem(rows, cosine, pairs[text_column].fill_null("").to_list(), numbers, words, config)
        found = np.unique(rows[hits])
        score[found] = 0.0
        np.maximum.at(score, rows[hits], cosine[hits])
        duplicate[found] = True
        if limit >= _MOST_NEIGHBOURS:
            break
        passed = np.bincount(rows[cosine > config.threshold], minlength=len(vectors))
        asking = asking[(passed[asking] >= limit) & ~duplicate[asking]]
        limit, above = limit * 16, config.threshold
    return score, duplicate


def _same_problem(rows, cosine, others: list[str], numbers, words, config: Config) -> np.ndarray:
    """Which (row, published text) pairs are duplicates: the same numbers, and a cosine above the threshold or
    word overlap above `word_overlap`."""
    same = numbers[rows] == number_codes(others) if numbers is not None else np.ones(len(rows), dtype=bool)
    close = cosine > config.threshold
    if config.word_overlap is not None:
        band = np.flatnonzero(same & ~close)
        close[band] = [jaccard(words[row], word_set(other)) > config.word_overlap
                       for row, other in zip(rows[band], np.array(others, dtype=object)[band])]
    return same & close


def _floor(config: Config) -> float:
    return config.threshold if config.word_overlap is None else min(config.threshold, config.word_overlap_floor)


def _reason(score: float, config: Config, other: str) -> str:
    same = " with the same numbers" if config.number_aware else ""
    if score > config.threshold:
        return f"cosine {score:.3f} > {config.threshold} to {other}{same}"
    return f"cosine {score:.3f} and word overlap > {config.word_overlap} to {other}{same}"


class _WordSets:
    """Rows' word sets, tokenised only for rows in a pair of the band."""

    def __init__(self, texts: list[str]) -> None:
        self.texts, self.sets = texts, {}

    def __getitem__(self, row: int) -> frozenset[str]:
        if row not in self.sets:
            self.sets[row] = word_set(self.texts[row])
        return self.sets[row]

    def overlap(self, a: int, b: int) -> float:
        return jaccard(self[a], self[b])


def prompt_groups(frame: pl.DataFrame) -> np.ndarray:
    """One code per row, shared by the samples of one prompt (`sample_of`), unique for a row of its own."""
    prompts = frame["sample_of"].fill_null(frame["id"]) if "sample_of" in frame.columns else frame["id"]
    return np.unique(prompts.to_numpy().astype(str), return_inverse=True)[1]
