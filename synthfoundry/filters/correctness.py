"""Correctness: keep a row only if its response reaches the row's ground-truth answer, by the row's verifier."""

from __future__ import annotations

import polars as pl

from synthfoundry.stages import StageResult, split
from synthfoundry.verify import verify


def correctness_filter(frame: pl.DataFrame, stage: str = "correctness", min_score: float = 1.0) -> StageResult:
    """Score each row's `response` against its `answer` with its `verifier` (see `synthfoundry.verify`).

    Rows scoring below `min_score` go to the ledger with what was expected and what the response concluded;
    kept rows record their score. A recipe that verifies inside its own stage passes that stage's name.
    """
    reasons: list[str | None] = []
    scores: list[float] = []
    for row in frame.select("instruction", "response", "answer", "verifier", "metadata").iter_rows(named=True):
        if not (row["response"] or "").strip():
            reasons.append("no response to verify")
            scores.append(0.0)
            continue
        verdict = verify(row["response"], row)
        scores.append(verdict.score)
        if verdict.score >= min_score:
            reasons.append(None)
        elif verdict.extracted is None:
            reasons.append(f"no final answer found in the response (expected {row['answer']})")
        else:
            reasons.append(f"answer does not verify: expected {row['answer']}, got {verdict.extracted}")
    return split(frame, stage, pl.Series(reasons, dtype=pl.String), pl.Series(scores, dtype=pl.Float64))
