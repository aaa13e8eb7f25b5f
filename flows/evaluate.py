"""Data -> Model -> Eval, once per arm: the versions' rows -> a student trained on each (same seed, same budget)
-> the same held-out, decontaminated items scored by the project's verifiers -> intervals and paired differences,
recorded beside the versions and shown on their cards.

Run it: `synthfoundry evaluate deployments/configs/evaluate/procedural.yaml`, or `python -m flows.evaluate CONFIG`.
"""

from __future__ import annotations

import sys

from prefect import flow
from prefect.states import State

from flows.ephemeral import ephemeral_api
from synthfoundry.errors import SynthfoundryError
from synthfoundry.evaluation.config import EvaluationConfig, evaluation_config
from synthfoundry.evaluation.results import summarise
from synthfoundry.evaluation.sets import default_sets
from tasks.evaluation import heldout_set, load_student, read_arms, record_result, report, score, train
from tasks.failures import failed
from tasks.runs import show_project_logs


@flow(name="evaluate-dataset")
def evaluate_dataset(config: EvaluationConfig | None = None, config_path: str | None = None) -> dict | State:
    """Train the student on each arm and compare the arms on held-out tasks; returns the evaluation record."""
    show_project_logs()
    try:
        return evaluate(evaluation_config(config, config_path))
    except SynthfoundryError as error:
        return failed(error)


def evaluate(config: EvaluationConfig) -> dict:
    arms = read_arms(config)
    student = load_student(config)
    sets = {name: heldout_set(name, arms, config.eval) for name in config.eval.sets or default_sets(arms)}
    scores, budgets = {}, {}
    for seed in [config.train.seed, *config.train.repeat_seeds]:
        budget = config.train.model_copy(update={"seed": seed})
        for arm in arms:
            if arm.version is None and seed != config.train.seed:
                continue  # the untrained student does not depend on the training seed
            trained = train(arm, budget, student, config) if arm.version is not None else None
            if trained and seed == config.train.seed:
                budgets[arm.name] = trained.budget
            for name, (items, _) in sets.items():
                scores[(arm.name, name, seed)] = score(arm.name, name, student, trained and trained.weights, items,
                                                       config.eval, config.dataset)
    held_out = {name: {"items": items.height, "overlap": overlap} for name, (items, overlap) in sets.items()}
    record = summarise(config, arms, held_out, scores, budgets, {"source": student.source, "device": student.device})
    report(record)
    record_result(record, config)
    return record


if __name__ == "__main__":
    with ephemeral_api():
        evaluate_dataset(config_path=sys.argv[1])
