"""The evaluation config: which versions to compare, which student to train on each, how, and on what to test them.

A config with only `dataset`, `publish`, `arms`, `train.max_steps` and `eval.items` runs on defaults:

    dataset: procedural
    publish: {root: synthfoundry-data}
    arms: [v3, stable]            # versions or tags of `dataset`; `other@v2` names another dataset in the same store
    train: {max_steps: 40}
    eval: {items: 50}
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, ValidationError, field_validator, model_validator

from synthfoundry.config import PublishConfig, _where
from synthfoundry.errors import UserError
from synthfoundry.inputs import load_yaml
from synthfoundry.strict import Strict

_ARM = re.compile(r"^(?:(?P<dataset>[A-Za-z0-9][A-Za-z0-9_-]{0,63})@)?(?P<ref>[A-Za-z0-9][A-Za-z0-9._-]{0,99})$")


class EvaluationConfigError(UserError, ValueError):
    """An evaluation config that cannot be used; the message lists every problem with its location."""


class StudentConfig(Strict):
    """The model trained on each arm. Default: the shipped SmolLM2-135M-Instruct GGUF, dequantised to real weights."""

    path: str | None = Field(
        default=None,
        description="a local Hugging Face model folder, a .gguf file, or a hub id (where the network allows); "
        "default: the packaged SmolLM2-135M-Instruct GGUF",
    )
    device: str = Field(default="auto", description="auto (CUDA when present, else CPU), cpu or cuda[:N]")


class TrainConfig(Strict):
    """One budget for every arm: the same seed, steps, batch and length caps (fair by construction)."""

    max_steps: int = Field(default=40, ge=1, description="optimizer steps per arm")
    learning_rate: float = Field(default=2e-4, gt=0)
    batch_size: int = Field(default=4, ge=1, description="rows per step (GRPO: completions per step)")
    max_length: int = Field(default=256, ge=16, description="tokens per training sequence (prompt + answer)")
    lora_rank: int = Field(default=16, ge=0, description="LoRA rank through peft; 0 trains every weight")
    lora_alpha: int = Field(default=32, ge=1)
    seed: int = Field(default=0, description="the same for every arm: data order, LoRA init, sampling")
    beta: float = Field(default=0.1, gt=0, description="DPO: strength of the pull towards the untrained student")
    num_generations: int = Field(default=4, ge=2, description="GRPO: completions sampled per prompt")
    max_completion_length: int = Field(default=64, ge=1, description="GRPO: tokens per sampled completion")
    checkpoint_every: int = Field(default=10, ge=1, description="steps between trainer checkpoints (resume point)")
    repeat_seeds: list[int] = Field(
        default_factory=list,
        description="seed variance: every arm trained again with each of these seeds, the spread reported",
    )

    @model_validator(mode="after")
    def _whole_groups(self) -> TrainConfig:
        if self.batch_size % self.num_generations:
            raise ValueError(
                f"batch_size {self.batch_size} must be a multiple of num_generations {self.num_generations} "
                "(GRPO scores each prompt's completions as one group)"
            )
        return self


class EvalConfig(Strict):
    sets: list[str] | None = Field(
        default=None,
        description="held-out sets (see synthfoundry.evaluation.sets.EVAL_SETS); default: the dataset's own kind "
        "(procedural: fresh tasks from its generators; maths: GSM8K test)",
    )
    items: int = Field(default=50, ge=1, description="items per set")
    max_new_tokens: int = Field(default=64, ge=1, description="tokens generated per item for accuracy")
    batch_size: int = Field(default=8, ge=1, description="items scored at once")
    seed: int = Field(default=0, description="held-out generator seeds are derived from it (and never used in training)")
    resamples: int = Field(default=2000, ge=100, description="bootstrap resamples for the intervals")
    confidence: float = Field(default=0.95, gt=0.5, lt=1)


class PromoteConfig(Strict):
    """How much worse than the current `stable` a version may be and still be promoted."""

    margin: float = Field(default=0.02, ge=0, description="accuracy: at most this much lower per set")
    loss_margin: float = Field(default=0.05, ge=0, description="held-out loss: at most this much higher per set")


class EvaluationConfig(Strict):
    dataset: str = Field(description="the dataset whose versions are compared")
    publish: PublishConfig = PublishConfig()
    arms: list[str] = Field(min_length=1, description="versions or tags: v3, stable, latest, other@v2")
    base: bool = Field(default=True, description="also evaluate the untrained student")
    student: StudentConfig = StudentConfig()
    train: TrainConfig = TrainConfig()
    eval: EvalConfig = EvalConfig()
    promote: PromoteConfig = PromoteConfig()
    cache_dir: Path | None = Field(
        default=None,
        description="student weights, adapters and trainer checkpoints (never the dataset store); "
        "default: $SYNTHFOUNDRY_CACHE, else ~/.cache/synthfoundry",
    )

    @field_validator("arms")
    @classmethod
    def _arm_names(cls, value: list[str]) -> list[str]:
        bad = [arm for arm in value if not _ARM.match(arm) or arm == "base"]
        if bad:
            raise ValueError(
                f"{', '.join(map(repr, bad))}: an arm is a version or tag (v3, stable) or DATASET@REF (other@v2); "
                "the untrained student is `base: true`"
            )
        if len(set(value)) < len(value):
            raise ValueError("lists an arm twice")
        return value


def split_arm(arm: str, dataset: str) -> tuple[str, str]:
    """`other@v2` -> (other, v2); `v3` -> (dataset, v3)."""
    match = _ARM.match(arm)
    return match["dataset"] or dataset, match["ref"]


def parse_evaluation_config(data: object, source: str = "<evaluation config>") -> EvaluationConfig:
    if not isinstance(data, dict):
        raise EvaluationConfigError(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        return EvaluationConfig.model_validate(data)
    except ValidationError as error:
        lines = [f"{source}: {error.error_count()} problem(s) in the evaluation config"]
        for item in error.errors():
            problem = "unknown field (check the spelling)" if item["type"] == "extra_forbidden" else item["msg"]
            lines.append(f"  - {_where(list(item['loc']))}: {problem}")
        raise EvaluationConfigError("\n".join(lines)) from None


def load_evaluation_config(path: str | Path) -> EvaluationConfig:
    return parse_evaluation_config(load_yaml(path, "the evaluation config", EvaluationConfigError), str(path))


def evaluation_config(config: EvaluationConfig | dict | None, config_path: str | None) -> EvaluationConfig:
    """The flow's config: given as a value (the run form) or read from a file on the worker."""
    if (config is None) == (config_path is None):
        raise EvaluationConfigError("give the evaluation config either as `config` or as `config_path`, not both")
    if config_path is not None:
        return load_evaluation_config(config_path)
    return config if isinstance(config, EvaluationConfig) else parse_evaluation_config(config, "config")
