"""What a filter module provides. A filter judges a batch; the engine (`apply`) turns the verdicts into kept rows and
ledger rows with `stages.split`, so `rows in = rows kept + rows in the ledger` holds for every filter by construction.

A filter is a module with:
  NAME            what users write in `filters: [{name: ...}]`; the stage name in the ledger and `decisions`
  Config          its pydantic config, with `name: Literal[NAME]`; every threshold a field with a description
  COMPARES_ROWS   True when a row's verdict depends on the other rows of the run (diversity, clusters): the engine
                  then judges the run's rows in one call; otherwise batch by batch, in parallel
  NEEDS_ANSWERS   (optional) True when it reads each row's `answer` and `verifier`: refused on a recipe without them
  estimate(config, rows, row_tokens) -> Estimate
                  (filters that ask a teacher) at most what judging `rows` rows of `row_tokens` prompt tokens asks,
                  for the run's forecast before anything is sent
  judge(frame, config, tools) -> Verdicts
                  one drop reason (None = keep) and one score per row, in the frame's order; annotators
                  (clusters, tags) return no reasons and add `columns`; a filter that compares rows with published
                  rows counts the drops that copy one (`copies_of_published`: a run that made nothing new)
  recheck(frame, published, config, text_column) -> reasons
                  (optional; filters that compare rows with published rows) the reason a row copies one of
                  `published` by the filter's own rule, or None: a publish re-applies it under its lock to the
                  rows other runs published meanwhile

Everything a filter needs from outside (the teacher or a judge model, the embedder, what is already published, the
run's sandbox) arrives in `Tools`, built by the task layer, as a recipe gets `ask`: filters never open clients
themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np
import polars as pl
from pydantic import BaseModel

from synthfoundry.sandbox import Sandbox
from synthfoundry.stages import Log, StageResult, split
from synthfoundry.teachers.base import Ask
from synthfoundry.teachers.config import TeacherConfig


class Published(Protocol):
    """What is already published in the dataset, for filters that compare new rows with old ones."""

    def nearest_published(self, vectors: np.ndarray) -> np.ndarray:
        """Each vector's highest cosine similarity to any published row (0 when nothing is published)."""
        ...

    def published_neighbours(self, vectors: np.ndarray, above: float, column: str, limit: int = 16) -> pl.DataFrame:
        """Up to `limit` published rows per vector with cosine > `above`: columns query, cosine and `column`."""
        ...

    def published_column(self, name: str) -> pl.Series:
        """Every published row's value of a column, e.g. stored MinHash signatures (empty when none)."""
        ...



@dataclass(frozen=True)
class Tools:
    """Injected capabilities. `ask(teacher)` sends through the managed layer to that teacher (None: the run's
    teacher); `embed` returns unit-normalised float32 vectors; `text_column` is the column the recipe's rows are
    compared on ("instruction", or "response" for generated documents)."""

    ask: Callable[[TeacherConfig | None], Ask]
    embed: Callable[[list[str]], np.ndarray]
    published: Published
    text_column: str = "instruction"
    log: Log = lambda message: None
    seed: int = 0
    sandbox: Sandbox | None = None  # the run's, for verifiers that run code (None: the run runs none)


@dataclass(frozen=True)
class Verdicts:
    """Per row of the judged frame: a drop reason or None, a score or None; plus columns to add to every row."""

    reasons: Sequence[str | None]
    scores: Sequence[float | None] | None = None
    columns: dict[str, pl.Series] = field(default_factory=dict)
    copies_of_published: int = 0  # how many of the drops copy a published row


class Filter(Protocol):
    NAME: str
    COMPARES_ROWS: bool
    Config: type[BaseModel]

    def judge(self, frame: pl.DataFrame, config: BaseModel, tools: Tools) -> Verdicts: ...


def apply(step: Filter, frame: pl.DataFrame, config: BaseModel, tools: Tools) -> StageResult:
    """Run one filter over a batch: its verdicts become kept rows (with the score in `decisions`) and ledger rows."""
    verdicts = step.judge(frame, config, tools) if frame.height else Verdicts([])
    if len(verdicts.reasons) != frame.height:
        raise ValueError(f"filter {step.NAME} judged {len(verdicts.reasons)} of {frame.height} rows")
    annotated = frame.with_columns(
        [series.alias(name) for name, series in verdicts.columns.items()]
    ) if verdicts.columns else frame
    scores = None if verdicts.scores is None else pl.Series(list(verdicts.scores), dtype=pl.Float64)
    result = split(
        annotated, step.NAME, pl.Series(list(verdicts.reasons), dtype=pl.String), scores, tools.text_column
    )
    return replace(result, copies_of_published=verdicts.copies_of_published)
