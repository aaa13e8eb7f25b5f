"""Stage results and the rejection ledger: every row a stage receives is either kept or dropped with a reason.

Building both sides from one boolean mask makes `rows in = rows kept + rows in the ledger` true by construction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import polars as pl

from synthfoundry.records import with_decision
from synthfoundry.spend import Spend

Log = Callable[[str], None]  # how a stage reports progress (the task layer passes its logger)

LEDGER_SCHEMA = {"id": pl.String, "stage": pl.String, "reason": pl.String, "score": pl.Float64, "text": pl.String}


def empty_ledger() -> pl.DataFrame:
    return pl.DataFrame(schema=LEDGER_SCHEMA)


@dataclass(frozen=True)
class StageResult:
    stage: str
    kept: pl.DataFrame
    dropped: pl.DataFrame  # LEDGER_SCHEMA
    spend: Spend = field(default_factory=Spend)  # what this stage's teacher requests cost
    copies_of_published: int = 0  # dropped rows that copy a published row (filters/base.py)

    @property
    def counts(self) -> dict[str, int]:
        return {"in": self.kept.height + self.dropped.height, "kept": self.kept.height, "dropped": self.dropped.height}


def split(
    frame: pl.DataFrame,
    stage: str,
    reason: pl.Series,
    score: pl.Series | None = None,
    text_column: str = "instruction",
) -> StageResult:
    """Keep rows whose `reason` is null; the others go to the ledger with their reason and score.

    Kept rows record the score in their `decisions` trail when a score is given.
    """
    scores = score if score is not None else pl.Series(values=[None] * frame.height, dtype=pl.Float64)
    tagged = frame.with_columns(
        reason.alias("_reason").cast(pl.String), scores.alias("_score").cast(pl.Float64)
    )
    dropped = tagged.filter(pl.col("_reason").is_not_null()).select(
        pl.col("id"),
        pl.lit(stage).alias("stage"),
        pl.col("_reason").alias("reason"),
        pl.col("_score").alias("score"),
        pl.col(text_column).cast(pl.String).alias("text"),
    )
    kept = tagged.filter(pl.col("_reason").is_null()).drop("_reason")
    if score is not None:
        kept = with_decision(kept, stage, kept["_score"])
    return StageResult(stage, kept.drop("_score"), dropped)


def combine(results: list[StageResult]) -> StageResult:
    """Merge the per-batch results of one stage."""
    stage = results[0].stage
    # a batch with nothing kept adds no rows (and may lack the columns a later step adds to the others)
    kept = pl.concat([r.kept for r in results if r.kept.height] or [results[0].kept], how="vertical_relaxed")
    spend = sum((r.spend for r in results), Spend())
    copies = sum(r.copies_of_published for r in results)
    return StageResult(stage, kept, pl.concat([r.dropped for r in results]), spend, copies)


def with_spend(result: StageResult, spend: Spend) -> StageResult:
    return replace(result, spend=result.spend + spend)
