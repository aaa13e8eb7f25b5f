"""Preference pairs: per prompt, the best-judged sample is `chosen` and the worst is `rejected` (the
UltraFeedback-binarised shape), for DPO-style training.

Needs n >= 2 samples per prompt (rows sharing `sample_of`, from `teacher.n`) and a quality_judge step before it:
the score is the judge's entry in `decisions`. Keeps one row per prompt, whose `response` is the chosen sample,
with `rejected`, `chosen_score`, `rejected_score` and `margin` added; every other sample goes to the ledger saying
which pair it served. The score is the pair's margin on the kept row (in `decisions`) and the sample's own judge
score in the ledger.
"""

from __future__ import annotations

from typing import Literal

import polars as pl
from pydantic import Field

from synthfoundry.filters import quality_judge
from synthfoundry.filters.base import Tools, Verdicts
from synthfoundry.strict import Strict

NAME = "preference_pairs"
COMPARES_ROWS = True
NEEDS = quality_judge.NAME  # the stage whose score ranks the samples; the run config checks it comes first


class Config(Strict):
    """Pair each prompt's best and worst judged samples as chosen and rejected."""

    name: Literal["preference_pairs"] = "preference_pairs"
    min_margin: float = Field(
        default=1.0, gt=0, description="the chosen sample's judge score must beat the rejected one's by at least this"
    )


def judge(frame: pl.DataFrame, config: Config, tools: Tools) -> Verdicts:
    ranked = frame.select(
        pl.col("id"),
        pl.col("response"),
        pl.coalesce("sample_of", "id").alias("prompt"),
        pl.col("decisions").list.eval(
            pl.element().filter(pl.element().struct.field("stage") == NEEDS).struct.field("score")
        ).list.last().alias("score"),
    ).with_row_index("order")
    reasons: list[str | None] = [None] * frame.height
    rejected: list[str | None] = [None] * frame.height
    chosen_score, rejected_score, margin = ([None] * frame.height for _ in range(3))
    for (_prompt,), samples in ranked.group_by("prompt", maintain_order=True):
        judged = samples.filter(pl.col("score").is_not_null()).sort("score", "order", descending=[True, False])
        unjudged = samples.filter(pl.col("score").is_null())["order"].to_list()
        for i in unjudged:
            reasons[i] = f"no {NEEDS} score to rank this sample by"
        if judged.height < 2:
            for i in judged["order"]:
                reasons[i] = f"fewer than 2 judged samples of this prompt ({judged.height})"
            continue
        best, worst = judged.row(0, named=True), judged.row(-1, named=True)
        gap = best["score"] - worst["score"]
        if gap < config.min_margin:
            for i in judged["order"]:
                reasons[i] = f"margin {gap:g} < min_margin {config.min_margin:g} between the best and worst samples"
            continue
        for i in judged["order"][1:]:
            reasons[i] = f"not chosen (pair {best['id']})"
        reasons[worst["order"]] = f"used as the rejected side of pair {best['id']}"
        i = best["order"]
        rejected[i], chosen_score[i], rejected_score[i], margin[i] = worst["response"], best["score"], worst["score"], gap
    columns = {
        "rejected": pl.Series(rejected, dtype=pl.String),
        "chosen_score": pl.Series(chosen_score, dtype=pl.Float64),
        "rejected_score": pl.Series(rejected_score, dtype=pl.Float64),
        "margin": pl.Series(margin, dtype=pl.Float64),
    }
    scores = [m if m is not None else s for m, s in zip(margin, ranked["score"])]
    return Verdicts(reasons, scores, columns)
