"""Distillation task: one batch of candidates answered by the teacher."""

from __future__ import annotations

import polars as pl
from prefect import task

from synthfoundry import distill
from synthfoundry.config import TeacherConfig
from synthfoundry.stages import StageResult
from tasks.teacher import teacher_from_config


@task(retries=2, retry_delay_seconds=10)
def distill_batch(batch: pl.DataFrame, teacher_config: TeacherConfig) -> StageResult:
    return distill.distill(
        batch,
        teacher_from_config(teacher_config),
        temperature=teacher_config.temperature,
        top_p=teacher_config.top_p,
        max_tokens=teacher_config.max_tokens,
        max_in_flight=teacher_config.max_in_flight,
        drop_truncated=teacher_config.drop_truncated,
    )
