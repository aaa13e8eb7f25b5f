"""Distillation tasks: the cost forecast before any request is sent, then one batch of candidates per task."""

from __future__ import annotations

from dataclasses import asdict

import polars as pl
from prefect import get_run_logger, task

from synthfoundry import distill
from synthfoundry.stages import StageResult, with_spend
from synthfoundry.teachers.config import TeacherConfig
from tasks.crashes import checkpoint
from tasks.retries import transient
from tasks.teacher import stage_budget, teacher_from_config


@task
def forecast_distillation(frame: pl.DataFrame, teacher_config: TeacherConfig) -> dict:
    """What answering `frame` will cost, from its prompt sizes and the expected answer length, minus cache hits."""
    teacher = teacher_from_config(teacher_config)
    requests = distill.answer_requests(
        distill.to_answer(frame, teacher_config.n),
        teacher_config.temperature,
        teacher_config.top_p,
        teacher_config.max_tokens,
    )
    forecast = teacher.forecast(requests, teacher_config.expected_output_tokens)
    cost = "unknown (no price for the model)" if forecast.usd is None else f"${forecast.usd:.4f}"
    budget = teacher_config.budget_usd
    get_run_logger().info(
        "distillation forecast: %d requests, %d answered by the cache, %s to send the rest (budget: %s)",
        forecast.requests, forecast.cached, cost, f"${budget}" if budget else "none",
    )
    if budget is not None and forecast.usd is not None and forecast.usd > budget:
        get_run_logger().warning("the forecast exceeds the budget: rows past it will go to the ledger unsent")
    return asdict(forecast)


@task(retries=2, retry_delay_seconds=10, retry_condition_fn=transient)
def distill_batch(batch: pl.DataFrame, teacher_config: TeacherConfig) -> StageResult:
    budget = stage_budget(teacher_config)
    result = distill.distill(
        batch,
        teacher_from_config(teacher_config, budget),
        temperature=teacher_config.temperature,
        top_p=teacher_config.top_p,
        max_tokens=teacher_config.max_tokens,
        max_in_flight=teacher_config.max_in_flight,
        drop_truncated=teacher_config.drop_truncated,
        n=teacher_config.n,
    )
    checkpoint("distillation")
    return with_spend(result, budget.spend())
