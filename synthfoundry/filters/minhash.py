"""MinHash-LSH near-duplicates (datasketch), for long texts where embeddings blur (the `pretrain` kind: wrap,
cosmopedia): drop a row whose estimated Jaccard similarity of word n-gram shingles to a published row or to a row
kept earlier in the run is above the threshold.

Input columns: the recipe's text column; `sample_of` (samples of one prompt are never compared with each other).
Output column: `minhash`, the row's signature (uint32 values), published with the row so later runs build the LSH
of everything published from stored signatures instead of re-hashing the texts. Published signatures of another
`num_perm` are skipped; changing `ngram` makes old and new signatures compare different shingles.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import polars as pl
from pydantic import Field

from synthfoundry.filters.base import Tools, Verdicts
from synthfoundry.similarity.minhash import NearDuplicates, signatures
from synthfoundry.strict import Strict

NAME = "minhash"
COMPARES_ROWS = True
_EMPTY = np.iinfo(np.uint32).max  # every value of the empty set's signature


class Config(Strict):
    """Drop a row whose word-shingle Jaccard similarity to a published or earlier kept row is above `threshold`."""

    name: Literal["minhash"] = "minhash"
    threshold: float = Field(default=0.8, gt=0, lt=1, description="estimated Jaccard above which a row is dropped")
    ngram: int = Field(default=5, ge=1, le=20, description="words per shingle (5 for documents, 2-3 for short texts)")
    num_perm: int = Field(default=128, ge=16, le=1024, description="hash functions per signature (accuracy vs size)")


def judge(frame: pl.DataFrame, config: Config, tools: Tools) -> Verdicts:
    threshold = config.threshold
    hashed = signatures(frame[tools.text_column].fill_null("").to_list(), config.ngram, config.num_perm)
    published = _published_scores(hashed, config, tools.published, tools.log)
    in_run = NearDuplicates(threshold, config.num_perm)
    prompts = frame["sample_of"].fill_null(frame["id"]) if "sample_of" in frame.columns else frame["id"]
    reasons: list[str | None] = []
    scores: list[float] = []
    for signature, prompt, old in zip(hashed, prompts.to_list(), published, strict=True):
        if (signature == _EMPTY).all():  # no words: nothing to be a near-duplicate of
            reasons.append(None)
            scores.append(0.0)
            continue
        if old > threshold:
            reasons.append(_reason(old, threshold, "a published row"))
            scores.append(old)
            continue
        new = in_run.admit(signature, prompt)
        reasons.append(_reason(new, threshold, "a row kept in this run") if new > threshold else None)
        scores.append(max(old, new))
    column = pl.Series("minhash", hashed, dtype=pl.Array(pl.UInt32, config.num_perm)).cast(pl.List(pl.UInt32))
    copies = sum(old > threshold for old in published)
    return Verdicts(reasons, scores, columns={"minhash": column}, copies_of_published=copies)


def recheck(frame: pl.DataFrame, published, config: Config, text_column: str) -> list[str | None]:
    """Per row, why it copies a row of `published` by this filter's rule, or None (what a publish re-checks)."""
    hashed = signatures(frame[text_column].fill_null("").to_list(), config.ngram, config.num_perm)
    return [_reason(old, config.threshold, "a row published meanwhile") if old > config.threshold else None
            for old in _published_scores(hashed, config, published)]


def _published_scores(hashed: np.ndarray, config: Config, published, log=lambda message: None) -> list[float]:
    """Each signature's estimated Jaccard to the nearest published row's stored signature (0 for a row of no
    words: nothing to be a near-duplicate of)."""
    pool = NearDuplicates(config.threshold, config.num_perm)
    stored = published.published_column("minhash").cast(pl.List(pl.UInt32)).drop_nulls()
    for signature in stored.filter(stored.list.len() == config.num_perm).to_list():
        pool.add(np.asarray(signature, dtype=np.uint32))
    log(f"minhash: {len(pool)} published signatures of {config.num_perm} values reused")
    return [0.0 if (signature == _EMPTY).all() else pool.nearest(signature) for signature in hashed]


def _reason(score: float, threshold: float, what: str) -> str:
    return f"Jaccard ~{score:.2f} > {threshold} to {what}"
