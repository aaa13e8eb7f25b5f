"""Run configuration: one YAML file says what to make, from what, with which teacher, filters and contract.

Validation errors name the file, the field path and the problem, so a typo never starts a paid run.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import (
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_serializer,
    field_validator,
    model_validator,
)

from synthfoundry.dataset.storage import StorageOptions
from synthfoundry.errors import UserError
from synthfoundry.filters import FILTERS
from synthfoundry.inputs import load_yaml
from synthfoundry.recipes import RECIPES
from synthfoundry.rounds import TargetConfig
from synthfoundry.sandbox.core import SandboxConfig
from synthfoundry.strict import Strict
from synthfoundry.teachers.config import TeacherConfig


class ConfigError(UserError, ValueError):
    """A run config that cannot be used; the message lists every problem with its location."""


class EmbeddingConfig(Strict):
    """The embed step: one vector per row of the recipe's text column, computed once and reused by every filter
    and kept with the published rows (so later runs compare against them without re-embedding)."""

    model_path: Path | None = Field(default=None, description="sentence-transformers model; default: packaged MiniLM")
    batch_size: int = Field(default=64, ge=1)


class PublishConfig(Strict):
    root: str = Field(
        default="synthfoundry-data",
        description="where the LanceDB store and exports live: a folder or an object-store URL (s3://bucket/prefix)",
    )
    storage_options: StorageOptions = Field(
        default_factory=StorageOptions,
        description="an s3:// root's endpoint_url, region, key, secret, token, anon (unset: the AWS_* variables)",
    )

    @field_validator("root", mode="before")
    @classmethod
    def _unambiguous_root(cls, value: object) -> object:
        """'' would publish into whatever the current folder is and '~' into the home folder itself: refused;
        '~/data' means the home folder's `data`. Kept a string: a Path would turn s3://b/p into the folder s3:/b/p."""
        text = str(value).strip() if value is not None else ""
        if text in ("", "~", "."):
            raise ValueError(
                f"{text or 'an empty path'!r} is not a publish root: name a folder of its own, e.g. ~/synthfoundry-data"
            )
        return str(Path(text).expanduser()) if text.startswith("~") else text


class RunnerConfig(Strict):
    """Where the fanned-out stages (distillation, embedding, batch filters) run: the flow's threads, or a Dask
    cluster (a local one of `n_workers` processes, or the scheduler at `address`, whose workers may be other
    machines). Filters that compare rows take them all at once, so they run in the flow's process."""

    kind: Literal["local", "dask"] = Field(default="local", description="local: the flow's threads; dask: a cluster")
    address: str | None = Field(
        default=None, description="dask: scheduler address, e.g. tcp://10.0.0.5:8786; default: start a local cluster"
    )
    n_workers: int = Field(default=2, ge=1, description="dask: worker processes of the local cluster")


class FormChoice:
    """JSON schema of a union told apart by `name`, as Prefect's run form draws it: an `anyOf` (a `oneOf` is left a
    raw JSON editor) whose variants are titled by their name (the form labels each choice by its model's title,
    and every recipe and filter model is a class named Config)."""

    @staticmethod
    def __get_pydantic_json_schema__(core_schema, handler) -> dict:
        schema = handler(core_schema)
        variants = schema.pop("oneOf")
        for variant in variants:
            model = handler.resolve_ref_schema(variant)
            model["title"] = model["properties"]["name"]["const"]
        return {**schema, "anyOf": variants}


# One config model per recipe, and per filter, told apart by its `name` (and titled by it in the run form).
RecipeConfig = Annotated[
    Union[tuple(recipe.Config for recipe in RECIPES.values())],  # noqa: UP007 (built at run time)
    Field(discriminator="name", description="what makes the candidate rows"),
    FormChoice,
]
FilterConfig = Annotated[
    Union[tuple(step.Config for step in FILTERS.values())],  # noqa: UP007 (built at run time)
    Field(discriminator="name", description="a filter step"),
    FormChoice,
]

