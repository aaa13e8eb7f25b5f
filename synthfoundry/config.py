"""Run configuration: one YAML file says what to make, from what, with which teacher, filters and contract.

Validation errors name the file, the field path and the problem, so a typo never starts a paid run.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class ConfigError(ValueError):
    """A run config that cannot be used; the message lists every problem with its location."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SelfInstructConfig(_Strict):
    """Self-Instruct (Wang et al. 2022) instruction bootstrapping from human seed tasks."""

    name: Literal["self_instruct"] = "self_instruct"
    seed_tasks: Path | None = Field(
        default=None, description="JSONL of seed tasks; default: the 175 human tasks shipped with the package"
    )
    target_instructions: int = Field(default=40, ge=1, description="stop once this many new instructions survive")
    prompts_per_round: int = Field(default=8, ge=1, description="generation prompts sent per round")
    max_rounds: int = Field(default=20, ge=1)
    human_in_context: int = Field(default=6, ge=1)
    generated_in_context: int = Field(default=2, ge=0)
    rouge_threshold: float = Field(default=0.7, gt=0, le=1, description="drop instructions with ROUGE-L above this")


class TeacherConfig(_Strict):
    """Who answers. Keys come from the environment (or a Prefect Secret block), never from this file."""

    provider: Literal["auto", "local", "openai", "anthropic"] = Field(
        default="auto", description="auto: openai or anthropic when their key is set, else the packaged local model"
    )
    model: str | None = Field(default=None, description="model name; default depends on the provider")
    base_url: str | None = Field(default=None, description="any OpenAI-compatible server (vLLM, Ollama, llama.cpp)")
    api_key_env: str | None = Field(default=None, description="environment variable holding the key")
    api_key_secret: str | None = Field(default=None, description="name of a Prefect Secret block holding the key")
    model_path: Path | None = Field(default=None, description="local GGUF file; default: packaged SmolLM2-135M")
    temperature: float = Field(default=0.7, ge=0, le=2)
    top_p: float = Field(default=1.0, gt=0, le=1)
    max_tokens: int = Field(default=256, ge=1)
    drop_truncated: bool = Field(default=True, description="ledger answers cut off at max_tokens")
    max_in_flight: int = Field(default=16, ge=1)
    timeout_s: float = Field(default=120, gt=0)
    max_retries: int = Field(default=4, ge=0)


class DiversityConfig(_Strict):
    """Drop a row whose embedding is too close to a kept row or to any published row."""

    threshold: float = Field(default=0.9, gt=0, le=1, description="cosine similarity above which a row is dropped")
    model_path: Path | None = Field(default=None, description="sentence-transformers model; default: packaged MiniLM")
    batch_size: int = Field(default=64, ge=1)


class FiltersConfig(_Strict):
    diversity: DiversityConfig = DiversityConfig()


class PublishConfig(_Strict):
    root: Path = Field(default=Path("synthfoundry-data"), description="where the LanceDB store and exports live")


_DATASET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class RunConfig(_Strict):
    dataset: str = Field(description="dataset name: letters, digits, _ and -")
    recipe: SelfInstructConfig
    teacher: TeacherConfig = TeacherConfig()
    filters: FiltersConfig = FiltersConfig()
    contract: str = Field(default="sft", description="suite name in data_contracts/ (without .yaml)")
    publish: PublishConfig = PublishConfig()
    seed: int | None = Field(default=None, description="sampling seed; default: fresh each run (recorded)")
    batch_size: int = Field(default=256, ge=1, description="rows per task")

    @field_validator("dataset")
    @classmethod
    def _dataset_name(cls, value: str) -> str:
        if not _DATASET_NAME.match(value):
            raise ValueError("must be 1-64 letters, digits, '_' or '-', starting with a letter or digit")
        return value


def _format(error: ValidationError, source: str) -> str:
    lines = [f"{source}: {error.error_count()} problem(s) in the run config"]
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(top level)"
        problem = item["msg"]
        if item["type"] == "extra_forbidden":
            problem = "unknown field (check the spelling; keys belong in the environment, not in the config)"
        lines.append(f"  - {where}: {problem}")
    return "\n".join(lines)


def parse_config(data: object, source: str = "<config>") -> RunConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        return RunConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(_format(error, source)) from None


def load_config(path: str | Path) -> RunConfig:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the run config ({error.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {getattr(error, 'problem', error)}") from None
    return parse_config(data, str(path))
