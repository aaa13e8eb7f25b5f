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
    published = RougePool(tools.published.published_column(tools.text_column).drop_nulls().to_list())
    in_run = RougePool()
    texts = frame[tools.text_column].fill_null("").to_list()
    prompts = frame["sample_of"].fill_null(frame["id"]) if "sample_of" in frame.columns else frame["id"]
    reasons: list[str | None] = []
    scores: list[float] = []
    for text, prompt in zip(texts, prompts.to_list(), strict=True):
        old = published.max_similarity(text)
        if old > threshold:
            reasons.append(f"ROUGE-L {old:.3f} > {threshold} to a published row")
            scores.append(old)
            continue
        new = in_run.admit(text, threshold, group=prompt)
        reasons.append(f"ROUGE-L {new:.3f} > {threshold} to a row kept in this run" if new > threshold else None)
        scores.append(max(old, new))
    return Verdicts(reasons, scores)