_FILTER_LIST = TypeAdapter(list[FilterConfig])

_DATASET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class RunConfig(Strict):
    dataset: str = Field(description="dataset name: letters, digits, _ and -")
    recipe: RecipeConfig
    teacher: TeacherConfig = TeacherConfig()
    filters: list[FilterConfig] | None = Field(
        default=None,
        description="filter steps, run in this order; default: the recipe's list (e.g. correctness, diversity); "
        "none: publish every row unfiltered (recorded on the card)",
    )
    embedding: EmbeddingConfig = EmbeddingConfig()
    contract: str | None = Field(
        default=None, description="suite name in data_contracts/ or a path; default: the recipe's kind (sft, ...)"
    )
    publish: PublishConfig = PublishConfig()
    seed: int | None = Field(
        default=None,
        description="sampling seed: each version draws its own reproducible stream from it and its number; "
        "default: fresh each run (recorded)",
    )
    batch_size: int = Field(default=256, ge=1, description="rows per task")
    runner: RunnerConfig = RunnerConfig()
    sandbox: SandboxConfig = Field(
        default_factory=SandboxConfig,
        description="where model-written code runs (code recipes, code_tests verifiers): isolation (auto: bwrap, "
        "else unshare; none: unsandboxed, only when written here), limits per program, programs at once",
    )
    target: TargetConfig | None = Field(
        default=None,
        description="make rows in rounds until this many pass every filter (exactly this many are published, or "
        "fewer with the reason); default: one round of the recipe as configured",
    )

    def seed_for(self, version: int) -> int | None:
        """The seed of the run that makes version `version`: new tasks for each version of a scheduled run, the
        same ones when the run making that version is retried."""
        if self.seed is None:
            return None
        digest = hashlib.sha256(f"{self.seed}:{version}".encode()).digest()
        return int.from_bytes(digest[:4], "big") >> 1

    @model_validator(mode="after")
    def _recipe_default_filters(self) -> RunConfig:
        """A config that names no filters gets its recipe's list, so every run is filtered the way its recipe needs
        (a recipe config whose output depends on its settings says so with a `filters` property)."""
        if self.filters is None:
            steps = getattr(self.recipe, "filters", None) or RECIPES[self.recipe.name].FILTERS
            object.__setattr__(self, "filters", _FILTER_LIST.validate_python([dict(step) for step in steps]))
        return self

    @field_validator("filters", mode="before")
    @classmethod
    def _skipping_is_spelled_out(cls, value: object, info: ValidationInfo) -> object:
        """`filters: []` reads like a slip (an emptied list), yet would skip every check, the injection screen
        included; skipping them all must be said: `filters: none` (kept as an empty list, dumped back as "none")."""
        if value == []:
            recipe = info.data.get("recipe")
            steps = getattr(recipe, "filters", None) or (RECIPES[recipe.name].FILTERS if recipe else ())
            skipped = ", ".join(step["name"] for step in steps) or "none"
            raise ValueError(
                f"an empty list would publish every row unchecked, skipping the recipe's default steps ({skipped}): "
                "leave filters out for those defaults, list the steps you want, or write `filters: none` to publish "
                "unfiltered rows on purpose (the dataset card records it)"
            )
        return [] if value == "none" else value

    @field_serializer("filters", mode="wrap")
    def _dump_none(self, value: list | None, handler) -> object:
        return "none" if value == [] else handler(value)

    @property
    def unfiltered(self) -> bool:
        """The run skips every filter step (`filters: none`)."""
        return self.filters == []

    @field_validator("filters")
    @classmethod
    def _filters_named_once(cls, value: list | None) -> list | None:
        names = [step.name for step in value or []]
        if not names:
            return value
        names = [step.name for step in value]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"lists {', '.join(twice)} more than once; give each filter one entry")
        return value

    @field_validator("filters")
    @classmethod
    def _inputs_come_first(cls, value: list | None) -> list | None:
        """A step that reads another step's scores must come after it."""
        names = [step.name for step in value or []]
        for index, name in enumerate(names):
            needs = getattr(FILTERS[name], "NEEDS", None)
            if needs and needs not in names[:index]:
                raise ValueError(
                    f"filters[{index}] ({name}) ranks rows by the {needs} step's score: list {needs} before it"
                )
        return value

    @model_validator(mode="after")
    def _pairs_need_samples(self) -> RunConfig:
        if any(step.name == "preference_pairs" for step in self.filters or ()) and self.teacher.n < 2:
            raise ValueError("preference_pairs pairs samples of one prompt: set teacher.n to 2 or more")
        return self

    @property
    def distills(self) -> bool:
        """Whether the teacher answers the rows still without a response (a recipe config whose output decides it
        says so with a `distill` property)."""
        return getattr(self.recipe, "distill", RECIPES[self.recipe.name].DISTILL)

    @property
    def runs_code(self) -> bool:
        """Whether the run executes model-written code: a recipe that tests its programs, or rows a `code_tests`
        verifier checks (a recipe config that sets the verifier, e.g. `load`)."""
        verifier = getattr(self.recipe, "verifier", None) or ""
        return getattr(RECIPES[self.recipe.name], "RUNS_CODE", False) or verifier.startswith("code_tests")

    @property
    def contract_suite(self) -> str:
        """The suite checked before publishing: the configured one, else `preference` for a run that makes
        preference pairs, else the recipe's kind (sft, chat, rlvr, pretrain)."""
        if self.contract:
            return self.contract
        if any(step.name == "preference_pairs" for step in self.filters or ()):
            return "preference"
        return getattr(self.recipe, "kind", RECIPES[self.recipe.name].KIND)

    @field_validator("dataset")
    @classmethod
    def _dataset_name(cls, value: str) -> str:
        if not _DATASET_NAME.match(value):
            raise ValueError("must be 1-64 letters, digits, '_' or '-', starting with a letter or digit")
        return value


