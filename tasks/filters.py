"""The embed step and one generic task for every filter step, run batch by batch: adding a filter never edits
the flow. Each filter gets its tools injected (teacher or judge, embedder, published rows, the run's sandbox) and
returns its spend with its result."""

from __future__ import annotations

import polars as pl
from prefect import get_run_logger, task
from pydantic import BaseModel

from synthfoundry.config import EmbeddingConfig
from synthfoundry.dataset import PublishedRows
from synthfoundry.embeddings import embed
from synthfoundry.filters import get_filter
from synthfoundry.filters.base import Tools, apply
from synthfoundry.sandbox import Sandbox
from synthfoundry.stages import StageResult, empty_ledger, with_spend
from synthfoundry.teachers.config import TeacherConfig
from tasks.crashes import checkpoint
from tasks.retries import transient
from tasks.teacher import asker, stage_budget


@task(retries=1, retry_condition_fn=transient)
def embed_rows(frame: pl.DataFrame, column: str, config: EmbeddingConfig) -> StageResult:
    """Each row's vector of `column`, computed once: filters compare on it and the store keeps it. A stage that
    drops nothing, so it is gathered and reported like the others."""
    vectors = embed(frame[column].to_list(), config.model_path, config.batch_size)
    embedded = frame.with_columns(pl.Series("vector", vectors, dtype=pl.Array(pl.Float32, vectors.shape[1])))
    checkpoint("embedding")
    return StageResult("embedding", embedded, empty_ledger())


@task(retries=1, retry_condition_fn=transient)
def run_filter(
    frame: pl.DataFrame,
    config: BaseModel,
    teacher_config: TeacherConfig,
    published: PublishedRows,
    embedding: EmbeddingConfig,
    text_column: str,
    seed: int,
    sandbox: Sandbox | None = None,
) -> StageResult:
    logger = get_run_logger()
    budget = stage_budget(teacher_config)
    tools = Tools(
        ask=asker(teacher_config, budget),
        embed=lambda texts: embed(texts, embedding.model_path, embedding.batch_size),
        published=published,
        text_column=text_column,
        log=logger.info,
        seed=seed,
        sandbox=sandbox,
    )
    result = with_spend(apply(get_filter(config.name), frame, config, tools), budget.spend())
    logger.info("%s: %d kept, %d dropped", config.name, result.kept.height, result.dropped.height)
    checkpoint(f"filter-{config.name}")
    return result
