"""Procedural verifiable tasks for RLVR: (prompt, exact answer, verifier) from reasoning-gym's generators.

No teacher: programs write the prompts and know the answers. The RL trainer samples responses and scores them with
`synthfoundry.verify.verify`; every published row has passed that same check with the generator's own answer.
"""

from __future__ import annotations

import difflib
import json
import math
import random
from importlib.metadata import version
from typing import Annotated, Any, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from synthfoundry.recipes.base import Ask, Log
from synthfoundry.records import content_id, rows_frame, text_hash
from synthfoundry.spend import Estimate
from synthfoundry.stages import StageResult, combine, split
from synthfoundry.verify import REASONING_GYM, verify

NAME = "procedural"
VERSION = "1"
KIND = "rlvr"
DISTILL = False  # no responses: the RL trainer generates them
ANSWERS = True  # every row carries its answer and verifier
EMBED_COLUMN = "instruction"
# Default filter steps, in order. Variants differ in their numbers or a few words of one template: number-aware
# cosine tells them apart at 0.95; word overlap would not (they share the template's words).
FILTERS = ({"name": "decontamination"}, {"name": "diversity", "threshold": 0.95, "word_overlap": None})
REASONING_GYM_VERSION = version("reasoning-gym")


def _generators() -> dict[str, tuple[type, type]]:
    from reasoning_gym.factory import DATASETS  # imported on use: reasoning-gym takes about a second to import

    return DATASETS


class Config(BaseModel):
    """Procedural reasoning tasks with exact answers (reasoning-gym), deterministic by the run seed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Literal["procedural"] = "procedural"
    datasets: dict[str, Annotated[int, Field(ge=1)]] = Field(
        min_length=1,
        description="reasoning-gym dataset -> number of tasks, e.g. {basic_arithmetic: 50, gsm_symbolic: 20}",
    )
    options: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="generator settings per dataset, e.g. {basic_arithmetic: {min_terms: 2, max_terms: 4}}",
    )

    @field_validator("datasets")
    @classmethod
    def _known_datasets(cls, value: dict[str, int]) -> dict[str, int]:
        known = _generators()
        problems = []
        for name in value:
            if name not in known:
                close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
                hint = f"did you mean {', '.join(close)}?" if close else f"none of the {len(known)} is close"
                problems.append(f"unknown reasoning-gym dataset {name!r} ({hint})")
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @field_validator("options")
    @classmethod
    def _valid_options(cls, value: dict[str, dict[str, Any]], info: ValidationInfo) -> dict[str, dict[str, Any]]:
        """Build each configured generator once, so a bad setting fails at config time with the generator's reason."""
        import reasoning_gym

        if "datasets" not in info.data:
            return value  # the datasets themselves are wrong: that error is reported already
        datasets = info.data["datasets"]
        for name, options in value.items():
            if name not in datasets:
                raise ValueError(f"{name!r} is not one of the configured datasets ({', '.join(datasets)})")
            try:
                reasoning_gym.create_dataset(name, size=1, seed=0, **options)
            except (TypeError, ValueError, AssertionError) as error:
                raise ValueError(f"{name}: reasoning-gym rejects them: {error}") from None
        return value


def dataset_seed(run_seed: int, dataset: str) -> int:
    """Each dataset's generator seed depends only on the run seed and its name, not on the other datasets."""
    return int(content_id(run_seed, dataset)[:8], 16)


def generator_hash(dataset: str, options: dict[str, Any]) -> str:
    """The prompts are the generator's: its name, settings and reasoning-gym's version stand for the template."""
    return text_hash(json.dumps({"reasoning_gym": REASONING_GYM_VERSION, "dataset": dataset, "options": options},
                                sort_keys=True))


def tasks(dataset: str, count: int, seed: int, options: dict[str, Any], seen: set[str]) -> StageResult:
    """`count` tasks from one generator; tasks with no exact answer, repeated prompts, or an answer the verifier
    does not accept after serialisation go to the ledger. `seen` holds prompts already kept in this run."""
    import reasoning_gym

    template_hash = generator_hash(dataset, options)
    rows, reasons, scores = [], [], []
    for index, item in enumerate(reasoning_gym.create_dataset(dataset, size=count, seed=seed, **options)):
        answer = None if item["answer"] is None else str(item["answer"])
        row = {
            "id": content_id(NAME, VERSION, template_hash, item["question"], answer),
            "recipe": NAME,
            "recipe_version": VERSION,
            "template_hash": template_hash,
            "seed_ids": [f"{dataset}:{seed}:{index}"],
            "instruction": item["question"],
            "input": "",
            "answer": answer,
            "verifier": REASONING_GYM + dataset,
            "metadata": json.dumps(item["metadata"], default=str),
        }
        rows.append(row)
        score = None
        if answer is None or not answer.strip():
            reason = "the generator gives no exact answer for this task"
        elif item["question"] in seen:
            reason = "duplicate prompt"
        else:
            score = verify(answer, row).score
            reason = None if score == 1.0 else f"the verifier scores the generator's own answer {score:.2f}, not 1"
        if reason is None:
            seen.add(item["question"])
        reasons.append(reason)
        scores.append(score)
    frame = rows_frame(rows)
    return split(frame, "synthesis", pl.Series(reasons, dtype=pl.String), pl.Series(scores, dtype=pl.Float64))


def estimate(config: Config) -> Estimate:
    """Generated locally: no request, the configured number of tasks."""
    return Estimate(rows=sum(config.datasets.values()))


def resized(config: Config, rows: int) -> Config:
    """This config for about `rows` tasks, shared among the datasets as configured (generators never run out)."""
    total = sum(config.datasets.values())
    counts = {name: max(1, math.ceil(count * rows / total)) for name, count in config.datasets.items()}
    return config.model_copy(update={"datasets": counts})


def synthesize(config: Config, ask: Ask, rng: random.Random, log: Log) -> StageResult:
    """Never calls `ask`: no teacher is built for this recipe."""
    run_seed = rng.randrange(2**31)
    seen: set[str] = set()
    results = []
    for dataset, count in config.datasets.items():
        result = tasks(dataset, count, dataset_seed(run_seed, dataset), config.options.get(dataset, {}), seen)
        log(f"procedural {dataset}: {result.counts['kept']} kept, {result.counts['dropped']} dropped")
        results.append(result)
    return combine(results)