def _format(error: ValidationError, source: str) -> str:
    lines = [f"{source}: {error.error_count()} problem(s) in the run config"]
    for item in error.errors():
        loc = list(item["loc"])
        if loc[:1] == ["recipe"] and len(loc) > 1 and loc[1] in RECIPES:
            del loc[1]  # pydantic inserts the union tag: recipe.self_instruct.x -> recipe.x
        if loc[:1] == ["filters"] and len(loc) > 2 and loc[2] in FILTERS:
            del loc[2]  # filters.1.quality_judge.min_score -> filters[1].min_score
        where = _where(loc)
        problem = item["msg"]
        if item["type"] == "extra_forbidden":
            problem = "unknown field (check the spelling; keys belong in the environment, not in the config)"
        elif item["type"] in ("union_tag_invalid", "union_tag_not_found") and loc[:1] == ["recipe"]:
            where = "recipe.name"
            problem = f"must name a recipe, one of: {', '.join(sorted(RECIPES))}"
        elif item["type"] in ("union_tag_invalid", "union_tag_not_found"):
            where = f"{where}.name"
            problem = f"must name a filter, one of: {', '.join(sorted(FILTERS))}"
        lines.append(f"  - {where}: {problem}")
    return "\n".join(lines)


def _where(loc: list) -> str:
    """pydantic's location as users write it: filters[1].min_score."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def parse_config(data: object, source: str = "<config>") -> RunConfig:
    if data is None:
        raise ConfigError(f"{source}: the run config is empty: write at least `dataset:` and `recipe:` "
                          "(deployments/configs/quickstart.yaml is a complete example)")
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        return RunConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(_format(error, source)) from None


def load_config(path: str | Path) -> RunConfig:
    return parse_config(load_yaml(path, "the run config", ConfigError), str(path))
