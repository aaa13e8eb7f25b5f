"""Query synthesis task: runs the configured recipe against the teacher."""

from __future__ import annotations

import functools
import random

from pydantic import BaseModel
from prefect import get_run_logger, task

from synthfoundry.config import TeacherConfig
from synthfoundry.recipes import get_recipe
from synthfoundry.stages import StageResult
from synthfoundry.teachers.base import complete_all
from tasks.teacher import teacher_from_config


@task(retries=2, retry_delay_seconds=10)
def synthesize(recipe_config: BaseModel, teacher_config: TeacherConfig, seed: int) -> StageResult:
    logger = get_run_logger()
    recipe = get_recipe(recipe_config.name)
    # Built on the first request, so a recipe that never asks (procedural tasks) never builds a teacher.
    teacher = functools.cache(lambda: teacher_from_config(teacher_config))
    return recipe.synthesize(
        recipe_config,
        lambda requests: complete_all(teacher(), requests, teacher_config.max_in_flight).results,
        random.Random(seed),
        logger.info,
    )
