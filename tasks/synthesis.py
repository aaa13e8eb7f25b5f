"""Query synthesis tasks."""

from __future__ import annotations

import random

from prefect import get_run_logger, task

from synthfoundry.config import SelfInstructConfig, TeacherConfig
from synthfoundry.recipes import self_instruct
from synthfoundry.stages import StageResult
from synthfoundry.teachers.base import complete_all
from tasks.teacher import teacher_from_config


@task(retries=2, retry_delay_seconds=10)
def synthesize_self_instruct(recipe: SelfInstructConfig, teacher_config: TeacherConfig, seed: int) -> StageResult:
    logger = get_run_logger()
    teacher = teacher_from_config(teacher_config)
    state = self_instruct.SelfInstruct(
        self_instruct.load_seed_tasks(recipe.seed_tasks),
        random.Random(seed),
        rouge_threshold=recipe.rouge_threshold,
        human_in_context=recipe.human_in_context,
        generated_in_context=recipe.generated_in_context,
    )

    def on_round(number: int, result: StageResult) -> None:
        logger.info(
            "self-instruct round %d: %d kept, %d dropped, %d/%d instructions",
            number, result.kept.height, result.dropped.height, len(state.generated), recipe.target_instructions,
        )

    return self_instruct.generate(
        state,
        lambda requests: complete_all(teacher, requests, teacher_config.max_in_flight).results,
        target=recipe.target_instructions,
        prompts_per_round=recipe.prompts_per_round,
        max_rounds=recipe.max_rounds,
        temperature=max(teacher_config.temperature, 0.7),
        max_tokens=teacher_config.max_tokens,
        on_round=on_round,
    )
