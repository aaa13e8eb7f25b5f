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
    published = NearDuplicates(threshold, config.num_perm)
    stored = tools.published.published_column("minhash").cast(pl.List(pl.UInt32)).drop_nulls()
    for signature in stored.filter(stored.list.len() == config.num_perm).to_list():
        published.add(np.asarray(signature, dtype=np.uint32))
    tools.log(f"minhash: {len(published)} published signatures of {config.num_perm} values reused")
    in_run = NearDuplicates(threshold, config.num_perm)
    prompts = frame["sample_of"].fill_null(frame["id"]) if "sample_of" in frame.columns else frame["id"]
    reasons: list[str | None] = []
    scores: list[float] = []
    for signature, prompt in zip(hashed, prompts.to_list(), strict=True):
        if (signature == _EMPTY).all():  # no words: nothing to be a near-duplicate of
            reasons.append(None)
            scores.append(0.0)
            continue
        old = published.nearest(signature)
        if old > threshold:
            reasons.append(f"Jaccard ~{old:.2f} > {threshold} to a published row")
            scores.append(old)
            continue
        new = in_run.admit(signature, prompt)
        reasons.append(f"Jaccard ~{new:.2f} > {threshold} to a row kept in this run" if new > threshold else None)
        scores.append(max(old, new))
    column = pl.Series("minhash", hashed, dtype=pl.Array(pl.UInt32, config.num_perm)).cast(pl.List(pl.UInt32))
    return Verdicts(reasons, scores, columns={"minhash": column})
