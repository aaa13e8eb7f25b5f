"""Filter tasks."""

from __future__ import annotations

import polars as pl
from prefect import task

from synthfoundry.config import DiversityConfig
from synthfoundry.embeddings import embed
from synthfoundry.filters.diversity import diversity_filter
from synthfoundry.stages import StageResult
from synthfoundry.store import DatasetStore


@task(retries=1)
def filter_diversity(
    frame: pl.DataFrame, config: DiversityConfig, store: DatasetStore, column: str = "instruction"
) -> StageResult:
    vectors = embed(frame[column].to_list(), config.model_path, config.batch_size)
    return diversity_filter(frame, vectors, config.threshold, store.nearest_published, column)
