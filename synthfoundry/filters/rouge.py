"""ROUGE-L novelty, as in Self-Instruct (Wang et al. 2022) but for any recipe: drop a row whose ROUGE-L F1 to a
published row or to a row kept earlier in the run is above the threshold.

Input columns: the recipe's text column; `sample_of` (samples of one prompt are never compared with each other).
Scores are rouge-score's LCS F1 exactly (see `synthfoundry.similarity.rouge` for why it is fast).
"""

from __future__ import annotations

from typing import Literal

import polars as pl
from pydantic import Field

from synthfoundry.filters.base import Tools, Verdicts
from synthfoundry.similarity.rouge import RougePool
from synthfoundry.strict import Strict

NAME = "rouge"
COMPARES_ROWS = True


class Config(Strict):
    """Drop a row whose ROUGE-L F1 to a published row or an earlier kept row is above `threshold`."""

    name: Literal["rouge"] = "rouge"
    threshold: float = Field(default=0.7, gt=0, le=1, description="ROUGE-L F1 above which a row is dropped")


def judge(frame: pl.DataFrame, config: Config, tools: Tools) -> Verdicts:
    threshold = config.threshold
    texts = frame[tools.text_column].fill_null("").to_list()
    published = _published_scores(texts, tools.published, tools.text_column)
    in_run = RougePool()
    prompts = frame["sample_of"].fill_null(frame["id"]) if "sample_of" in frame.columns else frame["id"]
    reasons: list[str | None] = []
    scores: list[float] = []
    for text, prompt, old in zip(texts, prompts.to_list(), published, strict=True):
        if old > threshold:
            reasons.append(_reason(old, threshold, "a published row"))
            scores.append(old)
            continue
        new = in_run.admit(text, threshold, group=prompt)
        reasons.append(_reason(new, threshold, "a row kept in this run") if new > threshold else None)
        scores.append(max(old, new))
    return Verdicts(reasons, scores, copies_of_published=sum(old > threshold for old in published))


def recheck(frame: pl.DataFrame, published, config: Config, text_column: str) -> list[str | None]:
    """Per row, why it copies a row of `published` by this filter's rule, or None (what a publish re-checks)."""
    scores = _published_scores(frame[text_column].fill_null("").to_list(), published, text_column)
    return [_reason(old, config.threshold, "a row published meanwhile") if old > config.threshold else None
            for old in scores]


def _published_scores(texts: list[str], published, text_column: str) -> list[float]:
    """Each text's highest ROUGE-L F1 to a published row's text."""
    pool = RougePool(published.published_column(text_column).drop_nulls().to_list())
    return [pool.max_similarity(text) for text in texts]


def _reason(score: float, threshold: float, what: str) -> str:
    return f"ROUGE-L {score:.3f} > {threshold} to {what}"
