"""Tasks of the evaluate flow: retries where a retry can help (reading the store, a trainer run: it resumes from its
last checkpoint), progress artifacts for training steps and scored items, and the result as table and markdown
artifacts, recorded beside the evaluated versions (whose cards gain an "Extrinsic evaluation" section)."""

from __future__ import annotations

import base64
import re

import polars as pl
from prefect import get_run_logger, task
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import NONE

from synthfoundry.evaluation import results
from synthfoundry.evaluation.arms import Arm, resolve_arms
from synthfoundry.evaluation.config import EvalConfig, EvaluationConfig, TrainConfig
from synthfoundry.evaluation.scoring import score_items
from synthfoundry.evaluation.sets import build_set
from synthfoundry.evaluation.student import Student, cache_root, prepare_student
from synthfoundry.evaluation.training import TrainedArm, load_trained, train_arm
from tasks.monitor import artifact_key
from tasks.retries import transient


@task(retries=2, retry_delay_seconds=5, retry_condition_fn=transient, cache_policy=NONE)
def read_arms(config: EvaluationConfig) -> list[Arm]:
    arms = resolve_arms(config)
    get_run_logger().info("arms: %s", ", ".join(f"{a.name} = {a.label} ({a.kind or 'untrained'})" for a in arms))
    return arms


@task(cache_policy=NONE)
def load_student(config: EvaluationConfig) -> Student:
    return prepare_student(config.student.path, config.student.device, cache_root(config.cache_dir))


@task(cache_policy=NONE)
def heldout_set(name: str, arms: list[Arm], config: EvalConfig) -> tuple[pl.DataFrame, dict[str, int]]:
    items, overlap = build_set(name, arms, config.items, config.seed)
    get_run_logger().info("eval set %s: %d items; candidates dropped as contaminated per arm: %s",
                          name, items.height, overlap)
    return items, overlap


@task(retries=1, retry_condition_fn=transient, cache_policy=NONE, task_run_name="train-{arm.name}-seed-{config.seed}")
def train(arm: Arm, config: TrainConfig, student: Student, evaluation: EvaluationConfig) -> TrainedArm:
    """One arm's training; a retry (or a re-run of a cancelled evaluation) resumes from the last checkpoint."""
    progress = _progress(evaluation.dataset, f"train-{arm.name}", f"{arm.label}: training steps")
    trained = train_arm(arm, config, student, cache_root(evaluation.cache_dir), progress)
    get_run_logger().info("%s: %s", arm.label, trained.budget)
    return trained


@task(cache_policy=NONE, task_run_name="score-{arm}-{set_name}")
def score(arm: str, set_name: str, student: Student, weights: str | None, items: pl.DataFrame,
          config: EvalConfig, dataset: str) -> pl.DataFrame:
    model, tokenizer = load_trained(student, weights)
    progress = _progress(dataset, f"score-{arm}-{set_name}", f"{arm} on {set_name}: items scored")
    scores = score_items(model, tokenizer, items, config.max_new_tokens, config.batch_size, progress)
    get_run_logger().info("%s on %s: accuracy %.3f, held-out loss %.3f", arm, set_name, scores["score"].mean(),
                          scores["loss"].mean())
    return scores


@task(cache_policy=NONE)
def report(record: dict) -> None:
    """Table artifacts (per arm; paired differences) and a markdown artifact with the plot."""
    key = artifact_key(record["dataset"], "evaluation")
    create_table_artifact(key=key, table=results.table(record), description=f"{record['dataset']}: per arm and set")
    if record["differences"]:
        create_table_artifact(key=f"{key}-differences", table=results.difference_table(record),
                              description=f"{record['dataset']}: paired differences between arms")
    image = base64.b64encode(results.plot(record)).decode()
    create_markdown_artifact(key=f"{key}-report", description=f"{record['dataset']} evaluation {record['id']}",
                             markdown=f"{results.markdown(record, '#')}\n![metrics](data:image/png;base64,{image})\n")


@task(retries=2, retry_delay_seconds=5, retry_condition_fn=transient, cache_policy=NONE)
def record_result(record: dict, config: EvaluationConfig) -> list[str]:
    """The record under each evaluated dataset's `evaluations/`, and those versions' cards made again."""
    from synthfoundry.dataset import DatasetStore
    from tasks.publish import publish_card

    paths = []
    for dataset in sorted({arm["dataset"] for arm in record["arms"] if arm["dataset"]}):
        store = DatasetStore(config.publish.root, dataset)
        paths.append(store.record_evaluation(record))
        for arm in record["arms"]:
            if arm["dataset"] == dataset:
                try:
                    publish_card(store, store.version(arm["version"]))
                except Exception as error:  # the record is kept: `synthfoundry card` makes the card again
                    get_run_logger().warning("%s v%s: card not updated (%s)", dataset, arm["version"], error)
    get_run_logger().info("evaluation %s recorded: %s", record["id"], ", ".join(paths))
    return paths


def _progress(dataset: str, what: str, description: str):
    """A progress artifact and the (done, total) callback that moves it."""
    key = re.sub(r"[^a-z0-9-]", "-", artifact_key(dataset, what))  # arm names may hold @ and .
    artifact = create_progress_artifact(0.0, key=key, description=description)

    def update(done: int, total: int) -> None:
        update_progress_artifact(artifact, 100 * done / max(total, 1))

    return update
