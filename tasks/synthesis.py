"""Query synthesis task: runs the configured recipe against the teacher, and returns what its requests cost."""

from __future__ import annotations

import random

from prefect import get_run_logger, task
from pydantic import BaseModel

from synthfoundry.recipes import code_tools, get_recipe
from synthfoundry.sandbox import Sandbox
from synthfoundry.stages import StageResult, with_spend
from synthfoundry.teachers.config import TeacherConfig
from tasks.crashes import checkpoint
from tasks.monitor import AskProgress
from tasks.retries import transient
from tasks.teacher import asker, stage_budget


@task(retries=2, retry_delay_seconds=10, retry_condition_fn=transient)
def synthesize(recipe_config: BaseModel, teacher_config: TeacherConfig, seed: int, dataset: str,
               sandbox: Sandbox | None = None) -> StageResult:
    """The recipe's rows; its progress (requests answered of the forecast's at most) is the dataset's
    `synthesis-progress` artifact. `sandbox`: the run's, given to a recipe that tests the programs it makes
    (RUNS_CODE)."""
    budget = stage_budget(teacher_config)
    recipe = get_recipe(recipe_config.name)
    tools = code_tools(recipe, sandbox)
    progress = AskProgress(dataset, "synthesis", recipe.estimate(recipe_config, **tools).requests, budget.spend)
    # The teacher is built on the first request, so a recipe that never asks (procedural tasks) never builds one.
    ask = progress.counting(asker(teacher_config, budget)(None))
    result = recipe.synthesize(recipe_config, ask, random.Random(seed), get_run_logger().info, **tools)
    progress.done()
    checkpoint("synthesis")
    return with_spend(result, budget.spend())
